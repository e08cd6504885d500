import Foundation
import Testing
@testable import TandemWire
import TandemRandom

@Suite("CBOR decoding of untrusted input")
struct CBORLimitsTests {
    struct Node: Codable { var child: [Node] }

    @Test func nestingDeeperThanTheLimitIsRejected() throws {
        let deep = [UInt8](repeating: 0x81, count: 100) + [0x80]
        #expect(throws: CBORFormatError.self) { try CBORValue(decoding: deep) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(CBORValue.self, from: deep) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([[[[Int]]]].self, from: deep) }
        // An unknown field holding deep nesting is rejected too, not just ignored.
        let hidden = [0xA1, 0x61, 0x78] + deep
        struct Nothing: Codable {}
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(Nothing.self, from: hidden) }
        // Deep tag chains count as nesting.
        let tags = [UInt8](repeating: 0xC1, count: 200) + [0x00]
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(CBORValue.self, from: tags) }
        // The limit is configurable.
        var decoder = CBORDecoder()
        decoder.maxDepth = 200
        _ = try decoder.decode(CBORValue.self, from: deep)
    }

    @Test func claimedCountsAndLengthsMustFitTheInput() {
        // An array claiming 2^32 items, a string claiming 4 GiB: rejected without allocating.
        let hugeArray: [UInt8] = [0x9B, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01]
        let hugeString: [UInt8] = [0x7A, 0xFF, 0xFF, 0xFF, 0xFF, 0x61]
        let hugeMap: [UInt8] = [0xBA, 0x7F, 0xFF, 0xFF, 0xFF, 0x01, 0x02]
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([Int].self, from: hugeArray) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(String.self, from: hugeString) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([String: Int].self, from: hugeMap) }
        #expect(throws: CBORFormatError.self) { try CBORValue(decoding: hugeArray) }
    }

    @Test func textMustBeValidUTF8() {
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(String.self, from: [0x62, 0xC3, 0x28]) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(String.self, from: [0x61, 0xFF]) }
        #expect(throws: CBORFormatError.self) { try CBORValue(decoding: [0x63, 0xED, 0xA0, 0x80]) }
    }

    @Test func duplicateKeysAreRejected() throws {
        struct A: Codable { var a: Int }
        let dup: [UInt8] = [0xA2, 0x61, 0x61, 0x01, 0x61, 0x61, 0x02]
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(A.self, from: dup) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([String: Int].self, from: dup) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([Int: Int].self, from: [0xA2, 0x01, 0x01, 0x01, 0x02]) }
        // Large maps use a different check; it catches duplicates too.
        var entries = (0..<100).map { CBORValue.MapEntry(.text("k\($0)"), .unsigned(UInt64($0))) }
        entries.append(.init(.text("k7"), .unsigned(0)))
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([String: Int].self, from: CBORValue.map(entries).encoded) }
    }

    @Test func trailingBytesAreRejected() {
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(Int.self, from: [0x01, 0x02]) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode([String: Int].self, from: [0xA0, 0x00]) }
        #expect(throws: CBORFormatError.self) { try CBORValue(decoding: [0x80, 0x80]) }
    }

    @Test func errorsNameTheCodingPath() throws {
        struct Inner: Codable { var level: Int }
        struct Outer: Codable { var items: [Inner] }
        let bad = CBORValue.textMap(["items": .array([.textMap(["level": .unsigned(1)]), .textMap(["level": .text("high")])])]).encoded
        do {
            _ = try CBORDecoder().decode(Outer.self, from: bad)
            Issue.record("expected a type mismatch")
        } catch let DecodingError.typeMismatch(_, context) {
            #expect(context.codingPath.map(\.stringValue) == ["items", "Index 1", "level"])
        }
        let missing = CBORValue.textMap(["items": .array([.textMap([:])])]).encoded
        do {
            _ = try CBORDecoder().decode(Outer.self, from: missing)
            Issue.record("expected a missing key")
        } catch let DecodingError.keyNotFound(key, context) {
            #expect(key.stringValue == "level")
            #expect(context.codingPath.map(\.stringValue) == ["items", "Index 0"])
        }
        let null = CBORValue.textMap(["items": .null]).encoded
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(Outer.self, from: null) }
    }

    @Test func randomBytesNeverCrash() {
        var generator = SplitMix64(seed: 42)
        for _ in 0..<20_000 {
            let first: UInt64 = generator.next()
            let count = Int(first % 64)
            var input: [UInt8] = []
            for _ in 0..<count {
                let word: UInt64 = generator.next()
                input.append(UInt8(truncatingIfNeeded: word))
            }
            _ = try? CBORValue(decoding: input)
            _ = try? CBORDecoder().decode(CBORValue.self, from: input)
            _ = try? CBORDecoder().decode([String: [Int]].self, from: input)
        }
    }
}

