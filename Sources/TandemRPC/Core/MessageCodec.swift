import NIOCore
import TandemWire

/// Encodes messages into MESSAGE frames and decodes them back, applying the connection's
/// compression settings and limits (Protocols/WIRE.md §4.5, §7).
struct MessageCodec: Sendable {
    /// Messages at least this large are compressed when the peer accepts deflate.
    var compressionThreshold: Int = WireDefaults.compressionThreshold
    /// Whether this side may compress (the peer listed deflate, and compression is enabled).
    var compressOutbound = false
    /// Largest message a compressed payload may expand to here.
    var maxDecompressedSize: Int = WireDefaults.maxDecompressedSize
    /// Largest frame payload the peer accepts.
    var peerMaxFrameSize: Int = WireDefaults.maxFrameSize

    /// Appends a MESSAGE frame holding `value`.
    func writeMessage<T: Encodable>(_ value: T, streamID: UInt32, flags: FrameFlags = [], into buffer: inout ByteBuffer) throws {
        try CBOREncoder().withEncodedBytes(value) { bytes in
            try writeEncoded(bytes, streamID: streamID, flags: flags, into: &buffer)
        }
    }

    /// Appends a MESSAGE frame holding a message already encoded (a call passed on unread).
    func writePayload(_ payload: ByteBuffer, streamID: UInt32, flags: FrameFlags = [], into buffer: inout ByteBuffer) throws {
        try payload.withUnsafeReadableBytes { bytes in
            try writeEncoded(bytes, streamID: streamID, flags: flags, into: &buffer)
        }
    }

    /// The frame for a message's CBOR bytes: compressed when that is allowed, large enough and smaller.
    private func writeEncoded(_ bytes: UnsafeRawBufferPointer, streamID: UInt32, flags: FrameFlags, into buffer: inout ByteBuffer) throws {
        var flags = flags
        if compressOutbound && bytes.count >= compressionThreshold {
            var compressed = ByteBuffer()
            // Fixed codes and one hash look-up per position: a 4,170-byte FindSlots-like
            // answer becomes 1,006 bytes in 6 µs, against 957 bytes in 21 µs with zlib's
            // fastest level (BENCHMARKS.md).
            Deflate.compressFast(bytes, into: &compressed)
            if compressed.readableBytes < bytes.count {
                flags.insert(.compressed)
                try checkSize(compressed.readableBytes)
                buffer.writeFrame(Frame(type: .message, flags: flags, streamID: streamID, payload: compressed))
                return
            }
        }
        try checkSize(bytes.count)
        buffer.writeFrameHeader(FrameHeader(length: UInt32(bytes.count), type: .message, flags: flags, streamID: streamID))
        buffer.writeBytes(bytes)
    }

    private func checkSize(_ size: Int) throws {
        if size > peerMaxFrameSize {
            throw RPCError(code: .resourceExhausted, message: "message of \(size) bytes exceeds the peer's maximum frame size of \(peerMaxFrameSize) bytes")
        }
    }

    /// The CBOR bytes of a MESSAGE frame's payload, inflated when compressed.
    func payload(of frame: Frame) throws(RPCError) -> ByteBuffer {
        guard frame.flags.contains(.compressed) else { return frame.payload }
        do {
            return try Deflate.decompress(frame.payload, limit: maxDecompressedSize)
        } catch let error as Deflate.Error {
            if case .tooLarge = error.reason {
                throw RPCError(code: .resourceExhausted, message: error.description)
            }
            throw RPCError(code: .invalidArgument, message: error.description)
        } catch {
            throw RPCError(code: .internal, message: "\(error)")
        }
    }

    /// Checks a request passed on unread: one well-formed CBOR item, as `decodeRequest` of a
    /// `CBORRawMessage` checks it, without copying it.
    func checkRequest(_ payload: ByteBuffer) throws(RPCError) {
        do {
            try payload.withUnsafeReadableBytes { try CBORDecoder().checkWellFormed($0) }
        } catch let error as DecodingError {
            throw Self.invalidArgument(error)
        } catch {
            throw RPCError(code: .invalidArgument, message: "request could not be decoded: \(error)")
        }
    }

    /// Decodes a request; a bad one is INVALID_ARGUMENT naming the field and the rule.
    func decodeRequest<T: Decodable>(_ type: T.Type, from payload: ByteBuffer) throws(RPCError) -> T {
        do {
            return try CBORDecoder().decode(type, from: payload)
        } catch let error as DecodingError {
            throw Self.invalidArgument(error)
        } catch {
            throw RPCError(code: .invalidArgument, message: "request could not be decoded: \(error)")
        }
    }

    /// Decodes a response; a bad one is INTERNAL (the server broke the contract).
    func decodeResponse<T: Decodable>(_ type: T.Type, from payload: ByteBuffer) throws(RPCError) -> T {
        do {
            return try CBORDecoder().decode(type, from: payload)
        } catch {
            throw RPCError(code: .internal, message: "response could not be decoded as \(T.self): \(Self.invalidArgument(error as? DecodingError).message)")
        }
    }

    /// Turns a decoding error into INVALID_ARGUMENT with a bad-request detail.
    static func invalidArgument(_ error: DecodingError?) -> RPCError {
        guard let error else { return RPCError(code: .invalidArgument, message: "request could not be decoded") }
        let (path, rule, description): ([any CodingKey], String, String)
        switch error {
        case .typeMismatch(_, let context):
            (path, rule, description) = (context.codingPath, "type", context.debugDescription)
        case .valueNotFound(_, let context):
            (path, rule, description) = (context.codingPath, "required", context.debugDescription)
        case .keyNotFound(let key, let context):
            (path, rule, description) = (context.codingPath + [key], "required", "is required")
        case .dataCorrupted(let context):
            let kind = context.debugDescription.contains("does not fit") ? "range" : "format"
            (path, rule, description) = (context.codingPath, kind, context.debugDescription)
        @unknown default:
            (path, rule, description) = ([], "format", "\(error)")
        }
        let field = fieldPath(path)
        return RPCError.invalidArgument(field: field.isEmpty ? "(message)" : field, rule: rule, description)
    }

    /// `skills[2].level` from a coding path.
    static func fieldPath(_ path: [any CodingKey]) -> String {
        var result = ""
        for key in path {
            if let index = key.intValue, key.stringValue.hasPrefix("Index ") {
                result += "[\(index)]"
            } else {
                result += result.isEmpty ? key.stringValue : "." + key.stringValue
            }
        }
        return result
    }
}
