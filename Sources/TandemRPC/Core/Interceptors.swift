public import ServiceContextModule
public import TandemWire

/// Runs around every call a server handles: authentication, logging, metrics, tracing. It may
/// change the context handed on (e.g. attach the authenticated caller), throw an `RPCError` to
/// refuse the call, or observe how `next` ends.
public protocol ServerInterceptor: Sendable {
    func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws
}

/// An interceptor that can also run without a task, for the calls a server passes on from its
/// event loop (`RPCRouter.register(passingOn:to:metadata:)`). A server passes a call on that way
/// only when all of its interceptors conform and every one `beginsSynchronously`; otherwise the
/// call runs as a task through `intercept`, like any other.
public protocol SynchronousServerInterceptor: ServerInterceptor {
    /// Whether `begin` can decide this call without suspending (by default, yes). An interceptor
    /// that would need to wait (keys to fetch) or whose refusal is handled by another interceptor's
    /// `intercept` says no, and the call runs as a task. It may note in `context` what it found,
    /// for its `begin` (the context goes to `begin` only when every interceptor said yes).
    func beginsSynchronously(_ context: inout ServerContext) -> Bool

    /// What `intercept` does before `next`: it may change the context or throw to refuse the call.
    /// Returns what `intercept` does once `next` has returned, if anything: called once, on the
    /// connection's event loop, with nil when the call succeeded or the error it ended with.
    func begin(_ context: inout ServerContext) throws(RPCError) -> CallEnd?
}

/// What a synchronous interceptor does when the call is over: nil for OK, or the call's error.
public typealias CallEnd = @Sendable (RPCError?) -> Void

extension SynchronousServerInterceptor {
    public func beginsSynchronously(_ context: inout ServerContext) -> Bool { true }

    /// `intercept` made of `begin` and its end, for an interceptor that needs nothing else around
    /// `next` (no task-local values).
    public func interceptWithBegin(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        var context = context
        let end = try begin(&context)
        try await endingWith(end) { try await next(context) }
    }
}

/// Runs `body`, then `end` with its outcome (nil for success): how an interceptor made of
/// `begin` runs the rest of the call.
public func endingWith(_ end: CallEnd?, _ body: () async throws -> Void) async throws {
    guard let end else { return try await body() }
    do {
        try await body()
    } catch {
        end(RPCError(outcomeOf: error))
        throw error
    }
    end(nil)
}

extension RPCError {
    /// The status a call that threw `error` ends with, as its interceptors see it: an `RPCError`
    /// as it is, a cancellation as CANCELLED, anything else as UNKNOWN (its type only: its
    /// description could carry secrets).
    public init(outcomeOf error: any Error) {
        switch error {
        case let error as RPCError: self = error
        case is CancellationError: self = RPCError(code: .cancelled, message: "call was cancelled")
        default: self = RPCError(code: .unknown, message: String(describing: type(of: error)))
        }
    }
}

/// What a client interceptor sees of a call before it is sent.
public struct ClientCallHead: Sendable {
    /// `service.Method`.
    public var method: String
    public var metadata: Metadata
    public var options: CallOptions
    public var isIdempotent: Bool
}

/// Runs around every call a client makes: adding credentials, logging, metrics, tracing.
/// `next` performs the call (every attempt, the whole stream) and returns when it is over.
public protocol ClientInterceptor: Sendable {
    func intercept(head: ClientCallHead, next: @Sendable (ClientCallHead) async throws -> Void) async throws
}

/// A client interceptor that can also run without a task, for the calls a server passes on
/// from its event loop (`RPCRouter.register(passingOn:to:metadata:)`): a client passes calls on
/// that way only when all of its interceptors conform.
public protocol SynchronousClientInterceptor: ClientInterceptor {
    /// What `intercept` does before `next`, for a call made while serving the call whose context
    /// is `context` (its trace): it may change the head. Returns what `intercept` does once `next`
    /// has returned, if anything (called once, with nil for OK or the call's error).
    func begin(_ head: inout ClientCallHead, context: ServiceContext) -> CallEnd?
}

extension SynchronousClientInterceptor {
    /// `intercept` made of `begin` and its end, in the calling task's service context.
    public func interceptWithBegin(head: ClientCallHead, next: @Sendable (ClientCallHead) async throws -> Void) async throws {
        var head = head
        let end = begin(&head, context: ServiceContext.current ?? .topLevel)
        try await endingWith(end) { try await next(head) }
    }
}

/// Adds fixed metadata (e.g. an API key) to every call.
public struct MetadataClientInterceptor: SynchronousClientInterceptor {
    public var metadata: Metadata

    public init(_ metadata: Metadata) {
        self.metadata = metadata
    }

    public func intercept(head: ClientCallHead, next: @Sendable (ClientCallHead) async throws -> Void) async throws {
        try await interceptWithBegin(head: head, next: next)
    }

    public func begin(_ head: inout ClientCallHead, context: ServiceContext) -> CallEnd? {
        for entry in metadata where head.metadata.value(forKey: entry.key) == nil {
            head.metadata.append(entry.key, entry.value)
        }
        return nil
    }
}
