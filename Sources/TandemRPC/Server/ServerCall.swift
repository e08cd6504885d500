import NIOCore
import Synchronization
import TandemWire

/// One call in progress on the server: the bridge between the handler's task and the
/// connection. Its methods may be called from any thread; connection state is only touched on
/// the connection's event loop.
final class ServerCall: ResponseMetadata {
    let streamID: UInt32
    let eventLoop: any EventLoop
    let connection: NIOLoopBound<ServerConnectionHandler>
    let codec: MessageCodec
    /// The request of a unary or server-streaming call (exactly one message).
    let request: ByteBuffer?
    /// The requests of a client-streaming or bidirectional call (nil for the other shapes).
    let inbound: (messages: AsyncThrowingStream<ByteBuffer, any Error>, continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation)?
    /// Bytes of `inbound` received and not yet taken by the handler: bounded per call by
    /// `maxPendingRequestBytes`, and counted in `held` with every other request held in memory.
    /// (Inline, not a `BufferedBytes`: no allocation for the calls that never stream requests.)
    private let unread = Atomic<Int>(0)
    /// The server's count of request bytes held (`ServerShared.pendingRequestBytes`).
    private let held: BufferedBytes
    private let metadata = Mutex<(initial: Metadata, trailing: Metadata)>((Metadata(), Metadata()))

    init(
        streamID: UInt32, connection: ServerConnectionHandler, eventLoop: any EventLoop, codec: MessageCodec, request: ByteBuffer?, streamingRequests: Bool,
        held: BufferedBytes
    ) {
        self.streamID = streamID
        self.eventLoop = eventLoop
        self.connection = NIOLoopBound(connection, eventLoop: eventLoop)
        self.codec = codec
        self.request = request
        self.held = held
        if streamingRequests {
            let (messages, continuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .unbounded)
            self.inbound = (messages, continuation)
        } else {
            self.inbound = nil
        }
    }

    // What the handler never read is free again once nothing refers to the call (its stream is
    // closed and its handler returned).
    deinit {
        let left = unread.load(ordering: .relaxed)
        if left != 0 { held.take(left) }
    }

    var inboundMessages: AsyncThrowingStream<ByteBuffer, any Error> {
        inbound?.messages ?? AsyncThrowingStream { $0.finish() }
    }

    /// Counts a request message handed to `inbound`; an error if it would hold more than the
    /// limits allow (the message is then not counted).
    func holdUnread(_ bytes: Int, limit: Int, totalLimit: Int) -> RPCError? {
        if unread.wrappingAdd(bytes, ordering: .relaxed).newValue > limit {
            unread.wrappingSubtract(bytes, ordering: .relaxed)
            return RPCError(
                code: .resourceExhausted,
                message: "request messages not yet read by the handler exceed \(limit) bytes (maxPendingRequestBytes): the client sends faster than the method reads"
            )
        }
        if held.add(bytes) > totalLimit {
            held.take(bytes)
            unread.wrappingSubtract(bytes, ordering: .relaxed)
            return RPCError(code: .resourceExhausted, message: "the server holds too many request messages not yet read; try again")
        }
        return nil
    }

    /// The handler took a request message.
    func tookUnread(_ bytes: Int) {
        unread.wrappingSubtract(bytes, ordering: .relaxed)
        held.take(bytes)
    }

    func setInitial(_ key: String, _ value: Metadata.Value) {
        metadata.withLock { $0.initial.append(key, value) }
    }

    func setTrailing(_ key: String, _ value: Metadata.Value) {
        metadata.withLock { $0.trailing.append(key, value) }
    }

    var initialMetadata: Metadata { metadata.withLock { $0.initial } }
    var trailingMetadata: Metadata { metadata.withLock { $0.trailing } }

    func singleRequest() throws(RPCError) -> ByteBuffer {
        guard let request else { throw RPCError(code: .internal, message: "no request message") }
        return request
    }

    /// Sends the one response of a unary or client-streaming call.
    func sendResponse<T: Encodable>(_ message: T) async throws {
        try await send(message, streaming: false)
    }

    /// Sends one message of a streaming response, waiting while the connection is not writable.
    func sendStreamMessage<T: Encodable>(_ message: T) async throws {
        try await send(message, streaming: true)
    }

    private func send<T: Encodable>(_ message: T, streaming: Bool) async throws {
        if eventLoop.inEventLoop {
            // On the connection's loop (the usual case): encode straight into its output.
            if let wait = try connection.value.writeResponse(message, call: self, streaming: streaming) {
                try await wait.get()
            }
            return
        }
        var frame = ByteBuffer()
        try codec.writeMessage(message, streamID: streamID, into: &frame)
        let wait = eventLoop.flatSubmit { [connection, frame] in
            do {
                return try connection.value.writeResponseFrame(frame, call: self, streaming: streaming) ?? self.eventLoop.makeSucceededVoidFuture()
            } catch {
                return self.eventLoop.makeFailedFuture(error)
            }
        }
        try await wait.get()
    }

    /// Ends the call with OK, or with `error`'s status.
    func finish(error: RPCError?) {
        if eventLoop.inEventLoop {
            connection.value.finishCall(streamID, error: error)
        } else {
            eventLoop.execute { [connection, streamID] in
                connection.value.finishCall(streamID, error: error)
            }
        }
    }
}
