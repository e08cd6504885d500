public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
public import TandemWire
import TandemProtocols

/// A client of one service, possibly running as several instances.
///
/// ```swift
/// let client = try RPCClient(endpoints: [Endpoint(host: "10.0.0.7", port: 7443)],
///                            tls: .mutual(caPath: "ca.pem", certificatePath: "gateway.pem",
///                                         keyPath: "gateway-key.pem", serverName: "scheduling"))
/// let meeting = try await client.call(Scheduling.bookMeeting, request, options: CallOptions(timeout: .seconds(2)))
/// ```
///
/// Calls are spread round-robin over healthy instances; connections are made on first use and
/// remade with exponential backoff. Idempotent methods are retried on UNAVAILABLE. A call made
/// while serving another call inherits its deadline and request id. Run the client in a
/// `ServiceGroup` (or call `run()`) to health-check instances in the background; `close()` ends it.
public final class RPCClient: Service, Sendable {
    public let configuration: ClientConfiguration
    let pool: ConnectionPool
    private let interceptors: [any ClientInterceptor]
    /// The interceptors' synchronous forms, when every one has one (`passOn`).
    let synchronousInterceptors: [any SynchronousClientInterceptor]?
    private let logger: Logger
    /// The name the server certificates must carry.
    public let serviceName: String

    /// - Parameters:
    ///   - endpoints: the instances of the service.
    ///   - tls: trust roots, this client's certificate (mutual TLS), and the expected server name.
    ///   - eventLoopGroup: by default, NIO's shared group.
    public init(
        endpoints: [Endpoint],
        tls: ClientTLSConfiguration,
        configuration: ClientConfiguration = ClientConfiguration(),
        interceptors: [any ClientInterceptor] = [],
        eventLoopGroup: (any EventLoopGroup)? = nil,
        logger: Logger = Logger(label: "tandem.rpc.client")
    ) throws {
        try configuration.validate()
        guard !endpoints.isEmpty else { throw ConfigurationError("a client needs at least one endpoint") }
        self.configuration = configuration
        self.interceptors = interceptors
        let synchronous = interceptors.compactMap { $0 as? any SynchronousClientInterceptor }
        self.synchronousInterceptors = synchronous.count == interceptors.count ? synchronous : nil
        self.serviceName = tls.serverName
        var logger = logger
        logger[metadataKey: "service"] = "\(tls.serverName)"
        self.logger = logger
        self.pool = ConnectionPool(
            endpoints: endpoints, sslContext: try tls.makeContext(), serverName: tls.serverName,
            group: eventLoopGroup ?? MultiThreadedEventLoopGroup.singleton, configuration: configuration, logger: logger
        )
    }

    /// Health-checks open connections until the task is cancelled or a graceful shutdown
    /// begins, then closes the client.
    public func run() async throws {
        // Graceful shutdown cancels the loop (a handler that only closed the client would leave
        // `run` sleeping, and the service group waiting for it, forever).
        await cancelWhenGracefulShutdown {
            guard let interval = self.configuration.healthCheckInterval else {
                while !Task.isCancelled { try? await Task.sleep(for: .seconds(3600)) }
                return
            }
            while !Task.isCancelled {
                await self.checkHealth()
                try? await Task.sleep(for: .nanoseconds(interval.nanoseconds))
            }
        }
        close()
    }

    /// One round of health checks over the open connections.
    func checkHealth() async {
        for (index, connection) in pool.openConnections {
            let healthy: Bool
            do {
                let response = try await unaryAttempt(
                    connection, method: Health.check.fullName, request: HealthCheckRequest(service: serviceName),
                    metadata: Metadata(), deadline: .now() + .seconds(2), as: HealthCheckResponse.self
                )
                // A server that does not host this service by that name still counts when it serves.
                healthy = response.0.status == .serving || response.0.status == .serviceUnknown
            } catch {
                healthy = false
            }
            pool.setHealthy(healthy, slot: index, connection: connection)
        }
    }

    /// Closes every connection; calls made afterwards fail with UNAVAILABLE.
    public func close() {
        pool.close()
    }

    /// A task executor on the event loop of a connection to this service: tasks that make many
    /// calls (load generators) avoid a thread hop per call by running there.
    public func preferredTaskExecutor() async throws -> any TaskExecutor {
        try await acquireConnection(deadline: nil).executor
    }

    // MARK: Unary

    /// Calls a unary method and returns its response.
    public func call<Input, Output>(
        _ method: MethodDescriptor<Input, Output>, _ request: Input, options: CallOptions = .defaults
    ) async throws -> Output {
        try await callWithMetadata(method, request, options: options).response
    }

