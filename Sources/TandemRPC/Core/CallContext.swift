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
    /// A logger carrying the connection and call ids.
    public var logger: Logger
    /// Values interceptors attach for handlers (the authenticated caller, trace context…).
    public var serviceContext: ServiceContext
    let responseMetadata: ResponseMetadata

    init(
        method: String, metadata: Metadata, deadline: NIODeadline?, requestID: String, peer: PeerIdentity,
        logger: Logger, serviceContext: ServiceContext, responseMetadata: ResponseMetadata
    ) {
        self.method = method
        self.metadata = metadata
        self.deadline = deadline
        self.requestID = requestID
        self.peer = peer
        self.logger = logger
        self.serviceContext = serviceContext
        self.responseMetadata = responseMetadata
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
final class ResponseMetadata: Sendable {
    private let storage = Mutex<(initial: Metadata, trailing: Metadata)>((Metadata(), Metadata()))

    func setInitial(_ key: String, _ value: Metadata.Value) {
        storage.withLock { $0.initial.append(key, value) }
    }

    func setTrailing(_ key: String, _ value: Metadata.Value) {
        storage.withLock { $0.trailing.append(key, value) }
    }

    var initial: Metadata { storage.withLock { $0.initial } }
    var trailing: Metadata { storage.withLock { $0.trailing } }
}

/// The call a task is serving, for calls it makes in turn: they inherit its deadline and
/// request id without the handler passing them along.
public enum RPCTaskContext {
    public struct Values: Sendable {
        public var deadline: NIODeadline?
        public var requestID: String?
    }

    @TaskLocal public static var current: Values?
}

/// Makes request ids: 16 random hex characters.
enum RequestID {
    static func make() -> String {
        var generator = SystemRandomNumberGenerator()
        let value = generator.next() as UInt64
        let hex = String(value, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }
}
