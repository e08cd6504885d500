public import TandemWire

/// Runs around every call a server handles: authentication, logging, metrics, tracing. It may
/// change the context handed on (e.g. attach the authenticated caller), throw an `RPCError` to
/// refuse the call, or observe how `next` ends.
public protocol ServerInterceptor: Sendable {
    func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws
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

/// Adds fixed metadata (e.g. an API key) to every call.
public struct MetadataClientInterceptor: ClientInterceptor {
    public var metadata: Metadata

    public init(_ metadata: Metadata) {
        self.metadata = metadata
    }

    public func intercept(head: ClientCallHead, next: @Sendable (ClientCallHead) async throws -> Void) async throws {
        var head = head
        for entry in metadata where head.metadata.value(forKey: entry.key) == nil {
            head.metadata.append(entry.key, entry.value)
        }
        try await next(head)
    }
}
