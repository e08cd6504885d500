import Foundation
import Testing

/// The part of YAML that `Compose/compose.yaml` is written in: block mappings and block lists
/// by indentation (spaces only), plain, single- and double-quoted scalars, flow lists of scalars
/// (`["CMD", "curl"]`), the empty mapping `{}`, and `#` comments. Anything else (anchors,
/// aliases, tags, multi-line scalars, tabs, flow mappings with content) is an error, so the
/// compose file cannot silently drift outside what this test understands. (No PyYAML needed.)
indirect enum YAMLValue: Equatable, CustomStringConvertible {
    case scalar(String)
    case list([YAMLValue])
    case map([(String, YAMLValue)])

    static func == (a: YAMLValue, b: YAMLValue) -> Bool { a.description == b.description }

    var description: String {
        switch self {
        case .scalar(let text): return text.debugDescription
        case .list(let items): return "[" + items.map(\.description).joined(separator: ", ") + "]"
        case .map(let pairs): return "{" + pairs.map { "\($0.0): \($0.1)" }.joined(separator: ", ") + "}"
        }
    }

    subscript(key: String) -> YAMLValue? {
        guard case .map(let pairs) = self else { return nil }
        return pairs.first { $0.0 == key }?.1
    }

    var string: String? { if case .scalar(let text) = self { text } else { nil } }
    var keys: [String] { if case .map(let pairs) = self { pairs.map(\.0) } else { [] } }
    var strings: [String] {
        if case .list(let items) = self { return items.compactMap(\.string) }
        return []
    }
}

struct YAMLSubsetError: Error, CustomStringConvertible {
    var description: String
}

enum YAMLSubset {
    struct Line {
        var number: Int
        var indent: Int
        var text: String
    }

    static func parse(_ source: String) throws -> YAMLValue {
        var lines: [Line] = []
        for (index, raw) in source.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            if raw.contains("\t") { throw YAMLSubsetError(description: "line \(index + 1): tabs are not allowed") }
            let text = stripComment(String(raw))
            if text.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            let indent = text.prefix { $0 == " " }.count
            lines.append(Line(number: index + 1, indent: indent, text: String(text.dropFirst(indent)).trimmingCharacters(in: .whitespaces)))
        }
        var position = 0
        let value = try block(&position, lines, indent: 0)
        guard position == lines.count else { throw YAMLSubsetError(description: "line \(lines[position].number): unexpected indentation") }
        return value
    }

    /// Drops a comment: `#` at the start or after a space, outside quotes.
    static func stripComment(_ line: String) -> String {
        var quote: Character?
        var previous: Character = " "
        for (offset, character) in line.enumerated() {
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == "#" && previous == " " {
                return String(line.prefix(offset))
            }
            previous = character
        }
        return line
    }

    static func block(_ position: inout Int, _ lines: [Line], indent: Int) throws -> YAMLValue {
        guard position < lines.count else { throw YAMLSubsetError(description: "unexpected end of file") }
        if lines[position].text.hasPrefix("- ") || lines[position].text == "-" {
            var items: [YAMLValue] = []
            while position < lines.count, lines[position].indent == indent, lines[position].text.hasPrefix("- ") {
                let line = lines[position]
                let content = String(line.text.dropFirst(2)).trimmingCharacters(in: .whitespaces)
                if content.contains(": ") && !content.hasPrefix("\"") && !content.hasPrefix("'") {
                    throw YAMLSubsetError(description: "line \(line.number): mappings inside lists are outside the subset")
                }
                items.append(try scalarOrFlow(content, line: line.number))
                position += 1
            }
            return .list(items)
        }
        var pairs: [(String, YAMLValue)] = []
        while position < lines.count, lines[position].indent == indent {
            let line = lines[position]
            guard let colon = keyColon(line.text) else { throw YAMLSubsetError(description: "line \(line.number): expected 'key: value', got '\(line.text)'") }
            let key = unquote(String(line.text[..<colon]).trimmingCharacters(in: .whitespaces))
            guard !pairs.contains(where: { $0.0 == key }) else { throw YAMLSubsetError(description: "line \(line.number): duplicate key '\(key)'") }
            let rest = String(line.text[line.text.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
            position += 1
            if rest.isEmpty {
                guard position < lines.count, lines[position].indent > indent else {
                    throw YAMLSubsetError(description: "line \(line.number): '\(key):' has no value")
                }
                pairs.append((key, try block(&position, lines, indent: lines[position].indent)))
            } else {
                pairs.append((key, try scalarOrFlow(rest, line: line.number)))
            }
        }
        if position < lines.count, lines[position].indent > indent {
            throw YAMLSubsetError(description: "line \(lines[position].number): unexpected indentation")
        }
        return .map(pairs)
    }

    static func keyColon(_ text: String) -> String.Index? {
        var quote: Character?
        for index in text.indices {
            let character = text[index]
            if let open = quote {
                if character == open { quote = nil }
            } else if character == "\"" || character == "'" {
                quote = character
            } else if character == ":" {
                let next = text.index(after: index)
                if next == text.endIndex || text[next] == " " { return index }
            }
        }
        return nil
    }

    static func scalarOrFlow(_ text: String, line: Int) throws -> YAMLValue {
        if let first = text.first, "&*!|>%@`".contains(first) {
            throw YAMLSubsetError(description: "line \(line): '\(first)' (anchors, aliases, tags, block scalars) is outside the subset")
        }
        if text == "{}" { return .map([]) }
        if text.hasPrefix("{") { throw YAMLSubsetError(description: "line \(line): flow mappings are outside the subset") }
        if text.hasPrefix("[") {
            guard text.hasSuffix("]") else { throw YAMLSubsetError(description: "line \(line): unterminated flow list") }
            let inner = text.dropFirst().dropLast()
            var items: [YAMLValue] = []
            var current = ""
            var quote: Character?
            for character in inner {
                if let open = quote {
                    current.append(character)
                    if character == open { quote = nil }
                } else if character == "\"" || character == "'" {
                    quote = character
                    current.append(character)
                } else if character == "," {
                    items.append(.scalar(unquote(current.trimmingCharacters(in: .whitespaces))))
                    current = ""
                } else {
                    current.append(character)
                }
            }
            if !current.trimmingCharacters(in: .whitespaces).isEmpty { items.append(.scalar(unquote(current.trimmingCharacters(in: .whitespaces)))) }
            return .list(items)
        }
        if (text.hasPrefix("\"") && !text.hasSuffix("\"")) || (text.hasPrefix("'") && !text.hasSuffix("'")) || text.count == 1 && "\"'".contains(text) {
            throw YAMLSubsetError(description: "line \(line): unterminated quoted string")
        }
        return .scalar(unquote(text))
    }

    static func unquote(_ text: String) -> String {
        if text.count >= 2, text.hasPrefix("\""), text.hasSuffix("\"") {
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "\\\"", with: "\"").replacingOccurrences(of: "\\\\", with: "\\")
        }
        if text.count >= 2, text.hasPrefix("'"), text.hasSuffix("'") {
            return String(text.dropFirst().dropLast()).replacingOccurrences(of: "''", with: "'")
        }
        return text
    }
}

