#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
public import TandemProtocols

/// The handlers of the `echo` service (Protocols/Echo.md). A type that implements them gets
/// `register(into:)` for free — the pattern every Tandem service follows.
public protocol EchoHandlers: RPCService {
    func get(_ request: EchoMessage, context: ServerContext) async throws -> EchoMessage
    func expand(_ request: EchoMessage, responses: RPCWriter<EchoMessage>, context: ServerContext) async throws
    func collect(_ requests: RPCRequestStream<EchoMessage>, context: ServerContext) async throws -> EchoMessage
    func update(_ requests: RPCRequestStream<EchoMessage>, responses: RPCWriter<EchoMessage>, context: ServerContext) async throws
}

extension EchoHandlers {
    public func register(into router: inout RPCRouter) {
        router.register(Echo.get, unary: { try await get($0, context: $1) })
        router.register(Echo.expand, serverStreaming: { try await expand($0, responses: $1, context: $2) })
        router.register(Echo.collect, clientStreaming: { try await collect($0, context: $1) })
        router.register(Echo.update, bidirectional: { try await update($0, responses: $1, context: $2) })
    }
}

/// The `echo` test service, for benchmarks and end-to-end tests.
public struct EchoService: EchoHandlers {
    public init() {}

    public func get(_ request: EchoMessage, context: ServerContext) async throws -> EchoMessage {
        if let delay = request.delayMilliseconds, delay > 0 {
            try await Task.sleep(for: .milliseconds(delay))
        }
        return request
    }

    public func expand(_ request: EchoMessage, responses: RPCWriter<EchoMessage>, context: ServerContext) async throws {
        for _ in 0..<max(0, request.repeat ?? 1) {
            if let delay = request.delayMilliseconds, delay > 0 {
                try await Task.sleep(for: .milliseconds(delay))
            }
            try await responses.write(request)
        }
    }

    public func collect(_ requests: RPCRequestStream<EchoMessage>, context: ServerContext) async throws -> EchoMessage {
        var result = EchoMessage()
        for try await request in requests {
            result.text += request.text
            result.payload.append(request.payload)
        }
        return result
    }

    public func update(_ requests: RPCRequestStream<EchoMessage>, responses: RPCWriter<EchoMessage>, context: ServerContext) async throws {
        for try await request in requests {
            try await responses.write(request)
        }
    }
}

/// A typed client for the `echo` service: the same calls as `RPCClient.call(Echo.get, …)`,
/// named after the methods.
public struct EchoClient: Sendable {
    public let client: RPCClient

    public init(_ client: RPCClient) {
        self.client = client
    }

    public func get(_ request: EchoMessage, options: CallOptions = .defaults) async throws -> EchoMessage {
        try await client.call(Echo.get, request, options: options)
    }

    public func expand<Result: Sendable>(
        _ request: EchoMessage, options: CallOptions = .defaults,
        _ body: @escaping @Sendable (RPCResponseStream<EchoMessage>) async throws -> Result
    ) async throws -> Result {
        try await client.serverStreaming(Echo.expand, request, options: options, body)
    }

    public func collect(
        options: CallOptions = .defaults, _ requests: @escaping @Sendable (RPCRequestWriter<EchoMessage>) async throws -> Void
    ) async throws -> EchoMessage {
        try await client.clientStreaming(Echo.collect, options: options, requests: requests)
    }
}
