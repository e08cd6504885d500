public import NIOCore

/// The kind of a frame: the fifth byte of the header (Protocols/WIRE.md §2).
public struct FrameType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// Connection settings; the first frame each side sends. Stream 0.
    public static let settings = FrameType(rawValue: 0x00)
    /// Opens a call (client → server: method, timeout, metadata) or carries the server's
    /// initial metadata (server → client).
    public static let headers = FrameType(rawValue: 0x01)
    /// One CBOR-encoded message.
    public static let message = FrameType(rawValue: 0x02)
    /// The call's final status (server → client); ends the stream.
    public static let trailers = FrameType(rawValue: 0x03)
    /// The client abandons a call; the server stops its handler.
    public static let cancel = FrameType(rawValue: 0x04)
    /// Liveness probe with 8 opaque bytes. Stream 0.
    public static let ping = FrameType(rawValue: 0x05)
    /// Answer to a ping, echoing its 8 bytes. Stream 0.
    public static let pong = FrameType(rawValue: 0x06)
    /// The sender is closing the connection: no new calls after `lastStreamID`. Stream 0.
    public static let goAway = FrameType(rawValue: 0x07)

    public var description: String {
        switch self {
        case .settings: return "SETTINGS"
        case .headers: return "HEADERS"
        case .message: return "MESSAGE"
        case .trailers: return "TRAILERS"
        case .cancel: return "CANCEL"
        case .ping: return "PING"
        case .pong: return "PONG"
        case .goAway: return "GOAWAY"
        default: return "UNKNOWN(0x\(String(rawValue, radix: 16)))"
        }
    }
}

/// Per-frame flags: the sixth byte of the header. Unknown flags are ignored.
public struct FrameFlags: OptionSet, Hashable, Sendable {
    public var rawValue: UInt8

    public init(rawValue: UInt8) {
        self.rawValue = rawValue
    }

    /// MESSAGE: the payload is compressed with the connection's negotiated algorithm (deflate).
    public static let compressed = FrameFlags(rawValue: 0x01)
    /// MESSAGE or HEADERS from the client: it will send no more messages on this stream.
    public static let endStream = FrameFlags(rawValue: 0x02)
}

/// The fixed 10-byte header in front of every frame.
public struct FrameHeader: Hashable, Sendable {
    /// Header size on the wire: length (4) + type (1) + flags (1) + stream id (4).
    public static let size = 10
    /// Stream ids are 31 bits; the top bit is reserved.
    public static let maxStreamID: UInt32 = 0x7FFF_FFFF

    /// Payload length in bytes, not counting the header.
    public var length: UInt32
    public var type: FrameType
    public var flags: FrameFlags
    public var streamID: UInt32

    public init(length: UInt32, type: FrameType, flags: FrameFlags, streamID: UInt32) {
        self.length = length
        self.type = type
        self.flags = flags
        self.streamID = streamID
    }
}

/// One frame: header fields and payload.
public struct Frame: Hashable, Sendable {
    public var type: FrameType
    public var flags: FrameFlags
    public var streamID: UInt32
    public var payload: ByteBuffer

    public init(type: FrameType, flags: FrameFlags = [], streamID: UInt32, payload: ByteBuffer = ByteBuffer()) {
        self.type = type
        self.flags = flags
        self.streamID = streamID
        self.payload = payload
    }

    public var header: FrameHeader {
        FrameHeader(length: UInt32(payload.readableBytes), type: type, flags: flags, streamID: streamID)
    }
}

/// The 8 bytes a client sends before anything else: ASCII "TANDEM/1" (major version 1).
public enum ConnectionPreface {
    public static let bytes: [UInt8] = Array("TANDEM/1".utf8)
}

extension ByteBuffer {
    /// Writes a frame header.
    @inlinable
    @discardableResult
    public mutating func writeFrameHeader(_ header: FrameHeader) -> Int {
        writeMultipleIntegers(
            header.length, header.type.rawValue, header.flags.rawValue, header.streamID & FrameHeader.maxStreamID,
            endianness: .big
        )
    }

    /// Writes a whole frame: header then payload.
    @inlinable
    @discardableResult
    public mutating func writeFrame(_ frame: Frame) -> Int {
        var payload = frame.payload
        return writeFrameHeader(frame.header) + writeBuffer(&payload)
    }

    /// Writes a frame whose payload is produced in place by `body`, patching the length after.
    /// Saves a copy when encoding messages straight into the outbound buffer.
    @inlinable
    public mutating func writeFrame(
        type: FrameType, flags: FrameFlags = [], streamID: UInt32,
        payload body: (inout ByteBuffer) throws -> Void
    ) rethrows {
        let start = writerIndex
        writeFrameHeader(FrameHeader(length: 0, type: type, flags: flags, streamID: streamID))
        try body(&self)
        let length = writerIndex - start - FrameHeader.size
        setInteger(UInt32(length), at: start, endianness: .big)
    }

    /// Reads a frame header if 10 bytes are readable.
    @inlinable
    public mutating func readFrameHeader() -> FrameHeader? {
        guard let (length, type, flags, stream) = readMultipleIntegers(
            endianness: .big, as: (UInt32, UInt8, UInt8, UInt32).self
        ) else { return nil }
        return FrameHeader(
            length: length, type: FrameType(rawValue: type), flags: FrameFlags(rawValue: flags),
            streamID: stream & FrameHeader.maxStreamID
        )
    }
}
