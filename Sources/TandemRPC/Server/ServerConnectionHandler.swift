import Logging
import Metrics
import NIOCore
import NIOSSL
import NIOTLS
import ServiceContextModule
import Synchronization
import TandemWire

/// What every connection of one server shares: the router, interceptors, configuration.
final class ServerShared: Sendable {
    let handlers: [String: ServerMethodHandler]
    let interceptors: [any ServerInterceptor]
    let configuration: ServerConfiguration
    let logger: Logger
    let registry: ConnectionRegistry
    let metrics = ServerMetrics()
    private let draining = Atomic<Bool>(false)
    /// Bytes of requests held in memory on every connection: those whose END_STREAM has not
    /// arrived yet, and the messages of streaming requests not yet read by their handlers
    /// (`ServerConfiguration.maxPendingRequestBytesTotal`).
    let pendingRequestBytes = BufferedBytes()

    var isDraining: Bool { draining.load(ordering: .relaxed) }

    func beginDraining() {
        draining.store(true, ordering: .relaxed)
    }

    /// The interceptors' synchronous forms, when every one has one: calls of methods registered
    /// `passingOn` are then passed on without a task when all of them can decide at once.
    let synchronousInterceptors: [any SynchronousServerInterceptor]?

    init(handlers: [String: ServerMethodHandler], interceptors: [any ServerInterceptor], configuration: ServerConfiguration, logger: Logger) {
        self.handlers = handlers
        self.interceptors = interceptors
        let synchronous = interceptors.compactMap { $0 as? any SynchronousServerInterceptor }
        self.synchronousInterceptors = synchronous.count == interceptors.count ? synchronous : nil
        self.configuration = configuration
        self.logger = logger
        self.registry = ConnectionRegistry()
    }
}

/// Connection-level counters of a server (swift-metrics; the process's metrics backend).
struct ServerMetrics: Sendable {
    let accepted = Counter(label: "tandem_rpc_connections_accepted_total")
    let handshakeFailures = Counter(label: "tandem_rpc_tls_handshake_failures_total")
    let refusedOverLimit = Counter(label: "tandem_rpc_connections_refused_total", dimensions: [("reason", "limit")])
    let refusedDraining = Counter(label: "tandem_rpc_connections_refused_total", dimensions: [("reason", "draining")])
    let framesOversized = Counter(label: "tandem_rpc_frames_rejected_total", dimensions: [("reason", "oversized")])
    let protocolErrors = Counter(label: "tandem_rpc_frames_rejected_total", dimensions: [("reason", "protocol")])
    let pendingRequestsRefused = Counter(label: "tandem_rpc_frames_rejected_total", dimensions: [("reason", "pending")])
}

/// Serves one client connection: reads frames, runs calls, writes responses (Protocols/WIRE.md).
///
/// Confined to its event loop. Connection-level protocol state lives in
/// `ServerConnectionStateMachine`; this handler keeps the streams and performs the actions.
/// Handlers start with `Task.immediate` on this event loop's executor, so a handler that does
/// not suspend answers within the same read, without a thread hop; responses of one read cycle
/// are written with one flush.
final class ServerConnectionHandler: ChannelDuplexHandler, CoalescedOutput {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// A stream's state; a class so that looking one up copies nothing.
    private final class Stream {
        let handler: ServerMethodHandler
        let headers: RequestHeaders
        var call: ServerCall?
        var task: Task<Void, Never>?
        /// The upstream call of a call passed on without a task.
        var passedOn: PassedOnCall?
        /// When the call must be over (its client's timeout), if it has one.
        var deadline: NIODeadline?
        /// Request messages received (unary and server streaming take exactly one).
        var request: ByteBuffer?
        /// When the request must be complete (unary and server streaming: END_STREAM received),
        /// while it is not (`ServerConfiguration.requestTimeout`).
        var requestDue: NIODeadline?
        /// Bytes of `request` counted against the pending-request limits.
        var pendingBytes = 0
        var requestCount = 0
        var halfClosed = false
        var sentHeaders = false
        /// The call's request id, echoed in its trailers.
        var requestID: String?