/// The repository's root, found from this file's path.
let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

@Suite("Compose file")
struct ComposeFileTests {
    let root = repositoryRoot

    func read(_ path: String) throws -> String {
        try String(contentsOf: root.appending(path: path), encoding: .utf8)
    }

    /// The services that run an executable of this repository, by name.
    var platformServices: [String] {
        var names = ["identity", "matching", "scheduling", "gateway"]
        if FileManager.default.fileExists(atPath: root.appending(path: "Sources/tandem-feedback").path) { names.insert("feedback", at: 3) }
        return names
    }

    /// Every `TANDEM_*` name the sources of an executable and the shared service kit mention
    /// (ServiceOptions names each variable in its help, e.g. `[env: TANDEM_HOST]`).
    func environmentNames(read executable: String) throws -> Set<String> {
        var names: Set<String> = []
        let pattern = try NSRegularExpression(pattern: "TANDEM_[A-Z0-9_]+")
        for directory in ["Sources/\(executable)", "Sources/TandemServiceKit"] {
            let url = root.appending(path: directory)
            guard let files = FileManager.default.enumerator(at: url, includingPropertiesForKeys: nil) else { continue }
            for case let file as URL in files where file.pathExtension == "swift" {
                let text = try String(contentsOf: file, encoding: .utf8)
                for match in pattern.matches(in: text, range: NSRange(text.startIndex..., in: text)) {
                    names.insert(String(text[Range(match.range, in: text)!]))
                }
            }
        }
        return names
    }

    @Test("the YAML subset parser reads what it should and refuses the rest")
    func parserSubset() throws {
        let value = try YAMLSubset.parse("""
            # comment
            a: 1
            b:
              c: "x # not a comment"   # a comment
              d: ["CMD", 'e', f]
              e:
                - "g:h"
                - i
              f: {}
            """)
        #expect(value["a"]?.string == "1")
        #expect(value["b"]?["c"]?.string == "x # not a comment")
        #expect(value["b"]?["d"]?.strings == ["CMD", "e", "f"])
        #expect(value["b"]?["e"]?.strings == ["g:h", "i"])
        #expect(value["b"]?["f"] == .map([]))
        for bad in ["a: &x 1", "a: *x", "a: |\n  text", "a:\n\tb: 1", "a: 1\na: 2", "a: {b: 1}", "a:\n  - b: 1"] {
            #expect(throws: YAMLSubsetError.self, "\(bad)") { try YAMLSubset.parse(bad) }
        }
    }

