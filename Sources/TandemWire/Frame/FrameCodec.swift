public import NIOCore

/// What the frame decoder produces.
public enum InboundFrame: Hashable, Sendable {
    /// A complete frame.
    case frame(Frame)
    /// A frame whose declared length exceeds the limit. Only its header was read; the decoder
    /// discards the payload bytes as they arrive and never buffers them. The receiver answers
    /// RESOURCE_EXHAUSTED (on the stream, or with GOAWAY for stream 0).
    case oversized(FrameHeader)
}

/// Errors in the byte stream that end the connection.
public struct FramingError: Error, Hashable, Sendable, CustomStringConvertible {
    public enum Reason: Hashable, Sendable {
        /// The first 8 bytes were not `TANDEM/1`.
        case badPreface
        /// The connection closed in the middle of a frame.
        case truncatedFrame
    }

    public var reason: Reason

    public init(_ reason: Reason) {
        self.reason = reason
    }

    public var description: String {
        switch reason {
        case .badPreface: return "connection preface is not TANDEM/1"
        case .truncatedFrame: return "connection closed in the middle of a frame"
        }
    }
}

/// Splits the inbound byte stream into frames (Protocols/WIRE.md §2).
///
/// A length above `maxFrameSize` is rejected from the header alone: the decoder emits
/// `.oversized` and then drops that many payload bytes as they arrive, so the peer cannot make
/// it buffer more than one allowed frame.
public struct FrameDecoder: ByteToMessageDecoder, Sendable {
    public typealias InboundOut = InboundFrame

    public var maxFrameSize: Int
    private var expectingPreface: Bool
    private var discarding: Int = 0

    /// - Parameters:
    ///   - maxFrameSize: the largest payload accepted (the value this side advertises).
    ///   - expectPreface: true on the server side, which first reads the client's preface.
    public init(maxFrameSize: Int = WireDefaults.maxFrameSize, expectPreface: Bool = false) {
        self.maxFrameSize = maxFrameSize
        self.expectingPreface = expectPreface
    }

    public mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        guard let event = try next(&buffer) else { return .needMoreData }
        context.fireChannelRead(Self.wrapInboundOut(event))
        return .continue
    }

    public mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        while let event = try next(&buffer) {
            context.fireChannelRead(Self.wrapInboundOut(event))
        }
        if buffer.readableBytes > 0 || discarding > 0 {
            buffer.moveReaderIndex(to: buffer.writerIndex)
            throw FramingError(.truncatedFrame)
        }
        return .needMoreData
    }

    /// The decoding step without a channel: returns the next event, or nil when more bytes are
    /// needed. Public so that other transports and the fuzzer can drive it.
    public mutating func next(_ buffer: inout ByteBuffer) throws -> InboundFrame? {
        while true {
            if expectingPreface {
                guard buffer.readableBytes >= ConnectionPreface.bytes.count else {
                    // Fail fast on a wrong first byte (e.g. a TLS or HTTP client).
                    if let prefix = buffer.getBytes(at: buffer.readerIndex, length: buffer.readableBytes),
                       !ConnectionPreface.bytes.starts(with: prefix) {
                        throw FramingError(.badPreface)
                    }
                    return nil
                }
                guard buffer.readBytes(length: ConnectionPreface.bytes.count) == ConnectionPreface.bytes else {
                    throw FramingError(.badPreface)
                }
                expectingPreface = false
            }
            if discarding > 0 {
                let dropped = min(discarding, buffer.readableBytes)
                buffer.moveReaderIndex(forwardBy: dropped)
                discarding -= dropped
                if discarding > 0 { return nil }
                continue
            }
            guard buffer.readableBytes >= FrameHeader.size else { return nil }
            let length = Int(buffer.getInteger(at: buffer.readerIndex, endianness: .big, as: UInt32.self)!)
            if length > maxFrameSize {
                let header = buffer.readFrameHeader()!
                discarding = length
                return .oversized(header)
            }
            guard buffer.readableBytes >= FrameHeader.size + length else { return nil }
            let header = buffer.readFrameHeader()!
            let payload = buffer.readSlice(length: length)!
            return .frame(Frame(type: header.type, flags: header.flags, streamID: header.streamID, payload: payload))
        }
    }
}

/// Writes frames: the 10-byte header, then the payload.
public struct FrameEncoder: MessageToByteEncoder, Sendable {
    public typealias OutboundIn = Frame

    public init() {}

    public func encode(data: Frame, out: inout ByteBuffer) throws {
        out.writeFrame(data)
    }
}

/// Protocol defaults and bounds (Protocols/WIRE.md §3).
public enum WireDefaults {
    /// Largest frame payload accepted unless configured otherwise: 4 MiB.
    public static let maxFrameSize = 4 * 1024 * 1024
    /// No endpoint may advertise a max frame size below this: 16 KiB.
    public static let minFrameSize = 16 * 1024
    /// Concurrent calls a server accepts on one connection by default.
    public static let maxConcurrentStreams = 1024
    /// Messages at least this large are compressed when the peer accepts compression.
    public static let compressionThreshold = 1024
    /// Largest message a decompressed payload may expand to by default: 4 MiB.
    public static let maxDecompressedSize = 4 * 1024 * 1024
}
