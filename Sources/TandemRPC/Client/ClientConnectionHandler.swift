import Logging
import NIOCore
import NIOSSL
import NIOTLS
import TandemWire

/// Receives one client call's response frames. Called on the connection's event loop.
protocol ClientStreamSink: AnyObject {
    /// When the call must be over (the connection then cancels it with DEADLINE_EXCEEDED).
    var deadline: NIODeadline? { get set }
    func receivedHeaders(_ metadata: Metadata)
    /// Throws (and the call is cancelled with that error) when the message cannot be taken.
    func receivedMessage(_ payload: ByteBuffer) throws(RPCError)
    /// The call is over: TRAILERS arrived (`trailers`), or it failed locally (`error`).
    func finished(trailers: Trailers?, error: RPCError?)
}

/// The client side of one connection (Protocols/WIRE.md): sends the preface and SETTINGS,
/// multiplexes calls over streams, routes response frames to their calls, answers PINGs, and
/// reacts to GOAWAY. Confined to its event loop; outbound frames of one loop tick share a flush.
final class ClientConnectionHandler: ChannelDuplexHandler, CoalescedOutput {
    typealias InboundIn = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    enum State {
        case connecting
        /// Preface and SETTINGS sent; waiting for the server's SETTINGS.
        case awaitingSettings
        case ready
        /// GOAWAY received: calls up to `lastStreamID` go on, nothing new starts.
        case goingAway(lastStreamID: UInt32)
        case closed
    }

    private(set) var state: State = .connecting
    var context: ChannelHandlerContext?
    private var streams: [UInt32: any ClientStreamSink] = [:]
    /// Fires by the earliest deadline of the open streams.
    private var deadlineTimer = DeadlineTimer()
    private var nextStreamID: UInt32 = 1
    private(set) var codec: MessageCodec
    var outbound = ByteBuffer()
    var inReadCycle = false
    var flushScheduled = false
    private var writabilityWaiters: [EventLoopPromise<Void>] = []
    private let readyPromise: EventLoopPromise<Void>
    private let settings: Settings
    private let logger: Logger
    /// The name the server's certificate must carry (checked after the TLS handshake: NIOSSL
    /// also accepts a certificate whose IP address matches, which says nothing about the service).
    private let expectedServerName: String?
    /// Called (on the event loop) when the connection stops taking new calls: GOAWAY or close.
    var onUnusable: (() -> Void)?

    init(readyPromise: EventLoopPromise<Void>, configuration: ClientConfiguration, expectedServerName: String?, logger: Logger) {
        self.readyPromise = readyPromise
        self.expectedServerName = expectedServerName
        self.settings = Settings(
            maxFrameSize: UInt32(configuration.maxFrameSize), maxConcurrentStreams: 0,
            compression: configuration.acceptsCompressedResponses ? ["deflate"] : [],
            maxDecompressedSize: UInt32(configuration.maxDecompressedSize), agent: configuration.agent
        )
        self.codec = MessageCodec(
            compressionThreshold: configuration.compressionThreshold, compressOutbound: false,
            maxDecompressedSize: configuration.maxDecompressedSize
        )
        self.logger = logger
    }

    /// Whether a new call may start here.
    var isUsable: Bool {
        if case .ready = state { return nextStreamID <= FrameHeader.maxStreamID }
        return false
    }

