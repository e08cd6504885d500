public import Logging
public import NIOCore
public import ServiceContextModule
public import TandemWire
import Synchronization
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Who is on the other end of a connection.
public struct PeerIdentity: Sendable, Hashable, CustomStringConvertible {
    /// `ip:port` of the remote side.
    public var address: String
    /// Names in the peer's TLS certificate (SAN DNS names, then the common name); empty without
    /// mutual TLS.
    public var certificateNames: [String]

    public init(address: String, certificateNames: [String] = []) {
        self.address = address
        self.certificateNames = certificateNames
    }

    public var description: String {
        certificateNames.isEmpty ? address : "\(certificateNames[0])@\(address)"
    }

    /// The address without its port (`[::1]:443` and `::1:443` give `::1`): what limits and
    /// throttles per client count against.
    public var host: String {
        guard let colon = address.lastIndex(of: ":") else { return address }
        let host = address[..<colon]
        if host.hasPrefix("["), host.hasSuffix("]") { return String(host.dropFirst().dropLast()) }
        return String(host)
    }
}

/// Everything a handler knows about the call it serves.
public struct ServerContext: Sendable {
    /// `service.Method`.
    public let method: String
    /// The request's metadata (authorization, traceparent, idempotency key…).
    public let metadata: Metadata
    /// When the caller stops waiting; the server cancels the handler then.
    public let deadline: NIODeadline?
    /// The call's request id: the caller's `request-id`, or one the server made.
    public let requestID: String
    public let peer: PeerIdentity
    /// Values interceptors attach for handlers (the authenticated caller, trace context…).
    public var serviceContext: ServiceContext
    private let baseLogger: Logger
    let responseMetadata: any ResponseMetadata

    init(
        method: String, metadata: Metadata, deadline: NIODeadline?, requestID: String, peer: PeerIdentity,
        logger: Logger, serviceContext: ServiceContext, responseMetadata: any ResponseMetadata
    ) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.requestID = requestID
        self.peer = peer
        self.baseLogger = logger
        self.serviceContext = serviceContext
        self.responseMetadata = responseMetadata
    }

    /// A logger carrying the connection, request id and method (built when asked for, so calls
    /// that do not log pay nothing for it).
    /// The level the call's logger writes at (without building the logger).
    public var logLevel: Logger.Level { baseLogger.logLevel }

    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "request-id"] = "\(requestID)"
        logger[metadataKey: "method"] = "\(method)"
        return logger
    }

    /// Time left before the deadline, or nil when the call has none.
    public var remainingTime: TimeAmount? {
        deadline.map { $0 - .now() }
    }

    /// Adds metadata to the call's trailers.
    public func setTrailingMetadata(_ key: String, _ value: String) {
        responseMetadata.setTrailing(key, .text(value))
    }

    /// Adds metadata to the response headers, sent before the first message (for streaming calls).
    public func setInitialMetadata(_ key: String, _ value: String) {
        responseMetadata.setInitial(key, .text(value))
    }
}

/// Response metadata a handler and its interceptors add while the call runs.
protocol ResponseMetadata: AnyObject, Sendable {
    func setInitial(_ key: String, _ value: Metadata.Value)
    func setTrailing(_ key: String, _ value: Metadata.Value)
}

/// The call a task is serving, for calls it makes in turn: they inherit its deadline and
/// request id without the handler passing them along.
public enum RPCTaskContext {
    public struct Values: Sendable {
        public var deadline: NIODeadline?
        public var requestID: String?

        public init(deadline: NIODeadline?, requestID: String?) {
            self.deadline = deadline
            self.requestID = requestID
        }
    }

    @TaskLocal public static var current: Values?
}

/// Makes request ids: a random prefix chosen once per process, then a counter — unique across
/// processes and restarts, and cheap (no system call per call).
enum RequestID {
    private static let prefix: String = {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        return String(value >> 24, radix: 36)
    }()
    private static let counter = Atomic<UInt64>(0)

    static func make() -> String {
        let next = counter.wrappingAdd(1, ordering: .relaxed).newValue
        return prefix + "-" + String(next, radix: 36)
    }
}
