import Foundation

/// The repository's `Protocols/` folder, found from this file's path.
let protocolsDirectory: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Protocols")

/// A service document (`Protocols/<Service>.md`) parsed into its method and message tables.
struct ServiceDocument {
    struct Method: Hashable {
        var fullName: String
        var shape: String
        var request: String
        var response: String
        var idempotent: Bool
    }

    struct Field: Hashable {
        var key: Int
        var name: String
        var type: String
        var required: Bool
    }

    var file: String
    var methods: [Method] = []
    var messages: [String: [Field]] = [:]

    init(file: String) throws {
        self.file = file
        let text = try String(contentsOf: protocolsDirectory.appendingPathComponent(file), encoding: .utf8)
        var section = ""
        var message: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("## ") {
                section = String(line.dropFirst(3))
                message = nil
                continue
            }
            if line.hasPrefix("### ") {
                message = String(line.dropFirst(4)).trimmingCharacters(in: .whitespaces)
                messages[message!] = []
                continue
            }
            guard line.hasPrefix("|"), !line.hasPrefix("|---") else { continue }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false)
                .dropFirst().dropLast().map { $0.trimmingCharacters(in: .whitespaces) }
            if section == "Methods", cells.count == 6, cells[0] != "Method" {
                methods.append(Method(
                    fullName: cells[0].replacingOccurrences(of: "`", with: ""), shape: cells[1],
                    request: cells[2], response: cells[3], idempotent: cells[4] == "yes"
                ))
            } else if let message, cells.count == 5, let key = Int(cells[0]) {
                messages[message]!.append(Field(key: key, name: cells[1], type: cells[2], required: cells[3] == "required"))
            }
        }
    }
}
