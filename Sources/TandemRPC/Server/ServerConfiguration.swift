public import NIOCore
import TandemWire

/// How a server listens and what it allows. Every limit has a safe default; `validate()` runs
/// at start-up and names the first bad value.
public struct ServerConfiguration: Sendable {
    /// Where to listen; port 0 picks a free port (see `RPCServer.localAddress`).
    public var host: String
    public var port: Int
    public var tls: ServerTLSConfiguration
    /// Largest frame payload accepted (advertised in SETTINGS). Default 4 MiB.
    public var maxFrameSize: Int = WireDefaults.maxFrameSize
    /// Largest size a compressed request may expand to. Default 4 MiB.
    public var maxDecompressedSize: Int = WireDefaults.maxDecompressedSize
    /// Calls served at once on one connection; more are refused with RESOURCE_EXHAUSTED.
    public var maxConcurrentStreams: Int = WireDefaults.maxConcurrentStreams
    /// Open connections; more are told RESOURCE_EXHAUSTED (GOAWAY) and closed.
    public var maxConnections: Int = 10_000
    /// Time for TLS, preface and SETTINGS to complete.
    public var handshakeTimeout: TimeAmount = .seconds(10)
    /// A connection with no call for this long is closed (GOAWAY first).
    public var idleTimeout: TimeAmount = .minutes(5)
    /// Interval between keepalive PINGs.
    public var keepaliveInterval: TimeAmount = .seconds(60)
    /// A PING not answered within this closes the connection.
    public var keepaliveTimeout: TimeAmount = .seconds(20)
    /// A unary or server-streaming call's request must be complete (its END_STREAM received)
    /// within this of its HEADERS; otherwise TRAILERS DEADLINE_EXCEEDED. Nothing runs for a call
    /// (authentication included) until its request is complete, so this bounds how long a client
    /// that never finishes its requests holds streams and memory.
    public var requestTimeout: TimeAmount = .seconds(10)
    /// Bytes of request messages one connection may hold while their END_STREAM has not arrived
    /// (a message sent with END_STREAM in the same frame is never held), and the bytes of a
    /// client-streaming or bidirectional call's messages its handler has not read yet (per call).
    /// More: RESOURCE_EXHAUSTED on the stream that would exceed it. Default 16 MiB.
    public var maxPendingRequestBytes: Int = 16 << 20
    /// Both kinds across all connections of the server. Default 256 MiB.
    public var maxPendingRequestBytesTotal: Int = 256 << 20
    /// How long a drain waits for calls in flight before cancelling them.
    public var drainGracePeriod: TimeAmount = .seconds(20)
    /// Compress responses of at least `compressionThreshold` bytes when the client accepts deflate.
    public var compressionEnabled = true
    public var compressionThreshold: Int = WireDefaults.compressionThreshold
    /// Where handlers run: on the connection's event loop (no thread hops; handlers must not
    /// block) or on Swift's global concurrent executor.
    public var handlerExecution: HandlerExecution = .eventLoop
    /// Event loop threads; 0 means one per core.
    public var eventLoopThreads: Int = 0
    /// Name sent in SETTINGS and used in logs.
    public var agent: String = "tandem-swift/1"

    public enum HandlerExecution: Sendable, Hashable {
        case eventLoop
        case globalExecutor
    }

    public init(host: String = "127.0.0.1", port: Int = 0, tls: ServerTLSConfiguration) {
        self.host = host
        self.port = port
        self.tls = tls
    }

    /// Checks every value; the error names the setting and the rule.
    public func validate() throws {
        func fail(_ message: String) throws -> Never { throw ConfigurationError(message) }
        if host.isEmpty { try fail("host must not be empty") }
        if !(0...65535).contains(port) { try fail("port must be between 0 and 65535, got \(port)") }
        if maxFrameSize < WireDefaults.minFrameSize || maxFrameSize > Int(UInt32.max) {
            try fail("maxFrameSize must be between \(WireDefaults.minFrameSize) and \(UInt32.max), got \(maxFrameSize)")
        }
        if maxDecompressedSize < 1 { try fail("maxDecompressedSize must be positive") }
        if maxConcurrentStreams < 1 { try fail("maxConcurrentStreams must be at least 1") }
        if maxConnections < 1 { try fail("maxConnections must be at least 1") }
        for (name, value) in [("handshakeTimeout", handshakeTimeout), ("idleTimeout", idleTimeout), ("keepaliveInterval", keepaliveInterval),
                              ("keepaliveTimeout", keepaliveTimeout), ("requestTimeout", requestTimeout)] where value <= .zero {
            try fail("\(name) must be positive")
        }
        if maxPendingRequestBytes < 1 || maxPendingRequestBytesTotal < maxPendingRequestBytes {
            try fail("maxPendingRequestBytes must be positive and maxPendingRequestBytesTotal at least as large")
        }
        if drainGracePeriod < .zero { try fail("drainGracePeriod must not be negative") }
        if eventLoopThreads < 0 { try fail("eventLoopThreads must not be negative") }
    }
}

/// A configuration value that breaks a rule: one clear sentence.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
