import Logging
import NIOCore
import NIOEmbedded
import NIOTLS
import TandemProtocols
import TandemWire
import Testing
@testable import TandemRPC
import TandemTestSupport

/// The server connection's protocol state, driven through an `EmbeddedChannel` whose event
/// loop clock the test moves by hand.
@Suite("Server connection state")
struct ConnectionStateTests {
    /// An embedded server connection, past a (simulated) TLS handshake.
    struct Harness {
        let channel: EmbeddedChannel
        let loop: EmbeddedEventLoop

        init(configure: (inout ServerConfiguration) -> Void = { _ in }) throws {
            var configuration = ServerConfiguration(tls: TestPKI.shared.serverTLS)
            configure(&configuration)
            var router = RPCRouter()
            router.register(EchoService())
            let shared = ServerShared(handlers: router.handlers, interceptors: [], configuration: configuration, logger: Logger(label: "test"))
            loop = EmbeddedEventLoop()
            channel = EmbeddedChannel(loop: loop)
            try channel.pipeline.syncOperations.addHandlers([
                ByteToMessageHandler(FrameDecoder(maxFrameSize: configuration.maxFrameSize, expectPreface: true)),
                ServerConnectionHandler(shared: shared, connectionID: 1, overLimit: false),
            ])
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: "tandem/1"))
        }

        /// Frames the server wrote since the last call.
        func written() throws -> [Frame] {
            var decoder = FrameDecoder(maxFrameSize: 1 << 24)
            var frames: [Frame] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                while case .frame(let frame)? = try decoder.next(&buffer) { frames.append(frame) }
            }
            return frames
        }

        func receive(_ frames: [Frame], preface: Bool = false) throws {
            var buffer = ByteBuffer()
            if preface { buffer.writeBytes(ConnectionPreface.bytes) }
            for frame in frames { buffer.writeFrame(frame) }
            try channel.writeInbound(buffer)
        }

        func clientSettings() throws {
            var payload = ByteBuffer()
            Settings(maxConcurrentStreams: 0).encode(into: &payload)
            try receive([Frame(type: .settings, streamID: 0, payload: payload)], preface: true)
        }

        var isOpen: Bool { channel.isActive }
    }

    @Test func serverSendsSettingsAfterTheHandshake() throws {
        let harness = try Harness(configure: { $0.maxConcurrentStreams = 7 })
        let frames = try harness.written()
        #expect(frames.map(\.type) == [.settings])
        #expect(try Settings(decoding: frames[0].payload).maxConcurrentStreams == 7)
    }

    @Test("a large answer is compressed only for a client that lists deflate")
    func compressionFollowsTheClientsSettings() throws {
        for accepts in [true, false] {
            let harness = try Harness()
            _ = try harness.written()
            var payload = ByteBuffer()
            Settings(maxConcurrentStreams: 0, compression: accepts ? ["deflate"] : []).encode(into: &payload)
            try harness.receive([Frame(type: .settings, streamID: 0, payload: payload)], preface: true)
            try harness.receive(try unaryCall("echo.Get", EchoMessage(text: String(repeating: "mentoring across time zones ", count: 100)), streamID: 1))
            harness.loop.run()
            let answer = try #require(try harness.written().first { $0.type == .message })
            #expect(answer.flags.contains(.compressed) == accepts, "client lists deflate: \(accepts)")
        }
    }

    @Test("a client configured not to accept compressed answers lists no compression in its SETTINGS")
    func clientSettingsFollowItsConfiguration() throws {
        for accepts in [true, false] {
            var configuration = ClientConfiguration()
            configuration.acceptsCompressedResponses = accepts
            let loop = EmbeddedEventLoop()
            let channel = EmbeddedChannel(loop: loop)
            let handler = ClientConnectionHandler(readyPromise: loop.makePromise(), configuration: configuration, expectedServerName: nil, logger: Logger(label: "test"))
            try channel.pipeline.syncOperations.addHandler(handler)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
            channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: "tandem/1"))
            var written = try #require(try channel.readOutbound(as: ByteBuffer.self))
            #expect(written.readBytes(length: ConnectionPreface.bytes.count) == ConnectionPreface.bytes)
            var decoder = FrameDecoder(maxFrameSize: 1 << 20)
            guard case .frame(let settings)? = try decoder.next(&written) else { Issue.record("no SETTINGS frame"); continue }
            #expect(try Settings(decoding: settings.payload).compression == (accepts ? ["deflate"] : []))
            _ = try? channel.finish()
        }
    }

    @Test func handshakeTimesOutWithoutClientSettings() throws {
        let harness = try Harness(configure: { $0.handshakeTimeout = .seconds(10) })
        harness.loop.advanceTime(by: .seconds(9))
        #expect(harness.isOpen)
        harness.loop.advanceTime(by: .seconds(2))
        #expect(!harness.isOpen)
    }

    @Test func firstFrameMustBeSettings() throws {
        let harness = try Harness()
        _ = try harness.written()
        try harness.receive(try unaryCall("echo.Get", EchoMessage(), streamID: 1), preface: true)
        let frames = try harness.written()
        #expect(frames.last?.type == .goAway)
        #expect(try GoAway(decoding: frames.last!.payload).code == .internal)
        #expect(!harness.isOpen)
    }

    @Test func unaryCallIsAnsweredInTheSameRead() throws {
        let harness = try Harness()
        try harness.clientSettings()
        _ = try harness.written()
        try harness.receive(try unaryCall("echo.Get", EchoMessage(text: "hi"), streamID: 1))
        let frames = try harness.written()
        #expect(frames.map(\.type) == [.message, .trailers])
        #expect(try CBORDecoder().decode(EchoMessage.self, from: frames[0].payload).text == "hi")
        #expect(try Trailers(decoding: frames[1].payload).code == .ok)
    }

    @Test func idleTimeoutSendsGoAwayAndCloses() throws {
        let harness = try Harness(configure: { $0.idleTimeout = .seconds(30) })
        try harness.clientSettings()
        try harness.receive(try unaryCall("echo.Get", EchoMessage(), streamID: 1))
        _ = try harness.written()
        harness.loop.advanceTime(by: .seconds(29))
        #expect(harness.isOpen)
        harness.loop.advanceTime(by: .seconds(2))
        let frames = try harness.written()
        #expect(frames.last?.type == .goAway)
        #expect(!harness.isOpen)
    }

    @Test func keepalivePingsAndClosesWhenUnanswered() throws {
        let harness = try Harness(configure: {
            $0.keepaliveInterval = .seconds(10)
            $0.keepaliveTimeout = .seconds(5)
            $0.idleTimeout = .hours(1)
        })
        try harness.clientSettings()
        _ = try harness.written()
        harness.loop.advanceTime(by: .seconds(10))
        let ping = try #require(try harness.written().first { $0.type == .ping })
        // Answered: the connection stays.
        try harness.receive([Frame(type: .pong, streamID: 0, payload: ping.payload)])
        harness.loop.advanceTime(by: .seconds(6))
        #expect(harness.isOpen)
        // The next ping goes unanswered: closed after the timeout.
        harness.loop.advanceTime(by: .seconds(4))
        #expect(try harness.written().contains { $0.type == .ping })
        harness.loop.advanceTime(by: .seconds(6))
        #expect(!harness.isOpen)
    }

    @Test func serverAnswersPingWithPong() throws {
        let harness = try Harness()
        try harness.clientSettings()
        _ = try harness.written()
        let payload = ByteBuffer(bytes: [8, 7, 6, 5, 4, 3, 2, 1])
        try harness.receive([Frame(type: .ping, streamID: 0, payload: payload)])
        #expect(try harness.written() == [Frame(type: .pong, streamID: 0, payload: payload)])
    }

    @Test func deadlineTimerAnswersDeadlineExceeded() throws {
        let harness = try Harness()
        try harness.clientSettings()
        _ = try harness.written()
        // A call whose handler waits 10 s, with a 2 s deadline.
        try harness.receive(try unaryCall("echo.Get", EchoMessage(delayMilliseconds: 10_000), streamID: 1, timeoutMicroseconds: 2_000_000))
        #expect(try harness.written().isEmpty)
        harness.loop.advanceTime(by: .seconds(2))
        let frames = try harness.written()
        #expect(frames.map(\.type) == [.trailers])
        #expect(try Trailers(decoding: frames[0].payload).code == .deadlineExceeded)
    }

    @Test("one timer for the connection: calls with different deadlines each end at their own, in any order; others are untouched")
    func deadlinesOfManyCallsShareOneTimer() throws {
        let harness = try Harness()
        try harness.clientSettings()
        _ = try harness.written()
        // Opened in the order 3 s, 1 s, 2 s; a call without a deadline; a call that ends first.
        for (streamID, seconds) in [(1, 3), (3, 1), (5, 2)] as [(UInt32, UInt64)] {
            try harness.receive(try unaryCall("echo.Get", EchoMessage(delayMilliseconds: 10_000), streamID: streamID, timeoutMicroseconds: seconds * 1_000_000))
        }
        try harness.receive(try unaryCall("echo.Get", EchoMessage(delayMilliseconds: 10_000), streamID: 7))
        try harness.receive(try unaryCall("echo.Get", EchoMessage(text: "quick"), streamID: 9, timeoutMicroseconds: 500_000))
        func endedStreams() throws -> [UInt32] {
            try harness.written().filter { frame in
                guard frame.type == .trailers else { return false }
                return try Trailers(decoding: frame.payload).code == .deadlineExceeded
            }.map(\.streamID)
        }
        #expect(try endedStreams() == [])
        harness.loop.advanceTime(by: .milliseconds(999))
        #expect(try endedStreams() == [])
        harness.loop.advanceTime(by: .milliseconds(1))
        #expect(try endedStreams() == [3])
        harness.loop.advanceTime(by: .seconds(1))
        #expect(try endedStreams() == [5])
        harness.loop.advanceTime(by: .seconds(1))
        #expect(try endedStreams() == [1])
        // A call opened later with an earlier deadline than any left is not held up by them.
        try harness.receive(try unaryCall("echo.Get", EchoMessage(delayMilliseconds: 10_000), streamID: 11, timeoutMicroseconds: 4_000_000))
        try harness.receive(try unaryCall("echo.Get", EchoMessage(delayMilliseconds: 10_000), streamID: 13, timeoutMicroseconds: 1_000_000))
        harness.loop.advanceTime(by: .seconds(1))
        #expect(try endedStreams() == [13])
        harness.loop.advanceTime(by: .seconds(3))
        #expect(try endedStreams() == [11])
        harness.loop.advanceTime(by: .seconds(60))
        #expect(try endedStreams() == [], "the call without a deadline (7) is never ended by the timer")
    }

    @Test("the client's one deadline timer cancels each call at its own deadline (CANCEL to the server, DEADLINE_EXCEEDED to the caller), even when the server says nothing")
    func clientDeadlinesShareOneTimer() throws {
        final class Sink: ClientStreamSink {
            var deadline: NIODeadline?
            var error: RPCError?
            var trailers: Trailers?
            func receivedHeaders(_ metadata: Metadata) {}
            func receivedMessage(_ payload: ByteBuffer) {}
            func finished(trailers: Trailers?, error: RPCError?) {
                self.trailers = trailers
                self.error = error
            }
        }
        let loop = EmbeddedEventLoop()
        let channel = EmbeddedChannel(loop: loop)
        let handler = ClientConnectionHandler(readyPromise: loop.makePromise(), configuration: ClientConfiguration(), expectedServerName: nil, logger: Logger(label: "test"))
        try channel.pipeline.syncOperations.addHandlers([ByteToMessageHandler(FrameDecoder(maxFrameSize: 1 << 20)), handler])
        try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 1)).wait()
        channel.pipeline.fireUserInboundEventTriggered(TLSUserEvent.handshakeCompleted(negotiatedProtocol: "tandem/1"))
        var settings = ByteBuffer()
        Settings(maxConcurrentStreams: 100).encode(into: &settings)
        var inbound = ByteBuffer()
        inbound.writeFrame(Frame(type: .settings, streamID: 0, payload: settings))
        try channel.writeInbound(inbound)
        #expect(handler.isUsable)
        // The client's preface and SETTINGS first, then frames only.
        var decoder = FrameDecoder(maxFrameSize: 1 << 24, expectPreface: true)
        func cancelsWritten() throws -> [UInt32] {
            var frames: [Frame] = []
            while var buffer = try channel.readOutbound(as: ByteBuffer.self) {
                while case .frame(let frame)? = try decoder.next(&buffer) { frames.append(frame) }
            }
            return frames.filter { $0.type == .cancel }.map(\.streamID)
        }
        // Deadlines in 3 s, 1 s and 2 s; one call without.
        var sinks: [UInt32: Sink] = [:]
        for seconds in [3, 1, 2, nil] as [Int64?] {
            let sink = Sink()
            let streamID = try handler.openStream(
                RequestHeaders(method: "echo.Get"), messages: nil, endStream: true, sink: sink, deadline: seconds.map { loop.now + .seconds($0) }
            )
            sinks[streamID] = sink
        }
        let ids = sinks.keys.sorted()
        _ = try cancelsWritten()
        loop.advanceTime(by: .seconds(1))
        #expect(try cancelsWritten() == [ids[1]])
        #expect(sinks[ids[1]]?.error?.code == .deadlineExceeded)
        #expect(sinks[ids[0]]?.error == nil && sinks[ids[2]]?.error == nil)
        loop.advanceTime(by: .seconds(1))
        #expect(try cancelsWritten() == [ids[2]])
        loop.advanceTime(by: .seconds(1))
        #expect(try cancelsWritten() == [ids[0]])
        #expect(sinks[ids[0]]?.error?.code == .deadlineExceeded)
        loop.advanceTime(by: .seconds(60))
        #expect(try cancelsWritten() == [])
        #expect(sinks[ids[3]]?.error == nil, "the call without a deadline is still open")
        _ = try? channel.finish()
    }

    @Test func drainWithNoCallsClosesAndRefusesNewStreams() throws {
        let harness = try Harness()
        try harness.clientSettings()
        _ = try harness.written()
        try harness.receive(try unaryCall("echo.Get", EchoMessage(delayMilliseconds: 10_000), streamID: 1))
        let handler = try harness.channel.pipeline.syncOperations.handler(type: ServerConnectionHandler.self)
        handler.beginDrain()
        let goAway = try #require(try harness.written().first { $0.type == .goAway })
        #expect(try GoAway(decoding: goAway.payload) == GoAway(lastStreamID: 1, code: .unavailable, message: "draining"))
        // A new call after GOAWAY is refused.
        try harness.receive(try unaryCall("echo.Get", EchoMessage(), streamID: 3))
        let refused = try harness.written()
        #expect(refused.map(\.type) == [.trailers])
        #expect(try Trailers(decoding: refused[0].payload).code == .unavailable)
        #expect(harness.isOpen)
        // Cancelling the last call ends the drain.
        try harness.receive([Frame(type: .cancel, streamID: 1)])
        #expect(!harness.isOpen)
    }
}