    /// Calls a unary method and returns its response with the response metadata.
    public func callWithMetadata<Input, Output>(
        _ method: MethodDescriptor<Input, Output>, _ request: Input, options: CallOptions = .defaults
    ) async throws -> (response: Output, metadata: Metadata) {
        precondition(method.kind == .unary, "\(method) is \(method.kind), not unary")
        let head = makeHead(method.fullName, options: options, idempotent: method.isIdempotent)
        if interceptors.isEmpty {
            return try await unaryWithRetries(head, request, as: Output.self)
        }
        let result = ResultBox<(Output, Metadata)>()
        try await intercept(interceptors[...], head) { head in
            result.set(try await self.unaryWithRetries(head, request, as: Output.self))
        }
        return try result.get()
    }

    private func unaryWithRetries<Input: Encodable, Output: Decodable>(
        _ head: ClientCallHead, _ request: Input, as type: Output.Type
    ) async throws -> (response: Output, metadata: Metadata) {
        let policy = head.options.retryPolicy ?? (head.isIdempotent ? configuration.retryPolicy : .none)
        let deadline = effectiveDeadline(head.options)
        var attempt = 1
        while true {
            do {
                return try await onConnection(deadline: deadline) { connection in
                    try await self.unaryAttempt(connection, method: head.method, request: request, metadata: head.metadata, deadline: deadline, as: type)
                }
            } catch let error as RPCError where attempt < policy.maxAttempts && policy.retryableCodes.contains(error.code) {
                let backoff = retryBackoff(policy, attempt: attempt)
                if let deadline, NIODeadline.now() + backoff >= deadline { throw error }
                logger.debug("retrying", metadata: ["method": "\(head.method)", "attempt": "\(attempt + 1)", "error": "\(error)"])
                try await Task.sleep(for: .nanoseconds(backoff.nanoseconds))
                attempt += 1
            }
        }
    }

    /// One attempt: HEADERS + MESSAGE(END_STREAM), then the single response.
    func unaryAttempt<Input: Encodable, Output: Decodable>(
        _ connection: ClientConnection, method: String, request: Input, metadata: Metadata, deadline: NIODeadline?, as type: Output.Type
    ) async throws -> (Output, Metadata) {
        let headers = try requestHeaders(method, metadata: metadata, deadline: deadline)
        var frames = ByteBuffer()
        try connection.codec.writeMessage(request, streamID: 0, flags: .endStream, into: &frames)
        let response = try await singleResponse(connection, headers: headers, frames: frames, endStream: true, deadline: deadline)
        return (try connection.codec.decodeResponse(type, from: response.payload), response.metadata)
    }

