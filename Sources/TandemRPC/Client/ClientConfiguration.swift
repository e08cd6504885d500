public import NIOCore
import TandemWire

/// Where a service instance listens.
public struct Endpoint: Sendable, Hashable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `HOST:PORT` (IPv6 as `[::1]:PORT`).
    public init(parsing text: String) throws {
        let trimmed = String(text.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed())
        guard let colon = trimmed.lastIndex(of: ":"), let port = Int(trimmed[trimmed.index(after: colon)...]), (1...65535).contains(port) else {
            throw ConfigurationError("endpoint '\(text)' must be HOST:PORT with a port between 1 and 65535")
        }
        var host = String(trimmed[..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ConfigurationError("endpoint '\(text)' has no host") }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}

/// Reconnection delays after failed connection attempts: exponential with jitter, as gRPC's
/// connection backoff (1 s, ×1.6, at most 120 s, ±20 %).
public struct ConnectionBackoff: Sendable, Hashable {
    public var initial: TimeAmount = .seconds(1)
    public var multiplier: Double = 1.6
    public var maximum: TimeAmount = .seconds(120)
    public var jitter: Double = 0.2

    public init(initial: TimeAmount = .seconds(1), multiplier: Double = 1.6, maximum: TimeAmount = .seconds(120), jitter: Double = 0.2) {
        self.initial = initial
        self.multiplier = multiplier
        self.maximum = maximum
        self.jitter = jitter
    }

    /// The delay before attempt `attempt` (1 for the first retry), with jitter applied.
    public func delay(attempt: Int, random: Double = Double.random(in: -1...1)) -> TimeAmount {
        var nanos = Double(initial.nanoseconds)
        for _ in 1..<max(attempt, 1) { nanos = min(nanos * multiplier, Double(maximum.nanoseconds)) }
        nanos = min(nanos, Double(maximum.nanoseconds))
        return .nanoseconds(Int64(nanos * (1 + jitter * random)))
    }
}

/// How a client connects and calls.
public struct ClientConfiguration: Sendable {
    /// Largest response frame accepted (advertised in SETTINGS). Default 4 MiB.
    public var maxFrameSize: Int = WireDefaults.maxFrameSize
    /// Largest size a compressed response may expand to.
    public var maxDecompressedSize: Int = WireDefaults.maxDecompressedSize
    /// Whether the server may compress responses (SETTINGS lists deflate). Off where the link is
    /// faster than zlib, e.g. between the gateway and the services on one network: the server
    /// then spends no CPU compressing, nor this side inflating.
    public var acceptsCompressedResponses = true
    /// Requests of at least this many bytes are compressed when the server accepts deflate; 0 disables.
    public var compressionThreshold: Int = WireDefaults.compressionThreshold
    /// Bytes of a streaming call's responses that may wait for the caller to read them; past
    /// this the call fails with RESOURCE_EXHAUSTED and is cancelled at the server (the protocol
    /// has no flow control per call, and the connection goes on reading for its other calls).
    /// Default 16 MiB.
    public var maxBufferedResponseBytes: Int = 16 << 20
    /// Time for TCP, TLS and the SETTINGS exchange.
    public var connectTimeout: TimeAmount = .seconds(5)
    /// Connections kept to each endpoint; calls are spread over them round-robin.
    public var connectionsPerEndpoint: Int = 1
    public var backoff = ConnectionBackoff()
    /// Retries for idempotent methods (others only when a call's options say so).
    public var retryPolicy: RetryPolicy = .idempotentDefault
    /// While `run()` is active, each connection's `health.Check` is polled this often and
    /// NOT_SERVING instances are skipped; nil turns it off.
    public var healthCheckInterval: TimeAmount? = .seconds(5)
    /// Timeout of calls whose options set none; nil for none.
    public var defaultTimeout: TimeAmount?
    /// Event loop threads when the client creates its own group.
    public var eventLoopThreads: Int = 1
    public var agent: String = "tandem-swift/1"
    /// The local IP address connections are made from (any port); nil lets the system choose.
    /// For hosts with several addresses, and for tests that need clients with distinct addresses
    /// on loopback (127.0.0.2, 127.0.0.3…).
    public var localAddress: String?

    public init() {}

    public func validate() throws {
        if maxFrameSize < WireDefaults.minFrameSize { throw ConfigurationError("maxFrameSize must be at least \(WireDefaults.minFrameSize)") }
        if connectionsPerEndpoint < 1 { throw ConfigurationError("connectionsPerEndpoint must be at least 1") }
        if connectTimeout <= .zero { throw ConfigurationError("connectTimeout must be positive") }
        if retryPolicy.maxAttempts < 1 { throw ConfigurationError("retryPolicy.maxAttempts must be at least 1") }
        if eventLoopThreads < 1 { throw ConfigurationError("eventLoopThreads must be at least 1") }
        if maxBufferedResponseBytes < 1 { throw ConfigurationError("maxBufferedResponseBytes must be positive") }
        if let localAddress, (try? SocketAddress(ipAddress: localAddress, port: 0)) == nil {
            throw ConfigurationError("localAddress must be an IPv4 or IPv6 address, not \"\(localAddress)\"")
        }
    }
}

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
