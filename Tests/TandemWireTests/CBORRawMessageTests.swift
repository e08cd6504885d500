import Foundation
import Testing
import TandemWire

@Suite("CBOR raw messages (passed on unread)")
struct CBORRawMessageTests {
    struct Sample: Codable, Equatable {
        var name: String
        var when: Date
        var tags: [String]
    }

    @Test("a message's bytes go through unchanged and still decode as the message")
    func passesThrough() throws {
        let sample = Sample(name: "Ada", when: Date(timeIntervalSince1970: 1_800_000_000), tags: ["x", "y"])
        let bytes = try CBOREncoder().encodeBytes(sample)
        let raw = try CBORDecoder().decode(CBORRawMessage.self, from: bytes)
        #expect(raw.bytes == bytes)
        #expect(try CBOREncoder().encodeBytes(raw) == bytes)
        #expect(try CBORDecoder().decode(Sample.self, from: try CBOREncoder().encodeBytes(raw)) == sample)
    }

    @Test("what is not one well-formed item is refused: truncated, trailing bytes, too deep, empty")
    func checked() throws {
        let bytes = try CBOREncoder().encodeBytes(["a": [1, 2, 3]])
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(CBORRawMessage.self, from: Array(bytes.dropLast())) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(CBORRawMessage.self, from: bytes + [0x00]) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(CBORRawMessage.self, from: [UInt8]()) }
        var decoder = CBORDecoder()
        decoder.maxDepth = 2
        let deep = try CBOREncoder().encodeBytes([[[[1]]]])
        #expect(throws: DecodingError.self) { try decoder.decode(CBORRawMessage.self, from: deep) }
    }

    @Test("it is a whole message, never a field")
    func notAField() throws {
        struct Holder: Codable { var inner: CBORRawMessage }
        #expect(throws: EncodingError.self) { try CBOREncoder().encodeBytes(Holder(inner: CBORRawMessage(bytes: [0xA0]))) }
        #expect(throws: DecodingError.self) { try CBORDecoder().decode(Holder.self, from: [0xA1, 0x65, 0x69, 0x6E, 0x6E, 0x65, 0x72, 0xA0]) }
    }
}
