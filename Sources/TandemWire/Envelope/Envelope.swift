public import NIOCore

/// The HEADERS payload that opens a call (Protocols/WIRE.md §4.1).
public struct RequestHeaders: Hashable, Sendable {
    /// `service.Method`, e.g. `scheduling.BookMeeting`.
    public var method: String
    /// Time the caller will wait, in microseconds from when the server reads this frame; nil for none.
    public var timeoutMicroseconds: UInt64?
    public var metadata: Metadata

    public init(method: String, timeoutMicroseconds: UInt64? = nil, metadata: Metadata = Metadata()) {
        self.method = method
        self.timeoutMicroseconds = timeoutMicroseconds
        self.metadata = metadata
    }

    public func encode(into buffer: inout ByteBuffer) {
        var fields: UInt64 = 1
        if timeoutMicroseconds != nil { fields += 1 }
        if !metadata.isEmpty { fields += 1 }
        buffer.writeCBORHead(5, fields)
        buffer.writeCBORText("method")
        buffer.writeCBORText(method)
        if let timeoutMicroseconds {
            buffer.writeCBORText("timeout")
            buffer.writeCBORHead(0, timeoutMicroseconds)
        }
        if !metadata.isEmpty {
            buffer.writeCBORText("metadata")
            metadata.write(to: &buffer)
        }
    }

    public init(decoding payload: ByteBuffer) throws(EnvelopeError) {
        self = try readEnvelope(payload, frame: .headers) { (r) throws(EnvelopeError) in
            var method: String?
            var timeout: UInt64?
            var metadata = Metadata()
            let end = try r.forEachEntry(at: 0) { (key, value) throws(EnvelopeError) in
                if keyIs(key, "method") {
                    method = try r.text(at: value, "method")
                } else if keyIs(key, "timeout") {
                    timeout = try r.uint(at: value, "timeout")
                } else if keyIs(key, "metadata") {
                    metadata = try r.metadata(at: value)
                }
            }
            guard let method else { throw r.fail("required field 'method' is missing") }
            return (RequestHeaders(method: method, timeoutMicroseconds: timeout, metadata: metadata), end)
        }
    }
}

/// The HEADERS payload a server may send before its first message: initial metadata.
public struct ResponseHeaders: Hashable, Sendable {
    public var metadata: Metadata

    public init(metadata: Metadata = Metadata()) {
        self.metadata = metadata
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeCBORHead(5, 1)
        buffer.writeCBORText("metadata")
        metadata.write(to: &buffer)
    }

    public init(decoding payload: ByteBuffer) throws(EnvelopeError) {
        self = try readEnvelope(payload, frame: .headers) { (r) throws(EnvelopeError) in
            var metadata = Metadata()
            let end = try r.forEachEntry(at: 0) { (key, value) throws(EnvelopeError) in
                if keyIs(key, "metadata") { metadata = try r.metadata(at: value) }
            }
            return (ResponseHeaders(metadata: metadata), end)
        }
    }
}

/// The TRAILERS payload that ends every call: its status and trailing metadata (§4.2, §5).
public struct Trailers: Hashable, Sendable {
    public var code: StatusCode
    public var message: String
    public var details: [ErrorDetail]
    public var metadata: Metadata

    public init(code: StatusCode, message: String = "", details: [ErrorDetail] = [], metadata: Metadata = Metadata()) {
        self.code = code
        self.message = message
        self.details = details
        self.metadata = metadata
    }

    /// The error these trailers carry, or nil when the code is OK.
    public var error: RPCError? {
        code == .ok ? nil : RPCError(code: code, message: message, details: details, metadata: metadata)
    }

    public func encode(into buffer: inout ByteBuffer) {
        var fields: UInt64 = 1
        if !message.isEmpty { fields += 1 }
        if !details.isEmpty { fields += 1 }
        if !metadata.isEmpty { fields += 1 }
        buffer.writeCBORHead(5, fields)
        buffer.writeCBORText("code")
        buffer.writeCBORHead(0, UInt64(code.rawValue))
        if !message.isEmpty {
            buffer.writeCBORText("message")
            buffer.writeCBORText(message)
        }
        if !details.isEmpty {
            buffer.writeCBORText("details")
            // Details are rare and small: encode them with the Codable encoder.
            if let bytes = try? CBOREncoder().encodeBytes(details) {
                buffer.writeBytes(bytes)
            } else {
                buffer.writeCBORHead(4, 0)
            }
        }
        if !metadata.isEmpty {
            buffer.writeCBORText("metadata")
            metadata.write(to: &buffer)
        }
    }

    public init(decoding payload: ByteBuffer) throws(EnvelopeError) {
        self = try readEnvelope(payload, frame: .trailers) { (r) throws(EnvelopeError) in
            var code: UInt64?
            var message = ""
            var details: [ErrorDetail] = []
            var metadata = Metadata()
            let end = try r.forEachEntry(at: 0) { (key, value) throws(EnvelopeError) in
                if keyIs(key, "code") {
                    code = try r.uint(at: value, "code")
                } else if keyIs(key, "message") {
                    message = try r.text(at: value, "message")
                } else if keyIs(key, "details") {
                    do {
                        let end = try r.reader.skip(at: value, depth: 1, maxDepth: 32)
                        let bytes = UnsafeRawBufferPointer(start: r.reader.base + value, count: end - value)
                        details = try CBORDecoder().decode([ErrorDetail].self, from: bytes)
                    } catch {
                        throw r.fail("field 'details' is invalid: \(error)")
                    }
                } else if keyIs(key, "metadata") {
                    metadata = try r.metadata(at: value)
                }
            }
            guard let code else { throw r.fail("required field 'code' is missing") }
            // Codes above 16 are reserved; a peer that sends one means UNKNOWN.
            let status = code <= 16 ? StatusCode(rawValue: UInt8(code)) : .unknown
            return (Trailers(code: status, message: message, details: details, metadata: metadata), end)
        }
    }
}

