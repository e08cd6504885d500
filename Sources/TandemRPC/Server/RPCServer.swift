public import Logging
public import NIOCore
import NIOPosix
import NIOSSL
public import ServiceLifecycle
import Synchronization
import TandemProtocols
import TandemWire

/// A Tandem RPC server: TLS listener, frame protocol, handlers, built-in health and reflection
/// services. Run it in a `ServiceGroup`: a graceful shutdown (SIGTERM) drains it — GOAWAY to
/// every client, new calls refused with UNAVAILABLE, calls in flight finished within the grace
/// period — before `run()` returns.
public final class RPCServer: Service, Sendable {
    public let configuration: ServerConfiguration
    /// The health status this server reports; services update it as their dependencies change.
    public let health: HealthStatusProvider
    private let shared: ServerShared
    private let externalGroup: (any EventLoopGroup)?
    private let bound = Mutex<(address: SocketAddress?, error: (any Error)?, waiters: [CheckedContinuation<SocketAddress, any Error>])>((nil, nil, []))
    private let listener = Mutex<(any Channel)?>(nil)
    private let shutdownStarted = Atomic<Bool>(false)

    /// - Parameters:
    ///   - services: the services to host; health and reflection are added.
    ///   - interceptors: run around every call, outermost first.
    ///   - eventLoopGroup: a group to share; by default the server creates its own.
    public init(
        configuration: ServerConfiguration,
        services: [any RPCService],
        interceptors: [any ServerInterceptor] = [],
        logger: Logger = Logger(label: "tandem.rpc.server"),
        eventLoopGroup: (any EventLoopGroup)? = nil
    ) {
        self.configuration = configuration
        self.health = HealthStatusProvider()
        var router = RPCRouter()
        for service in services { service.register(into: &router) }
        router.register(HealthService(provider: health))
        let listed = router.methods + Reflection.methods
        router.register(ReflectionService(methods: listed))
        self.shared = ServerShared(handlers: router.handlers, interceptors: interceptors, configuration: configuration, logger: logger)
        self.externalGroup = eventLoopGroup
        for service in Set(router.methods.map(\.service)) where service != Health.serviceName {
            health.setStatus(.notServing, for: service)
        }
    }

    /// The address the server listens on, once it does (useful with port 0).
    public func listeningAddress() async throws -> SocketAddress {
        try await withCheckedThrowingContinuation { continuation in
            let result = bound.withLock { state -> Result<SocketAddress, any Error>? in
                if let address = state.address { return .success(address) }
                if let error = state.error { return .failure(error) }
                state.waiters.append(continuation)
                return nil
            }
            if let result { continuation.resume(with: result) }
        }
    }

    /// Open connections right now.
    public var connectionCount: Int { shared.registry.count }

    public func run() async throws {
        do {
            try configuration.validate()
            let sslContext = try configuration.tls.makeContext()
            if let group = externalGroup {
                try await serve(group: group, sslContext: sslContext)
            } else {
                let threads = configuration.eventLoopThreads == 0 ? System.coreCount : configuration.eventLoopThreads
                let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
                do {
                    try await serve(group: group, sslContext: sslContext)
                } catch {
                    try? await group.shutdownGracefully()
                    throw error
                }
                try await group.shutdownGracefully()
            }
        } catch {
            let waiters = bound.withLock { state -> [CheckedContinuation<SocketAddress, any Error>] in
                state.error = error
                defer { state.waiters.removeAll() }
                return state.waiters
            }
            for waiter in waiters { waiter.resume(throwing: error) }
            throw error
        }
    }

    private func serve(group: any EventLoopGroup, sslContext: NIOSSLContext) async throws {
        let shared = self.shared
        let configuration = self.configuration
        let channel: any Channel
        do {
            channel = try await ServerBootstrap(group: group)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
                .childChannelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
                .childChannelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let overLimit = shared.registry.count >= configuration.maxConnections
                        try channel.pipeline.syncOperations.addHandlers([
                            NIOSSLServerHandler(context: sslContext),
                            ByteToMessageHandler(FrameDecoder(maxFrameSize: configuration.maxFrameSize, expectPreface: true)),
                            ServerConnectionHandler(shared: shared, connectionID: shared.registry.nextID(), overLimit: overLimit),
                        ])
                    }
                }
                .bind(host: configuration.host, port: configuration.port)
                .get()
        } catch {
            throw ConfigurationError("cannot listen on \(configuration.host):\(configuration.port): \(error)")
        }
        listener.withLock { $0 = channel }
        let address = channel.localAddress!
        let waiters = bound.withLock { state -> [CheckedContinuation<SocketAddress, any Error>] in
            state.address = address
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: address) }
        health.setStatus(.serving)
        for service in Set(shared.handlers.values.map(\.descriptor.service)) where service != Health.serviceName {
            health.setStatus(.serving, for: service)
        }
        shared.logger.info("listening", metadata: ["address": "\(address)"])

        try await withTaskCancellationHandler {
            try await withGracefulShutdownHandler {
                try await channel.closeFuture.get()
            } onGracefulShutdown: {
                self.beginGracefulShutdown()
            }
        } onCancel: {
            self.beginGracefulShutdown()
            shared.registry.closeAll()
        }
        // The listener is closed; wait for the draining connections, at most the grace period.
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await shared.registry.waitUntilEmpty() }
            group.addTask {
                try? await Task.sleep(for: .nanoseconds(configuration.drainGracePeriod.nanoseconds))
                shared.registry.closeAll()
            }
            await group.next()
            group.cancelAll()
        }
        await shared.registry.waitUntilEmpty()
        shared.logger.info("stopped")
    }

    /// Stops accepting connections and drains the open ones (also triggered by the service
    /// lifecycle's graceful shutdown).
    public func beginGracefulShutdown() {
        guard !shutdownStarted.exchange(true, ordering: .acquiringAndReleasing) else { return }
        shared.logger.info("draining", metadata: ["connections": "\(shared.registry.count)"])
        // Stop accepting first; a connection accepted meanwhile sees the flag and is turned away.
        shared.beginDraining()
        listener.withLock { $0 }?.close(promise: nil)
        health.beginDrain()
        shared.registry.drainAll()
    }
}