    var openStreams: Int { streams.count }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .handshakeCompleted = event as? TLSUserEvent {
            if let expectedServerName {
                let handler = try? context.pipeline.syncOperations.handler(type: NIOSSLClientHandler.self)
                let names = handler?.peerCertificate.map(certificateNames) ?? []
                guard names.contains(expectedServerName) else {
                    let error = RPCError(
                        code: .unavailable,
                        message: "server certificate names \(names), not the expected service '\(expectedServerName)'"
                    )
                    readyPromise.fail(error)
                    context.close(promise: nil)
                    return
                }
            }
            state = .awaitingSettings
            outbound.writeBytes(ConnectionPreface.bytes)
            outbound.writeFrame(type: .settings, streamID: 0) { settings.encode(into: &$0) }
            flushNow()
        }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        state = .closed
        deadlineTimer.cancel()
        let waiters = writabilityWaiters
        writabilityWaiters.removeAll()
        for waiter in waiters { waiter.fail(RPCError(code: .unavailable, message: "connection closed")) }
        readyPromise.fail(RPCError(code: .unavailable, message: "connection closed before it was ready"))
        failAll(RPCError(code: .unavailable, message: "connection closed"))
        onUnusable?()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        logger.debug("client connection error: \(error)")
        readyPromise.fail(RPCError(code: .unavailable, message: "connection failed: \(error)"))
        context.close(promise: nil)
    }

    // MARK: Reading

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inReadCycle = true
        switch unwrapInboundIn(data) {
        case .frame(let frame):
            received(frame)
        case .oversized(let header):
            let message = "response frame of \(header.length) bytes exceeds the maximum of \(settings.maxFrameSize) bytes"
            if header.streamID == 0 {
                closeWithError(RPCError(code: .resourceExhausted, message: message))
            } else if let sink = streams.removeValue(forKey: header.streamID) {
                writeCancel(header.streamID)
                sink.finished(trailers: nil, error: RPCError(code: .resourceExhausted, message: message))
            }
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        inReadCycle = false
        flushNow()
        context.fireChannelReadComplete()
    }

    private func received(_ frame: Frame) {
        switch frame.type {
        case .settings:
            guard case .awaitingSettings = state else { return closeWithError(RPCError(code: .internal, message: "unexpected SETTINGS")) }
            do {
                let peer = try Settings(decoding: frame.payload)
                codec.peerMaxFrameSize = Int(peer.maxFrameSize)
                codec.compressOutbound = peer.compression.contains("deflate") && codec.compressionThreshold > 0
                state = .ready
                readyPromise.succeed()
            } catch {
                closeWithError(RPCError(code: .internal, message: error.description))
            }
        case .headers:
            guard let sink = streams[frame.streamID] else { return }
            do {
                sink.receivedHeaders(try ResponseHeaders(decoding: frame.payload).metadata)
            } catch {
                fail(frame.streamID, RPCError(code: .internal, message: error.description), cancel: true)
            }
        case .message:
            guard let sink = streams[frame.streamID] else { return }
            do {
                try sink.receivedMessage(try codec.payload(of: frame))
            } catch {
                fail(frame.streamID, error, cancel: true)
            }
        case .trailers:
            guard let sink = streams.removeValue(forKey: frame.streamID) else { return }
            do {
                sink.finished(trailers: try Trailers(decoding: frame.payload), error: nil)
            } catch {
                sink.finished(trailers: nil, error: RPCError(code: .internal, message: error.description))
            }
            afterStreamClosed()
        case .ping:
            outbound.writeFrame(Frame(type: .pong, streamID: 0, payload: frame.payload))
            scheduleFlush()
        case .goAway:
            let goAway = try? GoAway(decoding: frame.payload)
            let last = goAway?.lastStreamID ?? 0
            if case .awaitingSettings = state {
                // Turned away before the connection was ready (connection limit, not allowed).
                let code = goAway.map { $0.code == .ok ? .unavailable : $0.code } ?? .unavailable
                readyPromise.fail(RPCError(code: code, message: goAway?.message ?? "server sent GOAWAY"))
            }
            logger.debug("GOAWAY from server", metadata: ["code": "\(goAway?.code ?? .unknown)", "message": "\(goAway?.message ?? "")"])
            state = .goingAway(lastStreamID: last)
            // Calls the server never saw are safe to retry elsewhere.
            for (streamID, sink) in streams where streamID > last {
                streams[streamID] = nil
                sink.finished(trailers: nil, error: .notProcessed)
            }
            onUnusable?()
            afterStreamClosed()
        default:
            break
        }
    }

    private func afterStreamClosed() {
        if case .goingAway = state, streams.isEmpty {
            context?.close(promise: nil)
        }
    }

    // MARK: Calls

    /// Starts a call: HEADERS, then the messages already encoded in `messages` (MESSAGE frames).
    func openStream(
        _ headers: RequestHeaders, messages: ByteBuffer?, endStream: Bool, sink: any ClientStreamSink, deadline: NIODeadline?
    ) throws(RPCError) -> UInt32 {
        guard isUsable else { throw RPCError.notSent }
        let streamID = nextStreamID
        nextStreamID += 1
        streams[streamID] = sink
        if let deadline {
            sink.deadline = deadline
            armDeadlineTimer(by: deadline)
        }
        let flags: FrameFlags = endStream && messages == nil ? .endStream : []
        outbound.writeFrame(type: .headers, flags: flags, streamID: streamID) { headers.encode(into: &$0) }
        if var messages {
            // The caller encoded the frames with stream id 0: patch each header's stream id.
            patchStreamIDs(&messages, streamID)
            outbound.writeBuffer(&messages)
        }
        scheduleFlush()
        return streamID
    }

    /// Sends more request frames (encoded with stream id 0) on an open stream. Returns a
    /// future to wait on while the connection is not writable.
    func send(_ messages: ByteBuffer, streamID: UInt32) throws(RPCError) -> EventLoopFuture<Void>? {
        guard let context, streams[streamID] != nil else { throw RPCError(code: .cancelled, message: "call is over") }
        var messages = messages
        patchStreamIDs(&messages, streamID)
        outbound.writeBuffer(&messages)
        scheduleFlush()
        guard context.channel.isWritable else {
            let promise = context.eventLoop.makePromise(of: Void.self)
            writabilityWaiters.append(promise)
            return promise.futureResult
        }
        return nil
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable {
            let waiters = writabilityWaiters
            writabilityWaiters.removeAll()
            for waiter in waiters { waiter.succeed() }
        }
        context.fireChannelWritabilityChanged()
    }

    /// Half-closes an open stream: the client sends no more messages.
    func endStream(_ streamID: UInt32) {
        guard streams[streamID] != nil else { return }
        outbound.writeFrame(Frame(type: .message, flags: .endStream, streamID: streamID))
        scheduleFlush()
    }

    private func armDeadlineTimer(by deadline: NIODeadline) {
        guard !deadlineTimer.fires(by: deadline), let context else { return }
        deadlineTimer.arm(by: deadline, on: context.eventLoop) { [weak self] in self?.deadlinesDue() }
    }

    /// The deadline timer fired: cancels the calls that are due, and arms it for the next one.
    private func deadlinesDue() {
        guard let context else { return }
        deadlineTimer.fired()
        let (due, next) = DeadlineTimer.due(streams.lazy.map { ($0.key, $0.value.deadline) }, now: context.eventLoop.now)
        for streamID in due { cancel(streamID, error: RPCError(code: .deadlineExceeded, message: "deadline exceeded")) }
        if let next { armDeadlineTimer(by: next) }
    }

    /// Abandons a call: CANCEL to the server, `error` to the call.
    func cancel(_ streamID: UInt32, error: RPCError) {
        fail(streamID, error, cancel: true)
    }

    private func fail(_ streamID: UInt32, _ error: RPCError, cancel: Bool) {
        guard let sink = streams.removeValue(forKey: streamID) else { return }
        if cancel { writeCancel(streamID) }
        sink.finished(trailers: nil, error: error)
        afterStreamClosed()
    }

    private func writeCancel(_ streamID: UInt32) {
        outbound.writeFrame(Frame(type: .cancel, streamID: streamID))
        scheduleFlush()
    }

    private func failAll(_ error: RPCError) {
        let sinks = streams
        streams.removeAll()
        for (_, sink) in sinks { sink.finished(trailers: nil, error: error) }
    }

    private func closeWithError(_ error: RPCError) {
        logger.debug("closing client connection: \(error)")
        failAll(error)
        context?.close(promise: nil)
    }

    /// Closes the connection (the client is shutting down).
    func close() {
        outbound.writeFrame(type: .goAway, streamID: 0) { GoAway(lastStreamID: 0, code: .ok, message: "client closing").encode(into: &$0) }
        flushNow()
        context?.close(promise: nil)
    }

    private func patchStreamIDs(_ frames: inout ByteBuffer, _ streamID: UInt32) {
        var offset = frames.readerIndex
        while offset + FrameHeader.size <= frames.writerIndex {
            let length = Int(frames.getInteger(at: offset, endianness: .big, as: UInt32.self)!)
            frames.setInteger(streamID, at: offset + 6, endianness: .big)
            offset += FrameHeader.size + length
        }
    }
}

extension RPCError {
    /// A call that could not start on its connection (closing, or GOAWAY seen): nothing was
    /// sent, so the client may run it on another connection.
    static let notSent = RPCError(code: .unavailable, message: "connection is not ready; the call was not sent")

    /// A call the server's GOAWAY says it never processed (its stream id is past the last one
    /// the server took, e.g. a connection closed for being idle as the call went out): safe to
    /// run again on another connection, as `notSent`.
    static let notProcessed = RPCError(code: .unavailable, message: "the server went away before processing the call; the call was not processed")

    /// Whether the call never reached the server's handlers, so another connection may run it
    /// whatever its retry policy.
    var neverProcessed: Bool { self == .notSent || self == .notProcessed }
}
