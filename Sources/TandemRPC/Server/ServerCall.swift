import NIOCore
import TandemWire

/// One call in progress on the server: the bridge between the handler's task and the
/// connection. Its methods may be called from any thread; connection state is only touched on
/// the connection's event loop.
final class ServerCall: Sendable {
    let streamID: UInt32
    let eventLoop: any EventLoop
    let connection: NIOLoopBound<ServerConnectionHandler>
    let codec: MessageCodec
    /// The request of a unary or server-streaming call (exactly one message).
    let request: ByteBuffer?
    /// The requests of a client-streaming or bidirectional call.
    let inboundMessages: AsyncThrowingStream<ByteBuffer, any Error>
    let inboundContinuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    let responseMetadata = ResponseMetadata()

    init(streamID: UInt32, connection: ServerConnectionHandler, eventLoop: any EventLoop, codec: MessageCodec, request: ByteBuffer?) {
        self.streamID = streamID
        self.eventLoop = eventLoop
        self.connection = NIOLoopBound(connection, eventLoop: eventLoop)
        self.codec = codec
        self.request = request
        (inboundMessages, inboundContinuation) = AsyncThrowingStream.makeStream(of: ByteBuffer.self, bufferingPolicy: .unbounded)
    }

    func singleRequest() throws(RPCError) -> ByteBuffer {
        guard let request else { throw RPCError(code: .internal, message: "no request message") }
        return request
    }

    /// Sends the one response of a unary or client-streaming call.
    func sendResponse<T: Encodable>(_ message: T) async throws {
        try await send(message)
    }

    /// Sends one message of a streaming response, waiting while the connection is not writable.
    func sendStreamMessage<T: Encodable>(_ message: T) async throws {
        try await send(message)
    }

    private func send<T: Encodable>(_ message: T) async throws {
        var frame = ByteBuffer()
        try codec.writeMessage(message, streamID: streamID, into: &frame)
        if eventLoop.inEventLoop {
            if let wait = try connection.value.writeResponse(frame, call: self) {
                try await wait.get()
            }
        } else {
            let wait = eventLoop.flatSubmit { [connection, frame] in
                do {
                    return try connection.value.writeResponse(frame, call: self) ?? self.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return self.eventLoop.makeFailedFuture(error)
                }
            }
            try await wait.get()
        }
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
