public import TandemWire
import NIOCore

/// A service's handlers, registered into a router.
public protocol RPCService: Sendable {
    func register(into router: inout RPCRouter)
}

/// Maps `service.Method` names to handlers. Registration checks that the handler's shape matches
/// the descriptor's, so a unary handler can never be bound to a streaming method.
public struct RPCRouter: Sendable {
    var handlers: [String: ServerMethodHandler] = [:]

    public init() {}

    /// Every registered method.
    public var methods: [AnyMethodDescriptor] {
        handlers.values.map(\.descriptor).sorted { $0.fullName < $1.fullName }
    }

    public mutating func register<Input, Output>(
        _ method: MethodDescriptor<Input, Output>,
        unary handler: @escaping @Sendable (Input, ServerContext) async throws -> Output
    ) {
        precondition(method.kind == .unary, "\(method) is \(method.kind), not unary")
        add(method.erased) { call, context in
            let request = try call.codec.decodeRequest(Input.self, from: try call.singleRequest())
            let response = try await handler(request, context)
            try await call.sendResponse(response)
        }
    }

    public mutating func register<Input, Output>(
        _ method: MethodDescriptor<Input, Output>,
        serverStreaming handler: @escaping @Sendable (Input, RPCWriter<Output>, ServerContext) async throws -> Void
    ) {
        precondition(method.kind == .serverStreaming, "\(method) is \(method.kind), not server streaming")
        add(method.erased) { call, context in
            let request = try call.codec.decodeRequest(Input.self, from: try call.singleRequest())
            try await handler(request, RPCWriter(call: call), context)
        }
    }

    public mutating func register<Input, Output>(
        _ method: MethodDescriptor<Input, Output>,
        clientStreaming handler: @escaping @Sendable (RPCRequestStream<Input>, ServerContext) async throws -> Output
    ) {
        precondition(method.kind == .clientStreaming, "\(method) is \(method.kind), not client streaming")
        add(method.erased) { call, context in
            let response = try await handler(RPCRequestStream(call: call), context)
            try await call.sendResponse(response)
        }
    }

    public mutating func register<Input, Output>(
        _ method: MethodDescriptor<Input, Output>,
        bidirectional handler: @escaping @Sendable (RPCRequestStream<Input>, RPCWriter<Output>, ServerContext) async throws -> Void
    ) {
        precondition(method.kind == .bidirectionalStreaming, "\(method) is \(method.kind), not bidirectional streaming")
        add(method.erased) { call, context in
            try await handler(RPCRequestStream(call: call), RPCWriter(call: call), context)
        }
    }

    /// Registers a unary method that is passed on to `upstream` under the same name, unread (a
    /// proxy): `descriptor` names it and its message types for listings. The request's CBOR
    /// (checked to be one well-formed item) goes on as it came, with the metadata `metadata`
    /// makes from the call; the answer, or the error, comes back as the upstream server gave it.
    /// The upstream call inherits the call's deadline and request id and continues its trace.
    ///
    /// When every interceptor of the server is a `SynchronousServerInterceptor` that can decide
    /// the call at once, the server passes it on from the connection's event loop without a task
    /// (the answer is written from the loop that reads it); otherwise it runs as a task.
    public mutating func register(passingOn descriptor: AnyMethodDescriptor, to upstream: RPCClient, metadata: @escaping @Sendable (ServerContext) -> Metadata) {
        precondition(descriptor.kind == .unary, "\(descriptor.fullName) is \(descriptor.kind), not unary")
        let forward = MethodDescriptor<CBORRawMessage, CBORRawMessage>(
            service: descriptor.service, method: descriptor.method, kind: .unary, idempotent: descriptor.isIdempotent
        )
        let passOn = PassOn(upstream: upstream, method: descriptor.fullName, idempotent: descriptor.isIdempotent, metadata: metadata)
        add(descriptor, passOn: passOn) { call, context in
            let request = try call.codec.decodeRequest(CBORRawMessage.self, from: try call.singleRequest())
            try await call.sendResponse(try await upstream.call(forward, request, options: CallOptions(metadata: metadata(context))))
        }
    }

    /// Registers a server-streaming method whose messages are passed on unread.
    public mutating func register(
        forwarding descriptor: AnyMethodDescriptor,
        serverStreaming handler: @escaping @Sendable (CBORRawMessage, RPCWriter<CBORRawMessage>, ServerContext) async throws -> Void
    ) {
        precondition(descriptor.kind == .serverStreaming, "\(descriptor.fullName) is \(descriptor.kind), not server streaming")
        add(descriptor) { call, context in
            let request = try call.codec.decodeRequest(CBORRawMessage.self, from: try call.singleRequest())
            try await handler(request, RPCWriter(call: call), context)
        }
    }

    /// Registers every method of `service`.
    public mutating func register(_ service: some RPCService) {
        service.register(into: &self)
    }

    private mutating func add(
        _ descriptor: AnyMethodDescriptor, passOn: PassOn? = nil, _ run: @escaping @Sendable (ServerCall, ServerContext) async throws -> Void
    ) {
        precondition(handlers[descriptor.fullName] == nil, "\(descriptor.fullName) is registered twice")
        handlers[descriptor.fullName] = ServerMethodHandler(descriptor: descriptor, run: run, passOn: passOn)
    }
}

/// A registered method with its types erased.
struct ServerMethodHandler: Sendable {
    let descriptor: AnyMethodDescriptor
    let run: @Sendable (ServerCall, ServerContext) async throws -> Void
    /// How to pass the call on without a task, for a method registered `passingOn`.
    var passOn: PassOn?
}

/// A unary method passed on to another server (`RPCRouter.register(passingOn:to:metadata:)`).
struct PassOn: Sendable {
    let upstream: RPCClient
    /// `service.Method`, the same upstream.
    let method: String
    let idempotent: Bool
    let metadata: @Sendable (ServerContext) -> Metadata
}

/// Sends a streaming call's responses. `write` waits while the connection cannot take more
/// bytes, so a slow reader slows the handler down instead of filling the server's memory.
public struct RPCWriter<Output: Encodable & Sendable>: Sendable {
    let call: ServerCall

    public func write(_ message: Output) async throws {
        try await call.sendStreamMessage(message)
    }

    public func write(contentsOf messages: some Sequence<Output>) async throws {
        for message in messages { try await write(message) }
    }
}

/// The request messages of a client-streaming or bidirectional call, as they arrive.
public struct RPCRequestStream<Input: Decodable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = Input
    let call: ServerCall

    public struct AsyncIterator: AsyncIteratorProtocol {
        let call: ServerCall
        var inner: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator

        public mutating func next() async throws -> Input? {
            guard let payload = try await inner.next() else { return nil }
            call.tookUnread(payload.readableBytes)
            return try call.codec.decodeRequest(Input.self, from: payload)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(call: call, inner: call.inboundMessages.makeAsyncIterator())
    }
}