    /// Opens a stream and waits for its single response; the caller's task cancellation and the
    /// deadline both end the call (CANCEL to the server).
    private func singleResponse(
        _ connection: ClientConnection, headers: RequestHeaders, frames: ByteBuffer?, endStream: Bool, deadline: NIODeadline?
    ) async throws -> ClientResponse {
        let cancellation = CallCancellation()
        let handler = connection.handler
        let eventLoop = connection.eventLoop
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                let start: @Sendable () -> Void = {
                    let sink = SingleResponseSink(.continuation(continuation))
                    do {
                        let streamID = try handler.value.openStream(headers, messages: frames, endStream: endStream, sink: sink, deadline: deadline)
                        guard cancellation.started(streamID) else {
                            return handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "call was cancelled"))
                        }
                    } catch {
                        continuation.resume(throwing: error)
                    }
                }
                if eventLoop.inEventLoop { start() } else { eventLoop.execute(start) }
            }
        } onCancel: {
            if let streamID = cancellation.cancel() {
                eventLoop.execute { handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "call was cancelled")) }
            }
        }
    }

    /// Opens a client-streaming call, runs `requests`, half-closes, and waits for the response
    /// (which may come before the requests are all written, e.g. an error).
    private func clientStreamingResponse<Input: Encodable & Sendable>(
        _ connection: ClientConnection, headers: RequestHeaders, deadline: NIODeadline?,
        requests: @escaping @Sendable (RPCRequestWriter<Input>) async throws -> Void
    ) async throws -> ClientResponse {
        let handler = connection.handler
        let eventLoop = connection.eventLoop
        let promise = eventLoop.makePromise(of: ClientResponse.self)
        let streamID: UInt32 = try await eventLoop.submit {
            let sink = SingleResponseSink(.promise(promise))
            return try handler.value.openStream(headers, messages: nil, endStream: false, sink: sink, deadline: deadline)
        }.get()
        let cancel: @Sendable () -> Void = {
            eventLoop.execute { handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "call was cancelled")) }
        }
        return try await withTaskCancellationHandler {
            do {
                try await requests(RPCRequestWriter(connection: connection, streamID: streamID))
                eventLoop.execute { handler.value.endStream(streamID) }
            } catch let error as RPCError where error.code == .cancelled {
                // The call ended while writing (e.g. the server answered early): report its status.
            } catch {
                cancel()
                throw error
            }
            return try await promise.futureResult.get()
        } onCancel: {
            cancel()
        }
    }

    // MARK: Streaming

    /// Calls a server-streaming method; `body` reads the responses. The call is cancelled if
    /// `body` returns before the stream ends.
    public func serverStreaming<Input, Output, Result: Sendable>(
        _ method: MethodDescriptor<Input, Output>, _ request: Input, options: CallOptions = .defaults,
        _ body: @escaping @Sendable (RPCResponseStream<Output>) async throws -> Result
    ) async throws -> Result {
        precondition(method.kind == .serverStreaming, "\(method) is \(method.kind), not server streaming")
        let head = makeHead(method.fullName, options: options, idempotent: method.isIdempotent)
        let result = ResultBox<Result>()
        try await intercept(interceptors[...], head) { head in
            result.set(try await self.onConnection(deadline: self.effectiveDeadline(head.options)) { connection in
                var frames = ByteBuffer()
                try connection.codec.writeMessage(request, streamID: 0, flags: .endStream, into: &frames)
                let noRequests: (@Sendable (RPCRequestWriter<Input>) async throws -> Void)? = nil
                return try await self.streamingCall(connection, head, frames: frames, endStream: true, requests: noRequests, body)
            })
        }
        return try result.get()
    }

    /// Calls a client-streaming method: `requests` writes the request messages; the call's
    /// request side ends when it returns.
    public func clientStreaming<Input, Output>(
        _ method: MethodDescriptor<Input, Output>, options: CallOptions = .defaults,
        requests: @escaping @Sendable (RPCRequestWriter<Input>) async throws -> Void
    ) async throws -> Output {
        precondition(method.kind == .clientStreaming, "\(method) is \(method.kind), not client streaming")
        let head = makeHead(method.fullName, options: options, idempotent: method.isIdempotent)
        let result = ResultBox<Output>()
        try await intercept(interceptors[...], head) { head in
            let deadline = self.effectiveDeadline(head.options)
            result.set(try await self.onConnection(deadline: deadline) { connection in
                let headers = try self.requestHeaders(head.method, metadata: head.metadata, deadline: deadline)
                let response = try await self.clientStreamingResponse(connection, headers: headers, deadline: deadline, requests: requests)
                return try connection.codec.decodeResponse(Output.self, from: response.payload)
            })
        }
        return try result.get()
    }

    /// Calls a bidirectional method: `requests` writes (concurrently with `body` reading).
    public func bidirectional<Input, Output, Result: Sendable>(
        _ method: MethodDescriptor<Input, Output>, options: CallOptions = .defaults,
        requests: @escaping @Sendable (RPCRequestWriter<Input>) async throws -> Void,
        _ body: @escaping @Sendable (RPCResponseStream<Output>) async throws -> Result
    ) async throws -> Result {
        precondition(method.kind == .bidirectionalStreaming, "\(method) is \(method.kind), not bidirectional")
        let head = makeHead(method.fullName, options: options, idempotent: method.isIdempotent)
        let result = ResultBox<Result>()
        try await intercept(interceptors[...], head) { head in
            result.set(try await self.onConnection(deadline: self.effectiveDeadline(head.options)) { connection in
                try await self.streamingCall(connection, head, frames: nil, endStream: false, requests: requests, body)
            })
        }
        return try result.get()
    }

    private func streamingCall<Input: Encodable & Sendable, Output: Decodable & Sendable, Result: Sendable>(
        _ connection: ClientConnection, _ head: ClientCallHead, frames: ByteBuffer?, endStream: Bool,
        requests: (@Sendable (RPCRequestWriter<Input>) async throws -> Void)?,
        _ body: @escaping @Sendable (RPCResponseStream<Output>) async throws -> Result
    ) async throws -> Result {
        let deadline = effectiveDeadline(head.options)
        let headers = try requestHeaders(head.method, metadata: head.metadata, deadline: deadline)
        let (messages, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self)
        let metadata = ResponseMetadataBox()
        let buffered = BufferedBytes()
        let limit = configuration.maxBufferedResponseBytes
        let handler = connection.handler
        let eventLoop = connection.eventLoop
        let streamID: UInt32 = try await eventLoop.submit {
            let sink = StreamingResponseSink(continuation, metadata: metadata, buffered: buffered, limit: limit)
            return try handler.value.openStream(headers, messages: frames, endStream: endStream, sink: sink, deadline: deadline)
        }.get()
        let stream = RPCResponseStream<Output>(messages: messages, codec: connection.codec, metadataBox: metadata, buffered: buffered)
        let cancel: @Sendable () -> Void = {
            eventLoop.execute { handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "call was cancelled")) }
        }
        return try await withTaskCancellationHandler {
            do {
                let value: Result
                if let requests {
                    value = try await withThrowingTaskGroup(of: Void.self) { group in
                        group.addTask {
                            try await requests(RPCRequestWriter(connection: connection, streamID: streamID))
                            eventLoop.execute { handler.value.endStream(streamID) }
                        }
                        let value = try await body(stream)
                        try await group.waitForAll()
                        return value
                    }
                } else {
                    value = try await body(stream)
                }
                // Stop the call if the body left before the server finished.
                cancel()
                return value
            } catch {
                cancel()
                throw error
            }
        } onCancel: {
            cancel()
        }
    }

    // MARK: Helpers

    /// A ready connection at once when there is one; otherwise one made (or awaited) within the
    /// call's deadline.
    private func acquireConnection(deadline: NIODeadline?) async throws -> ClientConnection {
        if let ready = pool.readyConnection() { return ready }
        return try await pool.connection(deadline: deadline)
    }

    /// Runs `body` (which opens the call) on a connection. When the call never left this client
    /// — the connection got GOAWAY or closed after the pool handed it out, e.g. an idle timeout
    /// racing the call — it runs again on another connection, whatever the retry policy, as
    /// gRPC's transparent retry does: nothing reached the server.
    private func onConnection<T>(deadline: NIODeadline?, _ body: (ClientConnection) async throws -> T) async throws -> T {
        var transparentRetries = 0
        while true {
            let connection = try await acquireConnection(deadline: deadline)
            do {
                return try await body(connection)
            } catch let error as RPCError where error.neverProcessed && transparentRetries < 3 {
                // The connection is closing but the pool may not have heard yet: take it out so
                // the next attempt gets another one.
                pool.discard(connection)
                transparentRetries += 1
            }
        }
    }

    private func makeHead(_ method: String, options: CallOptions, idempotent: Bool) -> ClientCallHead {
        var options = options
        if options.timeout == nil { options.timeout = configuration.defaultTimeout }
        var metadata = options.metadata
        if metadata[Metadata.Keys.requestID] == nil, let requestID = RPCTaskContext.current?.requestID {
            metadata[Metadata.Keys.requestID] = requestID
        }
        return ClientCallHead(method: method, metadata: metadata, options: options, isIdempotent: idempotent)
    }

    /// The call's own timeout, shortened to the remaining time of the call being served.
    private func effectiveDeadline(_ options: CallOptions) -> NIODeadline? {
        Self.deadline(timeout: options.timeout, inherited: RPCTaskContext.current?.deadline)
    }

    /// The earlier of `timeout` from now and the deadline of the call being served.
    static func deadline(timeout: TimeAmount?, inherited: NIODeadline?) -> NIODeadline? {
        let own = timeout.map { NIODeadline.now() + $0 }
        switch (own, inherited) {
        case (let own?, let inherited?): return min(own, inherited)
        case (let own?, nil): return own
        case (nil, let inherited?): return inherited
        case (nil, nil): return nil
        }
    }

    func requestHeaders(_ method: String, metadata: Metadata, deadline: NIODeadline?) throws(RPCError) -> RequestHeaders {
        var timeout: UInt64?
        if let deadline {
            let remaining = deadline - .now()
            guard remaining > .zero else { throw RPCError(code: .deadlineExceeded, message: "deadline exceeded before the call was sent") }
            timeout = UInt64(remaining.nanoseconds / 1000)
        }
        return RequestHeaders(method: method, timeoutMicroseconds: timeout, metadata: metadata)
    }

    func retryBackoff(_ policy: RetryPolicy, attempt: Int) -> TimeAmount {
        var nanos = Double(policy.initialBackoff.nanoseconds)
        for _ in 1..<attempt { nanos = min(nanos * policy.multiplier, Double(policy.maxBackoff.nanoseconds)) }
        return .nanoseconds(Int64(nanos * Double.random(in: 0.8...1.2)))
    }
}

/// Runs `body` inside every client interceptor, outermost first.
func intercept(
    _ interceptors: ArraySlice<any ClientInterceptor>, _ head: ClientCallHead,
    _ body: @escaping @Sendable (ClientCallHead) async throws -> Void
) async throws {
    guard let first = interceptors.first else { return try await body(head) }
    let rest = interceptors.dropFirst()
    try await first.intercept(head: head) { head in
        try await intercept(rest, head, body)
    }
}

import Synchronization

/// Carries a value out of an interceptor's `next` closure.
final class ResultBox<Value: Sendable>: Sendable {
    private let storage = Mutex<Value?>(nil)

    func set(_ value: Value) {
        storage.withLock { $0 = value }
    }

    func get() throws -> Value {
        guard let value = storage.withLock({ $0 }) else {
            throw RPCError(code: .internal, message: "an interceptor returned without calling next")
        }
        return value
    }
}