@Suite("Server connection state machine")
struct ServerConnectionStateMachineTests {
    @Test func streamRules() {
        var machine = ServerConnectionStateMachine(limits: .init(maxConcurrentStreams: 2))
        #expect(machine.receivedHeaders(streamID: 1) == .protocolError("the first frame must be SETTINGS"))
        var settings = ByteBuffer()
        Settings().encode(into: &settings)
        #expect(machine.receivedSettings(settings) == .accept(Settings()))
        #expect(machine.receivedSettings(settings) == .protocolError("SETTINGS may only be sent once"))
        #expect(machine.receivedHeaders(streamID: 0) == .protocolError("HEADERS on stream 0"))
        #expect(machine.receivedHeaders(streamID: 1) == .open)
        #expect(machine.receivedHeaders(streamID: 1) == .protocolError("stream id 1 is not greater than 1"))
        #expect(machine.receivedHeaders(streamID: 4) == .open)
        if case .refuse(let code, _) = machine.receivedHeaders(streamID: 5) {
            #expect(code == .resourceExhausted)
        } else {
            Issue.record("third stream should be refused")
        }
        #expect(machine.streamClosed() == .none)
        #expect(machine.receivedHeaders(streamID: 9) == .open)
        #expect(machine.beginDrain() == .sendGoAway(lastStreamID: 9, closeNow: false))
        if case .refuse(let code, _) = machine.receivedHeaders(streamID: 11) {
            #expect(code == .unavailable)
        } else {
            Issue.record("streams after GOAWAY should be refused")
        }
        #expect(machine.streamClosed() == .none)
        #expect(machine.streamClosed() == .close)
    }

