/// A whole message kept as its CBOR bytes, for code that passes messages on without reading them
/// (the gateway forwarding a call). Decoding one only checks that the bytes are exactly one
/// well-formed CBOR item within the depth limit; encoding one writes the bytes as they are. It is
/// a message of its own, never a field of another: nested use is an error.
public struct CBORRawMessage: Codable, Sendable, Hashable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) {
        self.bytes = bytes
    }

    public init(from decoder: any Decoder) throws {
        throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "CBORRawMessage is a whole message, not a field"))
    }

    public func encode(to encoder: any Encoder) throws {
        throw EncodingError.invalidValue(self, .init(codingPath: encoder.codingPath, debugDescription: "CBORRawMessage is a whole message, not a field"))
    }
}