        init(handler: ServerMethodHandler, headers: RequestHeaders) {
            self.handler = handler
            self.headers = headers
        }

        /// The call will not be answered (CANCEL, deadline, a failure, the connection closed):
        /// stops its handler's task, or the upstream call it was passed on as.
        func abandon(_ reason: RPCError) {
            task?.cancel()
            passedOn?.cancel(reason)
        }
    }

    private let shared: ServerShared
    private let connectionID: UInt64
    private let overLimit: Bool
    private var logger: Logger
    private var state: ServerConnectionStateMachine
    private var streams: [UInt32: Stream] = [:]
    var context: ChannelHandlerContext?
    private var executor: EventLoopTaskExecutor?
    private var codec: MessageCodec
    private var peer = PeerIdentity(address: "?")

    var outbound = ByteBuffer()
    var inReadCycle = false
    var flushScheduled = false
    private var readHeld = false
    private var writabilityWaiters: [EventLoopPromise<Void>] = []

    private var handshakeTimer: Scheduled<Void>?
    /// The TLS handshake completed (failures before it count as handshake failures).
    private var tlsEstablished = false
    private var idleTimer: Scheduled<Void>?
    /// Fires by the earliest deadline of the open streams.
    private var deadlineTimer = DeadlineTimer()
    /// Streaming response bytes written since the connection last read (see `afterResponse`;
    /// a unary response is one write, and its handler ends with it).
    private var writtenSinceRead = 0
    static let writtenBeforeReading = 256 * 1024
    /// Bytes of this connection's requests not complete yet (`maxPendingRequestBytes`).
    private var pendingRequestBytes = 0
    private var keepaliveTimer: Scheduled<Void>?
    private var nextPingPayload: UInt64 = 1
    private var closing = false

    init(shared: ServerShared, connectionID: UInt64, overLimit: Bool) {
        self.shared = shared
        self.connectionID = connectionID
        self.overLimit = overLimit
        self.state = ServerConnectionStateMachine(limits: .init(maxConcurrentStreams: shared.configuration.maxConcurrentStreams))
        self.codec = MessageCodec(
            compressionThreshold: shared.configuration.compressionThreshold,
            compressOutbound: false,
            maxDecompressedSize: shared.configuration.maxDecompressedSize
        )
        var logger = shared.logger
        logger[metadataKey: "connection"] = "\(connectionID)"
        self.logger = logger
    }