    @Test func keepalive() {
        var machine = ServerConnectionStateMachine(limits: .init(maxConcurrentStreams: 1))
        #expect(machine.keepaliveTimerFired(nextPayload: 1) == .sendPing(1))
        #expect(machine.pingTimedOut(1))
        machine.receivedPong(2)
        #expect(machine.pingTimedOut(1))
        machine.receivedPong(1)
        #expect(!machine.pingTimedOut(1))
        #expect(machine.keepaliveTimerFired(nextPayload: 2) == .sendPing(2))
        #expect(machine.keepaliveTimerFired(nextPayload: 3) == .close)
    }

    @Test func frameStreamPlacement() {
        let machine = ServerConnectionStateMachine(limits: .init(maxConcurrentStreams: 1))
        #expect(machine.checkStream(.settings, streamID: 0) == nil)
        #expect(machine.checkStream(.ping, streamID: 3) != nil)
        #expect(machine.checkStream(.headers, streamID: 0) != nil)
        #expect(machine.checkStream(.headers, streamID: 1) == "the first frame must be SETTINGS")
        // Every frame type, on stream 0 and on a call's stream, once SETTINGS has arrived.
        var open = ServerConnectionStateMachine(limits: .init(maxConcurrentStreams: 1))
        var settings = ByteBuffer()
        Settings().encode(into: &settings)
        #expect(open.receivedSettings(settings) == .accept(Settings()))
        for type in [FrameType.settings, .ping, .pong, .goAway] {
            #expect(open.checkStream(type, streamID: 0) == nil, "\(type)")
            #expect(open.checkStream(type, streamID: 5) == "\(type) must be sent on stream 0")
        }
        for type in [FrameType.headers, .message, .trailers, .cancel] {
            #expect(open.checkStream(type, streamID: 5) == nil, "\(type)")
            #expect(open.checkStream(type, streamID: 0) == "\(type) must not be sent on stream 0")
        }
        // A type this version does not know is left to the handler, on either stream.
        #expect(open.checkStream(FrameType(rawValue: 0x7F), streamID: 0) == nil && open.checkStream(FrameType(rawValue: 0x7F), streamID: 3) == nil)
    }
}