    @Test("compose.yaml: every service, its volume, health check, restart policy and configuration")
    func composeFile() throws {
        let compose = try YAMLSubset.parse(try read("Compose/compose.yaml"))
        #expect(Set(compose.keys).isSubset(of: ["name", "services", "volumes", "networks"]))
        let services = try #require(compose["services"])
        let volumes = Set(try #require(compose["volumes"]).keys)

        // The one-shot certificate job.
        let certs = try #require(services["certs"])
        #expect(certs["entrypoint"]?.strings.contains { $0.hasSuffix("issue-certs.sh") } == true)
        #expect(certs["restart"]?.string == "no")
        #expect(certs["volumes"]?.strings.contains("certs:/certs") == true)
        let build = try #require(certs["build"])
        let context = root.appending(path: "Compose").appending(path: try #require(build["context"]?.string)).standardized
        #expect(context.path == root.standardized.path)
        #expect(FileManager.default.fileExists(atPath: context.appending(path: try #require(build["dockerfile"]?.string)).path))

        for name in platformServices {
            let service = try #require(services[name], "service \(name)")
            let executable = "tandem-\(name)"
            #expect(service["command"]?.strings.first == executable)
            #expect(FileManager.default.fileExists(atPath: root.appending(path: "Sources/\(executable)").path), "\(executable) exists")
            #expect(["unless-stopped", "always", "on-failure"].contains(service["restart"]?.string ?? ""), "\(name) has a restart policy")
            let environment = try #require(service["environment"])
            let adminPort = try #require(environment["TANDEM_ADMIN_PORT"]?.string)
            let check = service["healthcheck"]?["test"]?.strings ?? []
            #expect(check.first == "CMD" && check.contains { $0.contains(":\(adminPort)/readyz") }, "\(name) health check asks its admin port's /readyz")
            #expect(environment["TANDEM_CERTIFICATE"]?.string == "/certs/\(name).pem")
            #expect(environment["TANDEM_KEY"]?.string == "/certs/\(name)-key.pem")
            let mounts = service["volumes"]?.strings ?? []
            #expect(mounts.contains("\(name)-data:/data"), "\(name) has its own data volume")
            #expect(volumes.contains("\(name)-data"), "\(name)-data is declared")
            #expect(mounts.contains("certs:/certs:ro"))
            if name != "gateway" { #expect(environment["TANDEM_DATA_DIR"]?.string == "/data") }
            #expect(service["depends_on"]?["certs"]?["condition"]?.string == "service_completed_successfully" || name == "identity")
        }
        #expect(services["gateway"]?["ports"]?.strings.contains("7100:7100") == true, "the gateway's port is published")

        // Every environment variable is one the executable reads; every dependency exists.
        for serviceName in services.keys {
            let service = try #require(services[serviceName])
            let executable = service["command"]?.strings.first ?? (serviceName == "identity-bootstrap" ? "tandem-identity" : "tandem")
            let known = try environmentNames(read: executable)
            for variable in service["environment"]?.keys ?? [] {
                #expect(known.contains(variable), "\(serviceName): \(variable) is not read by \(executable)")
            }
            for dependency in service["depends_on"]?.keys ?? [] {
                #expect(services[dependency] != nil, "\(serviceName) depends on \(dependency), which is not a service")
            }
            for mount in service["volumes"]?.strings ?? [] {
                let source = String(mount.split(separator: ":")[0])
                #expect(volumes.contains(source), "\(serviceName) mounts \(source), which is not a declared volume")
            }
            for path in (service["entrypoint"]?.strings ?? []) where path.hasPrefix("/usr/local/share/tandem/") {
                let file = "Compose/" + path.dropFirst("/usr/local/share/tandem/".count)
                #expect(FileManager.default.fileExists(atPath: root.appending(path: file).path), "\(file) exists")
                #expect(try read("Compose/Dockerfile").contains(file), "the Dockerfile copies \(file)")
            }
        }
    }

    @Test("Dockerfile: a Swift 6 build stage with libssl-dev and zlib1g-dev, a slim runtime as a non-root user")
    func dockerfile() throws {
        let text = try read("Compose/Dockerfile")
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let stages = lines.filter { $0.hasPrefix("FROM ") }
        #expect(stages.count >= 2)
        #expect(stages.first?.contains("swift:6") == true)
        #expect(text.contains("libssl-dev") && text.contains("zlib1g-dev"))
        let runtime = text.components(separatedBy: stages.last!).last ?? ""
        let user = runtime.split(separator: "\n").last { $0.hasPrefix("USER ") }
        #expect(user != nil && user != "USER root" && user != "USER 0", "the runtime stage runs as a non-root user")
        #expect(!runtime.contains("swift build"))
        // Every file COPY takes from the build context exists.
        for line in lines where line.hasPrefix("COPY ") && !line.contains("--from=") {
            let parts = line.split(separator: " ").dropFirst().filter { !$0.hasPrefix("--") }
            for source in parts.dropLast() {
                #expect(FileManager.default.fileExists(atPath: root.appending(path: String(source)).path), "COPY source \(source) exists")
            }
        }
        // The executables built are the package's.
        let package = try read("Package.swift")
        for product in ["tandem", "tandem-identity", "tandem-matching", "tandem-scheduling", "tandem-gateway"] {
            #expect(text.contains(product) && package.contains("name: \"\(product)\""), "\(product) is built")
        }
    }
}
