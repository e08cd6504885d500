import NIOCore
import ServiceContextModule
import TandemWire

extension RPCClient {
    /// Whether calls can be passed on without a task: every interceptor has a synchronous form.
    var passesOnSynchronously: Bool { synchronousInterceptors != nil }

    /// Sends a unary call whose request is already encoded (`payload`: one CBOR item) and hands
    /// its answer to `completion`, without a task: a server passing a call on
    /// (`RPCRouter.register(passingOn:to:metadata:)`). Call it on `eventLoop`, one of the
    /// client's group: the connection on that loop is used when there is a healthy one, so the
    /// call goes out and its answer comes back on the thread that took it. `completion` is
    /// called once, on `eventLoop`. The client's interceptors run (their synchronous form), with
    /// `context` as the served call's trace; the call follows the client's rules as `call` does:
    /// its default timeout (shortened to `deadline`), retries of idempotent methods, another
    /// connection when one turns out to be closing before the call was sent.
    func passOn(
        method: String, idempotent: Bool, payload: ByteBuffer, metadata: Metadata, deadline: NIODeadline?, context: ServiceContext,
        on eventLoop: any EventLoop, completion: @escaping (Result<ClientResponse, RPCError>) -> Void
    ) -> PassedOnCall {
        var head = ClientCallHead(method: method, metadata: metadata, options: CallOptions(), isIdempotent: idempotent)
        var ends: [CallEnd] = []
        for interceptor in synchronousInterceptors ?? [] {
            if let end = interceptor.begin(&head, context: context) { ends.append(end) }
        }
        let effective = Self.deadline(timeout: configuration.defaultTimeout, inherited: deadline)
        let call = PassedOnCall(
            client: self, head: head, payload: payload, deadline: effective, eventLoop: eventLoop,
            policy: idempotent ? configuration.retryPolicy : .none
        ) { result in
            for end in ends.reversed() { end(result.failure) }
            completion(result)
        }
        call.start()
        return call
    }
}

extension Result {
    var failure: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }
}

/// One call passed on by `RPCClient.passOn`: its attempts, driven from the event loop it was
/// made on (a connection on another loop is reached by hopping there and back).
final class PassedOnCall {
    private let client: RPCClient
    private let head: ClientCallHead
    private let payload: ByteBuffer
    private let deadline: NIODeadline?
    private let eventLoop: any EventLoop
    private let policy: RetryPolicy
    private var completion: ((Result<ClientResponse, RPCError>) -> Void)?
    private var attempt = 1
    private var transparentRetries = 0
    /// Where the current attempt runs, once its stream is open.
    private var current: (connection: ClientConnection, streamID: UInt32)?
    /// A retry waiting for its back-off, or a connection being made.
    private var waiting: Scheduled<Void>?
    private var connecting: Task<Void, Never>?

    init(
        client: RPCClient, head: ClientCallHead, payload: ByteBuffer, deadline: NIODeadline?, eventLoop: any EventLoop, policy: RetryPolicy,
        completion: @escaping (Result<ClientResponse, RPCError>) -> Void
    ) {
        self.client = client
        self.head = head
        self.payload = payload
        self.deadline = deadline
        self.eventLoop = eventLoop
        self.policy = policy
        self.completion = completion
    }

    /// The call's answer is no longer wanted (its caller cancelled, or its deadline passed): it
    /// ends with `error` now, and the upstream server is told (CANCEL).
    func cancel(_ error: RPCError) {
        guard completion != nil else { return }
        waiting?.cancel()
        connecting?.cancel()
        if let (connection, streamID) = current {
            connection.eventLoop.execute { [handler = connection.handler] in handler.value.cancel(streamID, error: error) }
        }
        finish(.failure(error))
    }

    func start() {
        guard completion != nil else { return }
        if let connection = client.pool.readyConnection() { return send(on: connection) }
        // No connection yet (the first call, or every instance reconnecting): make one.
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let (pool, deadline, eventLoop) = (client.pool, deadline, eventLoop)
        connecting = Task {
            let result: Result<ClientConnection, RPCError>
            do {
                result = .success(try await pool.connection(deadline: deadline))
            } catch {
                result = .failure(RPCError(outcomeOf: error))
            }
            eventLoop.execute {
                bound.value.connecting = nil
                switch result {
                case .success(let connection): bound.value.send(on: connection)
                case .failure(let error): bound.value.failed(error)
                }
            }
        }
    }

    private func send(on connection: ClientConnection) {
        guard completion != nil else { return }
        let headers: RequestHeaders
        do {
            headers = try client.requestHeaders(head.method, metadata: head.metadata, deadline: deadline)
        } catch {
            return failed(error)
        }
        var frames = ByteBuffer()
        do {
            try connection.codec.writePayload(payload, streamID: 0, flags: .endStream, into: &frames)
        } catch {
            return failed(RPCError(outcomeOf: error))
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        let (origin, deadline, handler) = (eventLoop, deadline, connection.handler)
        // Back on the call's own loop, whichever loop the connection is on.
        let onOrigin: @Sendable (@escaping @Sendable (PassedOnCall) -> Void) -> Void = { body in
            if origin.inEventLoop { body(bound.value) } else { origin.execute { body(bound.value) } }
        }
        let open: @Sendable () -> Void = { [frames] in
            let sink = SingleResponseSink(.callback { result in onOrigin { $0.answered(result, connection) } })
            do {
                let streamID = try handler.value.openStream(headers, messages: frames, endStream: true, sink: sink, deadline: deadline)
                onOrigin { $0.opened(connection, streamID) }
            } catch {
                onOrigin { $0.notSent(RPCError(outcomeOf: error), connection) }
            }
        }
        if connection.eventLoop.inEventLoop { open() } else { connection.eventLoop.execute(open) }
    }

    private func opened(_ connection: ClientConnection, _ streamID: UInt32) {
        guard completion != nil else {
            // Cancelled while the stream was being opened on another loop.
            return connection.eventLoop.execute { [handler = connection.handler] in
                handler.value.cancel(streamID, error: RPCError(code: .cancelled, message: "call was cancelled"))
            }
        }
        current = (connection, streamID)
    }

    /// The connection would not take the call (closing, or GOAWAY seen), or the server's GOAWAY
    /// said it was not processed: it goes to another connection, as `RPCClient.call` does.
    private func notSent(_ error: RPCError, _ connection: ClientConnection) {
        guard error.neverProcessed, transparentRetries < 3 else { return failed(error) }
        client.pool.discard(connection)
        transparentRetries += 1
        start()
    }

    private func answered(_ result: Result<ClientResponse, RPCError>, _ connection: ClientConnection) {
        current = nil
        switch result {
        case .success: finish(result)
        case .failure(let error) where error.neverProcessed: notSent(error, connection)
        case .failure(let error): failed(error)
        }
    }

    /// An attempt failed: another one after the policy's back-off when the method is idempotent
    /// and the error is one to retry, within the deadline.
    private func failed(_ error: RPCError) {
        guard completion != nil else { return }
        guard attempt < policy.maxAttempts, policy.retryableCodes.contains(error.code) else { return finish(.failure(error)) }
        let backoff = client.retryBackoff(policy, attempt: attempt)
        if let deadline, .now() + backoff >= deadline { return finish(.failure(error)) }
        attempt += 1
        waiting = eventLoop.assumeIsolated().scheduleTask(in: backoff) { [weak self] in
            self?.waiting = nil
            self?.start()
        }
    }

    private func finish(_ result: Result<ClientResponse, RPCError>) {
        guard let completion else { return }
        self.completion = nil
        completion(result)
    }
}
