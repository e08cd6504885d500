import NIOCore
import NIOPosix
import NIOSSL
import TandemRPC
import TandemTestSupport
import TandemWire

/// A hand-driven connection to a server, for sending exactly the bytes a test wants (bad
/// frames, no PONGs, garbage) and reading what comes back.
final class RawConnection: Sendable {
    let channel: any Channel
    let frames: AsyncStream<InboundFrame>

    private final class Collector: ChannelInboundHandler, Sendable {
        typealias InboundIn = InboundFrame
        let continuation: AsyncStream<InboundFrame>.Continuation

        init(_ continuation: AsyncStream<InboundFrame>.Continuation) {
            self.continuation = continuation
        }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            continuation.yield(unwrapInboundIn(data))
        }

        func channelInactive(context: ChannelHandlerContext) {
            continuation.finish()
            context.fireChannelInactive()
        }

        func errorCaught(context: ChannelHandlerContext, error: any Error) {
            context.close(promise: nil)
        }
    }

    /// Sits next to the socket and drops `read()` requests once closed, so nothing above it —
    /// TLS included — can pull more bytes off the socket.
    private final class ReadGate: ChannelOutboundHandler, @unchecked Sendable {
        // Safe: only touched on the channel's event loop.
        typealias OutboundIn = Any
        var open = true

        func read(context: ChannelHandlerContext) {
            if open { context.read() }
        }
    }

    private init(channel: any Channel, frames: AsyncStream<InboundFrame>) {
        self.channel = channel
        self.frames = frames
    }

    /// Connects with TLS (mutual, as the test client) unless `tls` is false.
    static func connect(to endpoint: Endpoint, tls: Bool = true, identity: TLSIdentity? = TestPKI.shared.client) async throws -> RawConnection {
        let (frames, continuation) = AsyncStream.makeStream(of: InboundFrame.self)
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.trustRoots = .certificates(TestPKI.shared.caCertificates)
        configuration.minimumTLSVersion = .tlsv13
        if let identity {
            configuration.certificateChain = identity.certificateChain.map { .certificate($0) }
            configuration.privateKey = .privateKey(identity.privateKey)
        }
        let sslContext = try NIOSSLContext(configuration: configuration)
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ReadGate())
                    if tls {
                        try channel.pipeline.syncOperations.addHandler(try NIOSSLClientHandler(context: sslContext, serverHostname: "echo"))
                    }
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(FrameDecoder(maxFrameSize: 1 << 24)), Collector(continuation),
                    ])
                }
            }
            .connect(host: endpoint.host, port: endpoint.port)
            .get()
        return RawConnection(channel: channel, frames: frames)
    }

    func send(_ bytes: [UInt8]) async throws {
        try await channel.writeAndFlush(ByteBuffer(bytes: bytes))
    }

    func send(_ frames: [Frame], preface: Bool = false) async throws {
        var buffer = ByteBuffer()
        if preface { buffer.writeBytes(ConnectionPreface.bytes) }
        for frame in frames { buffer.writeFrame(frame) }
        try await channel.writeAndFlush(buffer)
    }

    /// Sends the preface and SETTINGS, and reads the server's SETTINGS.
    func handshake(settings: Settings = Settings(maxConcurrentStreams: 0)) async throws -> Settings? {
        var payload = ByteBuffer()
        settings.encode(into: &payload)
        try await send([Frame(type: .settings, streamID: 0, payload: payload)], preface: true)
        guard case .frame(let frame) = try await next(), frame.type == .settings else { return nil }
        return try Settings(decoding: frame.payload)
    }

    /// The next frame, or nil when the connection closed.
    func next() async throws -> InboundFrame? {
        var iterator = frames.makeAsyncIterator()
        return await iterator.next()
    }

    /// Every frame until the connection closes.
    func remainingFrames() async -> [InboundFrame] {
        var result: [InboundFrame] = []
        for await frame in frames { result.append(frame) }
        return result
    }

    /// Waits for the server to close the connection.
    func waitUntilClosed() async throws {
        try await channel.closeFuture.get()
    }

    func close() {
        channel.close(promise: nil)
    }

    /// Stops reading from the socket: the peer's writes back up as they would to a slow client.
    func stopReading() async throws {
        try await channel.eventLoop.submit { [channel] in
            try channel.pipeline.syncOperations.handler(type: ReadGate.self).open = false
        }.get()
        try await channel.setOption(ChannelOptions.autoRead, value: false).get()
    }
}

/// Frames for a unary call on `streamID`.
func unaryCall<T: Encodable>(_ method: String, _ request: T, streamID: UInt32, timeoutMicroseconds: UInt64? = nil) throws -> [Frame] {
    var headers = ByteBuffer()
    RequestHeaders(method: method, timeoutMicroseconds: timeoutMicroseconds).encode(into: &headers)
    var message = ByteBuffer()
    try CBOREncoder().encode(request, into: &message)
    return [
        Frame(type: .headers, streamID: streamID, payload: headers),
        Frame(type: .message, flags: .endStream, streamID: streamID, payload: message),
    ]
}
