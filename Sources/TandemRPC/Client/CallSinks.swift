import NIOCore
import Synchronization
public import TandemWire

/// Collects a call that answers with one message (unary, client streaming) and resumes the
/// caller when TRAILERS arrive. Confined to the connection's event loop.
final class SingleResponseSink: ClientStreamSink {
    /// Who waits for the response: a suspended task (unary), or a promise awaited later
    /// (client streaming, whose caller is still writing requests when the answer may come).
    enum Waiter {
        case continuation(CheckedContinuation<ClientResponse, any Error>)
        case promise(EventLoopPromise<ClientResponse>)
        /// A call passed on without a task (`RPCClient.passOn`), told on the connection's loop.
        case callback((Result<ClientResponse, RPCError>) -> Void)

        func resume(_ result: Result<ClientResponse, any Error>) {
            switch self {
            case .continuation(let continuation): continuation.resume(with: result)
            case .promise(let promise): promise.completeWith(result)
            case .callback(let callback): callback(result.mapError { RPCError(outcomeOf: $0) })
            }
        }
    }

    private var waiter: Waiter?
    private var response: ByteBuffer?
    private var messages = 0
    private var initialMetadata = Metadata()
    var deadline: NIODeadline?

    init(_ waiter: Waiter) {
        self.waiter = waiter
    }

    func receivedHeaders(_ metadata: Metadata) {
        initialMetadata = metadata
    }

    func receivedMessage(_ payload: ByteBuffer) {
        messages += 1
        response = payload
    }

    func finished(trailers: Trailers?, error: RPCError?) {
        guard let waiter else { return }
        self.waiter = nil
        if let error {
            waiter.resume(.failure(error))
        } else if let trailers, let failure = trailers.error {
            waiter.resume(.failure(failure))
        } else if messages != 1 || response == nil {
            waiter.resume(.failure(RPCError(code: .internal, message: "server ended the call with OK after \(messages) response messages instead of 1")))
        } else {
            var metadata = initialMetadata
            if let trailers { metadata.merge(trailers.metadata) }
            waiter.resume(.success(ClientResponse(payload: response!, metadata: metadata)))
        }
    }
}

/// A single response's bytes and the metadata that came with it (initial and trailing).
struct ClientResponse: Sendable {
    var payload: ByteBuffer
    var metadata: Metadata
}

/// Delivers a streaming call's response messages to an `AsyncThrowingStream`. Confined to the
/// connection's event loop. The protocol has no flow control per call, and the connection keeps
/// reading for its other calls, so a caller that reads more slowly than the server sends would
/// make the messages pile up here: past `limit` bytes not yet taken the call fails with
/// RESOURCE_EXHAUSTED (and is cancelled at the server).
final class StreamingResponseSink: ClientStreamSink {
    private let continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation
    let metadata: ResponseMetadataBox
    let buffered: BufferedBytes
    let limit: Int
    var deadline: NIODeadline?

    init(_ continuation: AsyncThrowingStream<ByteBuffer, any Error>.Continuation, metadata: ResponseMetadataBox, buffered: BufferedBytes, limit: Int) {
        self.continuation = continuation
        self.metadata = metadata
        self.buffered = buffered
        self.limit = limit
    }

    func receivedHeaders(_ metadata: Metadata) {
        self.metadata.merge(metadata)
    }

    func receivedMessage(_ payload: ByteBuffer) throws(RPCError) {
        let total = buffered.add(payload.readableBytes)
        if total > limit {
            throw RPCError(
                code: .resourceExhausted,
                message: "responses not yet read exceed \(limit) bytes (maxBufferedResponseBytes): the caller reads them more slowly than the server sends"
            )
        }
        continuation.yield(payload)
    }

    func finished(trailers: Trailers?, error: RPCError?) {
        if let trailers { metadata.merge(trailers.metadata) }
        if let failure = error ?? trailers?.error {
            continuation.finish(throwing: failure)
        } else {
            continuation.finish()
        }
    }
}

/// Response metadata of a streaming call, readable once the stream has ended.
final class ResponseMetadataBox: Sendable {
    private let storage = Mutex(Metadata())

    func merge(_ metadata: Metadata) {
        storage.withLock { $0.merge(metadata) }
    }

    var value: Metadata { storage.withLock { $0 } }
}

/// Lets a task cancel its call from any thread, before or after the stream id is known.
final class CallCancellation: Sendable {
    private let state = Mutex<(streamID: UInt32?, cancelled: Bool)>((nil, false))

    /// Records the stream id; returns false when the call was cancelled first.
    func started(_ streamID: UInt32) -> Bool {
        state.withLock { state in
            state.streamID = streamID
            return !state.cancelled
        }
    }

    /// Marks the call cancelled; returns its stream id when it has one.
    func cancel() -> UInt32? {
        state.withLock { state in
            state.cancelled = true
            return state.streamID
        }
    }
}

/// The response messages of a streaming call, decoded as they are read. The stream ends when
/// the server's TRAILERS arrive; an error status is thrown from the iteration.
public struct RPCResponseStream<Output: Decodable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = Output
    let messages: AsyncThrowingStream<ByteBuffer, any Error>
    let codec: MessageCodec
    let metadataBox: ResponseMetadataBox
    let buffered: BufferedBytes

    /// Initial and trailing metadata received so far (all of it once the stream has ended).
    public var metadata: Metadata { metadataBox.value }

    public struct AsyncIterator: AsyncIteratorProtocol {
        var inner: AsyncThrowingStream<ByteBuffer, any Error>.AsyncIterator
        let codec: MessageCodec
        let buffered: BufferedBytes

        public mutating func next() async throws -> Output? {
            guard let payload = try await inner.next() else { return nil }
            buffered.take(payload.readableBytes)
            return try codec.decodeResponse(Output.self, from: payload)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(inner: messages.makeAsyncIterator(), codec: codec, buffered: buffered)
    }
}

/// Sends the request messages of a client-streaming or bidirectional call. `write` waits while
/// the connection cannot take more bytes.
public struct RPCRequestWriter<Input: Encodable & Sendable>: Sendable {
    let connection: ClientConnection
    let streamID: UInt32

    public func write(_ message: Input) async throws {
        var frame = ByteBuffer()
        try connection.codec.writeMessage(message, streamID: 0, into: &frame)
        let handler = connection.handler
        let streamID = self.streamID
        let wait: EventLoopFuture<Void>? = try await connection.eventLoop.submit { [frame] in
            try handler.value.send(frame, streamID: streamID)
        }.get()
        try await wait?.get()
    }

    public func write(contentsOf messages: some Sequence<Input>) async throws {
        for message in messages { try await write(message) }
    }
}