    // MARK: Lifecycle

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        self.executor = EventLoopTaskExecutor(context.eventLoop)
        if let address = context.channel.remoteAddress {
            peer.address = "\(address.ipAddress ?? "?"):\(address.port ?? 0)"
            logger[metadataKey: "peer"] = "\(peer.address)"
        }
        shared.registry.add(self, id: connectionID, eventLoop: context.eventLoop)
        shared.metrics.accepted.increment()
        let timeout = shared.configuration.handshakeTimeout
        handshakeTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self, case .awaitingSettings = self.state.state else { return }
            self.logger.debug("handshake timed out", metadata: ["timeout": "\(timeout)"])
            if !self.tlsEstablished { self.shared.metrics.handshakeFailures.increment() }
            self.close()
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        state.closed()
        cancelTimers()
        deadlineTimer.cancel()
        for (_, stream) in streams {
            releasePending(stream)
            stream.call?.inbound?.continuation.finish(throwing: RPCError(code: .cancelled, message: "connection closed"))
            stream.abandon(RPCError(code: .cancelled, message: "the client's connection closed"))
        }
        streams.removeAll()
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(RPCError(code: .unavailable, message: "connection closed")) }
        shared.registry.remove(id: connectionID)
        logger.debug("connection closed")
        context.fireChannelInactive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            tlsHandshakeCompleted(context: context)
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func tlsHandshakeCompleted(context: ChannelHandlerContext) {
        tlsEstablished = true
        if let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLServerHandler.self),
           let certificate = handler.peerCertificate {
            peer.certificateNames = certificateNames(certificate)
        }
        if overLimit {
            shared.metrics.refusedOverLimit.increment()
            sendGoAway(.resourceExhausted, "too many connections (limit \(shared.configuration.maxConnections))")
            close()
            return
        }
        if shared.isDraining {
            // Accepted just as the server began draining: turn it away like the others.
            shared.metrics.refusedDraining.increment()
            sendGoAway(.unavailable, "draining")
            close()
            return
        }
        if let allowed = shared.configuration.tls.allowedClientNames, allowed.isDisjoint(with: peer.certificateNames) {
            logger.warning("client certificate names are not allowed", metadata: ["names": "\(peer.certificateNames)"])
            sendGoAway(.permissionDenied, "client certificate does not name an allowed service")
            close()
            return
        }
        var settings = ByteBuffer()
        Settings(
            maxFrameSize: UInt32(shared.configuration.maxFrameSize),
            maxConcurrentStreams: UInt32(shared.configuration.maxConcurrentStreams),
            compression: ["deflate"],
            maxDecompressedSize: UInt32(shared.configuration.maxDecompressedSize),
            agent: shared.configuration.agent
        ).encode(into: &settings)
        outbound.writeFrame(Frame(type: .settings, streamID: 0, payload: settings))
        flushNow()
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadCycle = true
        switch unwrapInboundIn(data) {
        case .frame(let frame):
            received(frame)
        case .oversized(let header):
            receivedOversized(header)
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadCycle = false
        writtenSinceRead = 0
        flushNow()
        context.fireChannelReadComplete()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        switch error {
        case let error as FramingError:
            shared.metrics.protocolErrors.increment()
            logger.debug("closing connection: \(error)")
        case let error as NIOSSLError:
            if !tlsEstablished { shared.metrics.handshakeFailures.increment() }
            logger.debug("TLS error: \(error)")
        case let error as BoringSSLError:
            if !tlsEstablished { shared.metrics.handshakeFailures.increment() }
            logger.debug("TLS error: \(error)")
        default:
            logger.debug("connection error: \(error)")
        }
        close()
    }

    private func received(_ frame: Frame) {
        if let violation = state.checkStream(frame.type, streamID: frame.streamID) {
            protocolError(violation)
            return
        }
        switch frame.type {
        case .settings:
            switch state.receivedSettings(frame.payload) {
            case .accept(let settings):
                handshakeTimer?.cancel()
                handshakeTimer = nil
                codec.peerMaxFrameSize = Int(settings.maxFrameSize)
                codec.compressOutbound = shared.configuration.compressionEnabled && settings.compression.contains("deflate")
                startKeepalive()
                startIdleTimer()
            case .protocolError(let message):
                protocolError(message)
            }
        case .headers:
            receivedHeaders(frame)
        case .message:
            receivedMessage(frame)
        case .cancel:
            if let stream = streams[frame.streamID] {
                closeStream(frame.streamID)
                stream.abandon(RPCError(code: .cancelled, message: "the client cancelled the call"))
            }
        case .ping:
            guard frame.payload.readableBytes == 8 else { return protocolError("PING payload must be 8 bytes") }
            outbound.writeFrame(Frame(type: .pong, streamID: 0, payload: frame.payload))
            scheduleFlush()
        case .pong:
            if frame.payload.readableBytes == 8, let payload = frame.payload.getInteger(at: frame.payload.readerIndex, as: UInt64.self) {
                state.receivedPong(payload)
            }
        case .goAway:
            // The client is leaving: finish what is open, accept nothing new.
            beginDrain(sendGoAway: false)
        case .trailers:
            protocolError("clients do not send TRAILERS")
        default:
            break  // Unknown frame types are ignored (WIRE.md §2.2).
        }
    }

    private func receivedOversized(_ header: FrameHeader) {
        shared.metrics.framesOversized.increment()
        let message = "frame of \(header.length) bytes exceeds the maximum of \(shared.configuration.maxFrameSize) bytes"
        if header.streamID == 0 {
            sendGoAway(.resourceExhausted, message)
            close()
        } else if streams[header.streamID] != nil {
            failStream(header.streamID, RPCError(code: .resourceExhausted, message: message))
        } else if header.type == .headers, state.receivedHeaders(streamID: header.streamID) == .open {
            // A HEADERS frame that opened a stream: answer on it.
            writeTrailers(header.streamID, RPCError(code: .resourceExhausted, message: message).trailers)
            handleCloseAction(state.streamClosed())
        }
    }

    private func receivedHeaders(_ frame: Frame) {
        let streamID = frame.streamID
        if streams[streamID] != nil { return protocolError("HEADERS twice on stream \(streamID)") }
        switch state.receivedHeaders(streamID: streamID) {
        case .protocolError(let message):
            return protocolError(message)
        case .refuse(let code, let message):
            writeTrailers(streamID, Trailers(code: code, message: message))
            scheduleFlush()
            return
        case .open:
            break
        }
        idleTimer?.cancel()
        idleTimer = nil
        let headers: RequestHeaders
        do {
            headers = try RequestHeaders(decoding: frame.payload)
        } catch {
            writeTrailers(streamID, Trailers(code: .invalidArgument, message: error.description))
            handleCloseAction(state.streamClosed())
            return
        }
        guard let handler = shared.handlers[headers.method] else {
            writeTrailers(streamID, Trailers(code: .unimplemented, message: "method \(headers.method) is not implemented by this server"))
            handleCloseAction(state.streamClosed())
            return
        }
        let stream = Stream(handler: handler, headers: headers)
        streams[streamID] = stream
        if let timeout = headers.timeoutMicroseconds, let context {
            // The event loop's clock (a test's embedded loop has its own).
            let deadline = context.eventLoop.now + .microseconds(Int64(clamping: timeout))
            stream.deadline = deadline
            armDeadlineTimer(by: deadline)
        }
        switch handler.descriptor.kind {
        case .clientStreaming, .bidirectionalStreaming:
            start(streamID)
            if frame.flags.contains(.endStream) { receivedEndStream(streamID) }
        case .unary, .serverStreaming:
            if frame.flags.contains(.endStream) {
                receivedEndStream(streamID)
            } else if let context {
                // Nothing runs (no authentication, no rate limit) until the request is complete, so
                // an incomplete one may not hold its stream and its bytes for long.
                let due = context.eventLoop.now + shared.configuration.requestTimeout
                stream.requestDue = due
                armDeadlineTimer(by: due)
            }
        }
    }

    private func receivedMessage(_ frame: Frame) {
        let streamID = frame.streamID
        guard let stream = streams[streamID], !stream.halfClosed else { return }  // finished or cancelled
        let hasMessage = frame.payload.readableBytes > 0
        if hasMessage {
            let payload: ByteBuffer
            do {
                payload = try codec.payload(of: frame)
            } catch {
                return failStream(streamID, error)
            }
            switch stream.handler.descriptor.kind {
            case .unary, .serverStreaming:
                stream.requestCount += 1
                if stream.requestCount > 1 {
                    return failStream(streamID, RPCError(code: .invalidArgument, message: "\(stream.handler.descriptor.kind) method expects exactly one request message"))
                }
                if !frame.flags.contains(.endStream), let error = holdPending(stream, bytes: payload.readableBytes) {
                    return failStream(streamID, error)
                }
                stream.request = payload
            case .clientStreaming, .bidirectionalStreaming:
                guard let call = stream.call else { break }
                let configuration = shared.configuration
                if let error = call.holdUnread(
                    payload.readableBytes, limit: configuration.maxPendingRequestBytes, totalLimit: configuration.maxPendingRequestBytesTotal
                ) {
                    shared.metrics.pendingRequestsRefused.increment()
                    return failStream(streamID, error)
                }
                call.inbound?.continuation.yield(payload)
            }
        }
        if frame.flags.contains(.endStream) { receivedEndStream(streamID) }
    }

    private func receivedEndStream(_ streamID: UInt32) {
        guard let stream = streams[streamID], !stream.halfClosed else { return }
        stream.halfClosed = true
        stream.requestDue = nil
        releasePending(stream)
        switch stream.handler.descriptor.kind {
        case .unary, .serverStreaming:
            guard stream.request != nil else {
                return failStream(streamID, RPCError(code: .invalidArgument, message: "\(stream.handler.descriptor.kind) method expects exactly one request message, got none"))
            }
            start(streamID)
        case .clientStreaming, .bidirectionalStreaming:
            stream.call?.inbound?.continuation.finish()
        }
    }

    // MARK: Running calls

    private func start(_ streamID: UInt32) {
        guard let context, let executor, let stream = streams[streamID] else { return }
        let kind = stream.handler.descriptor.kind
        let request = stream.request
        let call = ServerCall(
            streamID: streamID, connection: self, eventLoop: context.eventLoop, codec: codec, request: request,
            streamingRequests: kind == .clientStreaming || kind == .bidirectionalStreaming, held: shared.pendingRequestBytes
        )
        stream.call = call
        stream.request = nil

        let headers = stream.headers
        let requestID = headers.metadata[Metadata.Keys.requestID] ?? RequestID.make()
        stream.requestID = requestID
        let deadline = headers.timeoutMicroseconds.map { NIODeadline.now() + .microseconds(Int64(clamping: $0)) }
        let serverContext = ServerContext(
            method: headers.method, metadata: headers.metadata, deadline: deadline, requestID: requestID, peer: peer,
            logger: logger, serviceContext: .topLevel, responseMetadata: call
        )
        if let passOn = stream.handler.passOn, let request, let chain = shared.synchronousInterceptors, passOn.upstream.passesOnSynchronously {
            var checked = serverContext
            if chain.allSatisfy({ $0.beginsSynchronously(&checked) }) {
                return self.passOn(stream, streamID, passOn, request: request, context: checked, chain: chain, eventLoop: context.eventLoop)
            }
        }
        let run = stream.handler.run
        let interceptors = shared.interceptors
        let operation: @Sendable () async -> Void = {
            var failure: RPCError?
            do {
                try await RPCTaskContext.$current.withValue(.init(deadline: deadline, requestID: requestID)) {
                    try await intercept(interceptors[...], serverContext) { context in
                        try await run(call, context)
                    }
                }
            } catch {
                failure = Self.status(for: error, logger: serverContext.logger, requestID: requestID)
            }
            call.finish(error: failure)
        }
        let task: Task<Void, Never>
        switch shared.configuration.handlerExecution {
        case .eventLoop:
            task = Task.immediate(executorPreference: executor, operation: operation)
        case .globalExecutor:
            task = Task(operation: operation)
        }
        // The handler may have finished inline; only keep the task of a stream still open.
        if streams[streamID] === stream {
            stream.task = task
        }
    }

    /// Passes a call on to its upstream server from this event loop, without a task: the
    /// interceptors' synchronous forms check it, the request (checked to be one well-formed CBOR
    /// item) goes on unread, and the answer is written when it comes back.
    private func passOn(
        _ stream: Stream, _ streamID: UInt32, _ passOn: PassOn, request: ByteBuffer, context: ServerContext,
        chain: [any SynchronousServerInterceptor], eventLoop: any EventLoop
    ) {
        var context = context
        var ends: [CallEnd] = []
        do {
            for interceptor in chain {
                if let end = try interceptor.begin(&context) { ends.append(end) }
            }
            try codec.checkRequest(request)
        } catch {
            for end in ends.reversed() { end(error) }
            return finishCall(streamID, error: error)
        }
        var metadata = passOn.metadata(context)
        if metadata[Metadata.Keys.requestID] == nil { metadata[Metadata.Keys.requestID] = context.requestID }
        let upstream = passOn.upstream.passOn(
            method: passOn.method, idempotent: passOn.idempotent, payload: request, metadata: metadata, deadline: stream.deadline,
            context: context.serviceContext, on: eventLoop
        ) { [weak self] result in
            for end in ends.reversed() { end(result.failure) }
            self?.passedOnAnswered(stream, streamID, result)
        }
        // Unless it is over already (it failed before it was sent).
        if streams[streamID] === stream { stream.passedOn = upstream }
    }

    /// Writes the answer of a call passed on, when the call is still open.
    private func passedOnAnswered(_ stream: Stream, _ streamID: UInt32, _ result: Result<ClientResponse, RPCError>) {
        guard streams[streamID] === stream else { return }
        stream.passedOn = nil
        switch result {
        case .success(let response):
            do {
                try codec.writePayload(response.payload, streamID: streamID, into: &outbound)
            } catch {
                return finishCall(streamID, error: RPCError(outcomeOf: error))
            }
            finishCall(streamID, error: nil)
        case .failure(let error):
            finishCall(streamID, error: error)
        }
    }

    /// The status a client sees for an error a handler threw: an `RPCError` as it is; anything
    /// else as UNKNOWN, without internals (the error is logged with the request id).
    static func status(for error: any Error, logger: Logger, requestID: String) -> RPCError {
        switch error {
        case let error as RPCError:
            return error
        case is CancellationError:
            return RPCError(code: .cancelled, message: "call was cancelled")
        default:
            // Only the error's type: its description or reflection could carry secrets.
            logger.warning("handler failed with an unexpected error", metadata: ["error-type": "\(type(of: error))"])
            return RPCError(code: .unknown, message: "internal error (request id \(requestID))")
        }
    }

    /// Encodes a response message for `call` straight into the output. Returns a future to wait
    /// on when the connection is not writable (back-pressure), nil when the caller may go on.
    func writeResponse<T: Encodable>(_ message: T, call: ServerCall, streaming: Bool) throws -> EventLoopFuture<Void>? {
        try prepareResponse(call)
        let start = outbound.writerIndex
        try codec.writeMessage(message, streamID: call.streamID, into: &outbound)
        if streaming { writtenSinceRead += outbound.writerIndex - start }
        return afterResponse()
    }

    /// Writes a response frame encoded off the event loop.
    func writeResponseFrame(_ frame: ByteBuffer, call: ServerCall, streaming: Bool) throws -> EventLoopFuture<Void>? {
        try prepareResponse(call)
        var frame = frame
        if streaming { writtenSinceRead += frame.readableBytes }
        outbound.writeBuffer(&frame)
        return afterResponse()
    }

    private func prepareResponse(_ call: ServerCall) throws {
        guard let stream = streams[call.streamID], stream.call === call else {
            throw RPCError(code: .cancelled, message: "call is no longer active")
        }
        if !stream.sentHeaders {
            stream.sentHeaders = true
            let initial = call.initialMetadata
            if !initial.isEmpty {
                outbound.writeFrame(type: .headers, streamID: call.streamID) { ResponseHeaders(metadata: initial).encode(into: &$0) }
            }
        }
    }

    private func afterResponse() -> EventLoopFuture<Void>? {
        guard let context else { return nil }
        scheduleFlush()
        guard context.channel.isWritable else {
            let promise = context.eventLoop.makePromise(of: Void.self)
            writabilityWaiters.append(promise)
            return promise.futureResult
        }
        if writtenSinceRead >= Self.writtenBeforeReading {
            // A handler whose writes never wait (its client reads as fast as it writes) runs on
            // this loop without a break: the loop runs every job that is ready before it polls its
            // sockets again, so the connection would read nothing — not the client's CANCEL, nor
            // its other calls — until the stream ended. A pause that is not ready at once (a timer)
            // lets the loop poll first. Reads reset the count, so a busy connection never pauses.
            writtenSinceRead = 0
            return context.eventLoop.scheduleTask(in: .microseconds(50)) {}.futureResult
        }
        return nil
    }

    /// The handler's task ended: send the trailers (unless the call was already answered).
    func finishCall(_ streamID: UInt32, error: RPCError?) {
        guard let stream = streams[streamID] else { return }
        var trailers = error?.trailers ?? Trailers(code: .ok)
        if let call = stream.call { trailers.metadata.merge(call.trailingMetadata) }
        if let requestID = stream.requestID { trailers.metadata.append(Metadata.Keys.requestID, requestID) }
        writeTrailers(streamID, trailers)
        closeStream(streamID)
    }

    private func armDeadlineTimer(by deadline: NIODeadline) {
        guard !deadlineTimer.fires(by: deadline), let context else { return }
        deadlineTimer.arm(by: deadline, on: context.eventLoop) { [weak self] in self?.deadlinesDue() }
    }

    /// The deadline timer fired: ends the streams that are due (their call's deadline, or the
    /// time their request had to be complete by), and arms it for the next one.
    private func deadlinesDue() {
        guard let context else { return }
        deadlineTimer.fired()
        let now = context.eventLoop.now
        let (due, next) = DeadlineTimer.due(streams.lazy.map { ($0.key, Self.earliest($0.value.deadline, $0.value.requestDue)) }, now: now)
        for streamID in due {
            if let requestDue = streams[streamID]?.requestDue, requestDue <= now {
                failStream(streamID, RPCError(
                    code: .deadlineExceeded, message: "the request was not complete within \(shared.configuration.requestTimeout) of its HEADERS"
                ))
            } else {
                deadlineExpired(streamID)
            }
        }
        if let next { armDeadlineTimer(by: next) }
    }

    private static func earliest(_ first: NIODeadline?, _ second: NIODeadline?) -> NIODeadline? {
        guard let first else { return second }
        guard let second else { return first }
        return min(first, second)
    }

    /// Counts an incomplete request's bytes against the connection's and the server's limits;
    /// the error to fail its stream with when either would be exceeded.
    private func holdPending(_ stream: Stream, bytes: Int) -> RPCError? {
        let configuration = shared.configuration
        if pendingRequestBytes + bytes > configuration.maxPendingRequestBytes {
            shared.metrics.pendingRequestsRefused.increment()
            return RPCError(
                code: .resourceExhausted,
                message: "incomplete requests on this connection would hold more than \(configuration.maxPendingRequestBytes) bytes; send END_STREAM with the message"
            )
        }
        if shared.pendingRequestBytes.add(bytes) > configuration.maxPendingRequestBytesTotal {
            shared.pendingRequestBytes.take(bytes)
            shared.metrics.pendingRequestsRefused.increment()
            return RPCError(code: .resourceExhausted, message: "the server holds too many incomplete requests; try again")
        }
        pendingRequestBytes += bytes
        stream.pendingBytes = bytes
        return nil
    }

    private func releasePending(_ stream: Stream) {
        guard stream.pendingBytes > 0 else { return }
        pendingRequestBytes -= stream.pendingBytes
        shared.pendingRequestBytes.take(stream.pendingBytes)
        stream.pendingBytes = 0
    }

    private func deadlineExpired(_ streamID: UInt32) {
        guard let stream = streams[streamID] else { return }
        writeTrailers(streamID, Trailers(code: .deadlineExceeded, message: "deadline exceeded"))
        closeStream(streamID)
        stream.abandon(RPCError(code: .deadlineExceeded, message: "deadline exceeded"))
    }

    /// Ends a stream with an error status and cancels its handler.
    private func failStream(_ streamID: UInt32, _ error: RPCError) {
        guard let stream = streams[streamID] else { return }
        writeTrailers(streamID, error.trailers)
        closeStream(streamID)
        stream.abandon(error)
    }

    private func closeStream(_ streamID: UInt32) {
        guard let stream = streams.removeValue(forKey: streamID) else { return }
        releasePending(stream)
        stream.call?.inbound?.continuation.finish(throwing: RPCError(code: .cancelled, message: "call ended"))
        handleCloseAction(state.streamClosed())
    }

    private func handleCloseAction(_ action: ServerConnectionStateMachine.CloseAction) {
        switch action {
        case .none:
            break
        case .close:
            flushNow()
            close()
        case .startIdleTimer:
            startIdleTimer()
        }
    }

    private func writeTrailers(_ streamID: UInt32, _ trailers: Trailers) {
        outbound.writeFrame(type: .trailers, streamID: streamID) { trailers.encode(into: &$0) }
        scheduleFlush()
    }

    // MARK: Connection control

    private func protocolError(_ message: String) {
        shared.metrics.protocolErrors.increment()
        logger.debug("protocol error: \(message)")
        sendGoAway(.internal, message)
        close()
    }

    private func sendGoAway(_ code: StatusCode, _ message: String) {
        outbound.writeFrame(type: .goAway, streamID: 0) {
            GoAway(lastStreamID: state.lastStreamID, code: code, message: message).encode(into: &$0)
        }
        flushNow()
    }

    /// Starts a graceful drain: GOAWAY, finish calls in flight, refuse new ones, then close.
    func beginDrain(sendGoAway: Bool = true) {
        switch state.beginDrain() {
        case .none:
            return
        case .sendGoAway(_, let closeNow):
            if sendGoAway { self.sendGoAway(.unavailable, "draining") }
            if closeNow { close() }
        }
    }

    /// Cancels every call and closes (the end of a drain's grace period).
    func forceClose() {
        for (streamID, _) in streams {
            failStream(streamID, RPCError(code: .unavailable, message: "server shut down before the call finished"))
        }
        flushNow()
        close()
    }

    private func close() {
        guard !closing, let context else { return }
        closing = true
        cancelTimers()
        flushNow()
        context.close(promise: nil)
    }

    private func cancelTimers() {
        handshakeTimer?.cancel()
        idleTimer?.cancel()
        keepaliveTimer?.cancel()
        handshakeTimer = nil
        idleTimer = nil
        keepaliveTimer = nil
    }

    private func startIdleTimer() {
        guard let context, idleTimer == nil, streams.isEmpty, state.state == .active else { return }
        let timeout = shared.configuration.idleTimeout
        idleTimer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) { [weak self] in
            guard let self else { return }
            self.idleTimer = nil
            guard self.streams.isEmpty else { return }
            self.logger.debug("closing idle connection")
            self.sendGoAway(.unavailable, "idle for \(timeout)")
            self.close()
        }
    }

    private func startKeepalive() {
        guard let context, keepaliveTimer == nil else { return }
        keepaliveTimer = context.eventLoop.assumeIsolated().scheduleTask(in: shared.configuration.keepaliveInterval) { [weak self] in
            self?.keepaliveTimer = nil
            self?.sendKeepalivePing()
        }
    }

    private func sendKeepalivePing() {
        guard let context, !closing else { return }
        let payload = nextPingPayload
        nextPingPayload &+= 1
        switch state.keepaliveTimerFired(nextPayload: payload) {
        case .close:
            close()
        case .sendPing(let payload):
            var bytes = ByteBuffer()
            bytes.writeInteger(payload)
            outbound.writeFrame(Frame(type: .ping, streamID: 0, payload: bytes))
            flushNow()
            context.eventLoop.assumeIsolated().scheduleTask(in: shared.configuration.keepaliveTimeout) { [weak self] in
                guard let self, self.state.pingTimedOut(payload) else { return }
                self.logger.debug("keepalive ping unanswered; closing")
                self.close()
            }
            startKeepalive()
        }
    }

    // MARK: Back-pressure (writing: `CoalescedOutput`)

    func read(context: ChannelHandlerContext) {
        // Stop reading requests while responses cannot be written: a client that does not read
        // cannot make this server buffer without bound.
        if context.channel.isWritable {
            context.read()
        } else {
            readHeld = true
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = writabilityWaiters
            writabilityWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
            if readHeld {
                readHeld = false
                context.read()
            }
        }
        context.fireChannelWritabilityChanged()
    }
}

/// Runs `body` inside every interceptor, outermost first.
func intercept(
    _ interceptors: ArraySlice<any ServerInterceptor>, _ context: ServerContext,
    _ body: @escaping @Sendable (ServerContext) async throws -> Void
) async throws {
    guard let first = interceptors.first else { return try await body(context) }
    let rest = interceptors.dropFirst()
    try await first.intercept(context: context) { context in
        try await intercept(rest, context, body)
    }
}

/// The DNS names in a peer certificate's subject alternative names (where Tandem certificates
/// name their service).
func certificateNames(_ certificate: NIOSSLCertificate) -> [String] {
    var names: [String] = []
    for name in certificate._subjectAlternativeNames() where name.nameType == .dnsName {
        let text = String(decoding: name.contents, as: UTF8.self)
        if !names.contains(text) { names.append(text) }
    }
    return names
}
