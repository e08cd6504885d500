import Foundation
import Testing
import TandemProtocols
import TandemWire

/// Keeps Protocols/<Service>.md true: every documented message has an example that round-trips,
/// its encoding carries exactly the documented keys with the documented CBOR types, and every
/// documented method matches its descriptor.
@Suite("Protocol documents")
struct MessageDocumentTests {
    let documents: [ServiceDocument]
    let examples: [String: MessageExample]

    init() throws {
        documents = try Examples.methodsByDocument.keys.sorted().map { try ServiceDocument(file: $0) }
        examples = Dictionary(uniqueKeysWithValues: try Examples.all().map { ($0.name, $0) })
    }

    var documentedMessages: [String: [ServiceDocument.Field]] {
        documents.reduce(into: [:]) { result, document in result.merge(document.messages) { a, _ in a } }
    }

    @Test func everyDocumentedMessageHasAnExampleAndViceVersa() {
        #expect(Set(documentedMessages.keys) == Set(examples.keys))
        #expect(!documentedMessages.isEmpty)
    }

    @Test func everyExampleRoundTrips() throws {
        for example in examples.values {
            #expect(try example.roundTrips(), "\(example.name)")
        }
    }

    @Test func encodingsCarryExactlyTheDocumentedKeysAndTypes() throws {
        let messages = documentedMessages
        for (name, fields) in messages {
            guard let example = examples[name] else { continue }
            let full = try CBORValue(decoding: example.full)
            let minimal = try CBORValue(decoding: example.minimal)
            // Every field present in the full example; only the required ones in the minimal one.
            check(full, as: name, fields: fields, expectedKeys: Set(fields.map(\.key)), messages: messages)
            check(minimal, as: name, fields: fields, expectedKeys: Set(fields.filter(\.required).map(\.key)), messages: messages)
        }
    }

    @Test func keysAreUniqueAndPositiveInEveryTable() {
        for (name, fields) in documentedMessages {
            #expect(Set(fields.map(\.key)).count == fields.count, "\(name) repeats a key")
            #expect(Set(fields.map(\.name)).count == fields.count, "\(name) repeats a name")
            #expect(fields.allSatisfy { $0.key > 0 }, "\(name)")
        }
    }

    @Test func methodTablesMatchTheDescriptors() {
        for document in documents {
            let descriptors = Examples.methodsByDocument[document.file] ?? []
            let expected = Set(descriptors.map {
                ServiceDocument.Method(
                    fullName: $0.fullName, shape: shapeName($0.kind), request: $0.inputType,
                    response: $0.outputType, idempotent: $0.isIdempotent
                )
            })
            #expect(Set(document.methods) == expected, "\(document.file)")
        }
    }

    private func shapeName(_ kind: CallKind) -> String {
        switch kind {
        case .unary: return "unary"
        case .serverStreaming: return "server streaming"
        case .clientStreaming: return "client streaming"
        case .bidirectionalStreaming: return "bidirectional streaming"
        }
    }

    private func check(
        _ value: CBORValue, as message: String, fields: [ServiceDocument.Field], expectedKeys: Set<Int>,
        messages: [String: [ServiceDocument.Field]]
    ) {
        guard case .map(let entries) = value else {
            Issue.record("\(message) is not encoded as a map: \(value)")
            return
        }
        let keys = entries.compactMap { $0.key.intValue.map(Int.init) }
        #expect(keys.count == entries.count, "\(message) has a non-integer key: \(value)")
        #expect(Set(keys) == expectedKeys, "\(message): encoded keys \(keys.sorted()) ≠ documented \(expectedKeys.sorted())")
        for entry in entries {
            guard let key = entry.key.intValue, let field = fields.first(where: { $0.key == Int(key) }) else { continue }
            checkType(entry.value, field.type, "\(message).\(field.name)", messages: messages)
        }
    }

    private func checkType(_ value: CBORValue, _ type: String, _ path: String, messages: [String: [ServiceDocument.Field]]) {
        if type.hasPrefix("array of ") {
            guard case .array(let items) = value else {
                Issue.record("\(path): expected an array, found \(value)")
                return
            }
            for (index, item) in items.enumerated() {
                checkType(item, String(type.dropFirst("array of ".count)), "\(path)[\(index)]", messages: messages)
            }
            return
        }
        let matches: Bool
        switch (type, value) {
        case ("text", .text), ("uint", .unsigned), ("int", .unsigned), ("int", .negative), ("bool", .bool),
             ("bytes", .bytes), ("float", .float), ("float", .unsigned), ("float", .negative):
            matches = true
        case ("uuid (tag 37)", .tagged(37, .bytes(let bytes))):
            matches = bytes.count == 16
        case ("date (tag 1)", .tagged(1, let seconds)):
            if case .text = seconds { matches = false } else { matches = true }
        case (_, .map):
            if let fields = messages[type] {
                check(value, as: type, fields: fields, expectedKeys: Set((value.mapKeys)), messages: messages)
                matches = true
            } else {
                matches = false
            }
        default:
            matches = false
        }
        #expect(matches, "\(path): documented as \(type), encoded as \(value)")
    }
}

extension CBORValue {
    /// The integer keys of a map.
    var mapKeys: [Int] {
        guard case .map(let entries) = self else { return [] }
        return entries.compactMap { $0.key.intValue.map(Int.init) }
    }
}