/// The SETTINGS payload each side sends first (§3): what it accepts from its peer.
public struct Settings: Hashable, Sendable {
    /// Largest frame payload the sender accepts (default 4 MiB, never below 16 KiB).
    public var maxFrameSize: UInt32
    /// Calls the sender accepts at once on this connection (meaningful from servers).
    public var maxConcurrentStreams: UInt32
    /// Compression algorithms the sender can decompress, e.g. `["deflate"]`.
    public var compression: [String]
    /// Largest size a compressed message may expand to at the sender.
    public var maxDecompressedSize: UInt32
    /// Implementation name and version, for logs.
    public var agent: String?

    public init(
        maxFrameSize: UInt32 = UInt32(WireDefaults.maxFrameSize),
        maxConcurrentStreams: UInt32 = UInt32(WireDefaults.maxConcurrentStreams),
        compression: [String] = ["deflate"],
        maxDecompressedSize: UInt32 = UInt32(WireDefaults.maxDecompressedSize),
        agent: String? = nil
    ) {
        self.maxFrameSize = maxFrameSize
        self.maxConcurrentStreams = maxConcurrentStreams
        self.compression = compression
        self.maxDecompressedSize = maxDecompressedSize
        self.agent = agent
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeCBORHead(5, agent == nil ? 4 : 5)
        buffer.writeCBORText("maxFrameSize")
        buffer.writeCBORHead(0, UInt64(maxFrameSize))
        buffer.writeCBORText("maxConcurrentStreams")
        buffer.writeCBORHead(0, UInt64(maxConcurrentStreams))
        buffer.writeCBORText("compression")
        buffer.writeCBORHead(4, UInt64(compression.count))
        for name in compression { buffer.writeCBORText(name) }
        buffer.writeCBORText("maxDecompressedSize")
        buffer.writeCBORHead(0, UInt64(maxDecompressedSize))
        if let agent {
            buffer.writeCBORText("agent")
            buffer.writeCBORText(agent)
        }
    }

    /// Decodes a peer's settings; absent fields take the protocol defaults.
    public init(decoding payload: ByteBuffer) throws(EnvelopeError) {
        self = try readEnvelope(payload, frame: .settings) { (r) throws(EnvelopeError) in
            var settings = Settings(compression: [])
            let end = try r.forEachEntry(at: 0) { (key, value) throws(EnvelopeError) in
                if keyIs(key, "maxFrameSize") {
                    let size = try r.uint(at: value, "maxFrameSize")
                    guard size >= UInt64(WireDefaults.minFrameSize), size <= UInt64(UInt32.max) else {
                        throw r.fail("maxFrameSize must be between \(WireDefaults.minFrameSize) and \(UInt32.max)")
                    }
                    settings.maxFrameSize = UInt32(size)
                } else if keyIs(key, "maxConcurrentStreams") {
                    settings.maxConcurrentStreams = UInt32(clamping: try r.uint(at: value, "maxConcurrentStreams"))
                } else if keyIs(key, "compression") {
                    settings.compression = try r.textArray(at: value, "compression")
                } else if keyIs(key, "maxDecompressedSize") {
                    settings.maxDecompressedSize = UInt32(clamping: try r.uint(at: value, "maxDecompressedSize"))
                } else if keyIs(key, "agent") {
                    settings.agent = try r.text(at: value, "agent")
                }
            }
            return (settings, end)
        }
    }
}

/// The GOAWAY payload: the sender is closing; calls above `lastStreamID` were not processed
/// and may be retried on another connection (§3.3).
public struct GoAway: Hashable, Sendable {
    public var lastStreamID: UInt32
    public var code: StatusCode
    public var message: String

    public init(lastStreamID: UInt32, code: StatusCode, message: String = "") {
        self.lastStreamID = lastStreamID
        self.code = code
        self.message = message
    }

    public func encode(into buffer: inout ByteBuffer) {
        buffer.writeCBORHead(5, message.isEmpty ? 2 : 3)
        buffer.writeCBORText("lastStreamID")
        buffer.writeCBORHead(0, UInt64(lastStreamID))
        buffer.writeCBORText("code")
        buffer.writeCBORHead(0, UInt64(code.rawValue))
        if !message.isEmpty {
            buffer.writeCBORText("message")
            buffer.writeCBORText(message)
        }
    }

    public init(decoding payload: ByteBuffer) throws(EnvelopeError) {
        self = try readEnvelope(payload, frame: .goAway) { (r) throws(EnvelopeError) in
            var last: UInt64?
            var code: UInt64 = 0
            var message = ""
            let end = try r.forEachEntry(at: 0) { (key, value) throws(EnvelopeError) in
                if keyIs(key, "lastStreamID") {
                    last = try r.uint(at: value, "lastStreamID")
                } else if keyIs(key, "code") {
                    code = try r.uint(at: value, "code")
                } else if keyIs(key, "message") {
                    message = try r.text(at: value, "message")
                }
            }
            guard let last, last <= UInt64(FrameHeader.maxStreamID) else {
                throw r.fail("required field 'lastStreamID' is missing or above 2^31-1")
            }
            let status = code <= 16 ? StatusCode(rawValue: UInt8(code)) : .unknown
            return (GoAway(lastStreamID: UInt32(last), code: status, message: message), end)
        }
    }
}
