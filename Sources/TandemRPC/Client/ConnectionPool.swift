import Logging
import NIOCore
import NIOPosix
import NIOSSL
import Synchronization
import TandemProtocols
import TandemWire

/// One established connection to one endpoint.
final class ClientConnection: Sendable {
    let endpoint: Endpoint
    let channel: any Channel
    let handler: NIOLoopBound<ClientConnectionHandler>
    let executor: EventLoopTaskExecutor
    /// The message codec, with the server's settings applied.
    let codec: MessageCodec

    var eventLoop: any EventLoop { channel.eventLoop }

    init(endpoint: Endpoint, channel: any Channel, handler: NIOLoopBound<ClientConnectionHandler>, codec: MessageCodec) {
        self.endpoint = endpoint
        self.channel = channel
        self.handler = handler
        self.executor = EventLoopTaskExecutor(channel.eventLoop)
        self.codec = codec
    }

    /// TCP, TLS (checking the server's certificate names `tls.serverName`), preface, SETTINGS.
    static func connect(
        to endpoint: Endpoint, sslContext: NIOSSLContext, serverName: String, group: any EventLoopGroup,
        configuration: ClientConfiguration, logger: Logger, onUnusable: @escaping @Sendable () -> Void
    ) async throws -> ClientConnection {
        let eventLoop = group.next()
        let ready = eventLoop.makePromise(of: Void.self)
        let channel: any Channel
        do {
            var bootstrap = ClientBootstrap(group: eventLoop)
            if let local = configuration.localAddress {
                bootstrap = bootstrap.bind(to: try SocketAddress(ipAddress: local, port: 0))
            }
            channel = try await bootstrap
                .connectTimeout(configuration.connectTimeout)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelOption(.writeBufferWaterMark, value: .init(low: 64 * 1024, high: 256 * 1024))
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        let handler = ClientConnectionHandler(
                            readyPromise: ready, configuration: configuration, expectedServerName: serverName, logger: logger
                        )
                        handler.onUnusable = onUnusable
                        try channel.pipeline.syncOperations.addHandlers([
                            try NIOSSLClientHandler(context: sslContext, serverHostname: serverName),
                            ByteToMessageHandler(FrameDecoder(maxFrameSize: configuration.maxFrameSize)),
                            handler,
                        ])
                    }
                }
                .connect(host: endpoint.host, port: endpoint.port)
                .get()
        } catch {
            ready.fail(error)
            throw RPCError(code: .unavailable, message: "cannot connect to \(endpoint): \(error)")
        }
        let timeout = eventLoop.scheduleTask(in: configuration.connectTimeout) {
            ready.fail(RPCError(code: .unavailable, message: "\(endpoint) did not complete the handshake within \(configuration.connectTimeout)"))
        }
        do {
            try await ready.futureResult.get()
            timeout.cancel()
        } catch {
            timeout.cancel()
            channel.close(promise: nil)
            if let error = error as? RPCError { throw error }
            throw RPCError(code: .unavailable, message: "cannot connect to \(endpoint): \(error)")
        }
        let found = try? await channel.eventLoop.submit {
            let handler = try channel.pipeline.syncOperations.handler(type: ClientConnectionHandler.self)
            return (NIOLoopBound(handler, eventLoop: channel.eventLoop), handler.codec)
        }.get()
        // The server may close a new connection before its first call (e.g. its idle timeout, on a
        // busy machine): that is a connection that went away, not a pipeline bug.
        guard let (handler, codec) = found else {
            channel.close(promise: nil)
            throw RPCError(code: .unavailable, message: "\(endpoint) closed the connection while it was being set up")
        }
        return ClientConnection(endpoint: endpoint, channel: channel, handler: handler, codec: codec)
    }

    /// Whether new calls may start on it (runs on any thread by asking the event loop).
    var isUsable: Bool {
        get async {
            if eventLoop.inEventLoop { return handler.value.isUsable }
            return (try? await eventLoop.submit { [handler] in handler.value.isUsable }.get()) ?? false
        }
    }

    func close() {
        eventLoop.execute { [handler] in handler.value.close() }
    }
}

/// The client's connections: `connectionsPerEndpoint` slots per endpoint, used round-robin,
/// reconnected on demand with exponential backoff after failures, and skipped while their
/// instance reports NOT_SERVING or is going away.
final class ConnectionPool: Sendable {
    private struct Slot {
        let endpoint: Endpoint
        /// The event loop the slot's connections are made on: the endpoint's connections are
        /// spread over the group's loops, so that a caller running on one of them (a gateway
        /// serving on the same group) finds a connection on its own thread.
        let eventLoop: any EventLoop
        var connection: ClientConnection?
        var connecting: [CheckedContinuation<ClientConnection?, any Error>]?
        var failures = 0
        var retryAt: NIODeadline?
        var lastError: RPCError?
        var healthy = true
    }

    private let slots: Mutex<[Slot]>
    private let next = Atomic<Int>(0)
    private let sslContext: NIOSSLContext
    private let serverName: String
    private let configuration: ClientConfiguration
    private let logger: Logger
    private let closed = Atomic<Bool>(false)

    init(endpoints: [Endpoint], sslContext: NIOSSLContext, serverName: String, group: any EventLoopGroup, configuration: ClientConfiguration, logger: Logger) {
        // The group's loops, starting where the group's own round-robin is (so that clients
        // sharing a group with one connection each still spread over its loops).
        var loops = Array(group.makeIterator())
        let first = group.next()
        if let offset = loops.firstIndex(where: { $0 === first }) { loops = Array(loops[offset...] + loops[..<offset]) }
        if loops.isEmpty { loops = [first] }
        var slots: [Slot] = []
        for endpoint in endpoints {
            for index in 0..<configuration.connectionsPerEndpoint {
                slots.append(Slot(endpoint: endpoint, eventLoop: loops[index % loops.count]))
            }
        }
        self.slots = Mutex(slots)
        self.sslContext = sslContext
        self.serverName = serverName
        self.configuration = configuration
        self.logger = logger
    }

    /// A connection for a call with `deadline`: waiting for one (connecting) ends at the deadline.
    func connection(deadline: NIODeadline?) async throws -> ClientConnection {
        guard let deadline else { return try await connection() }
        return try await withThrowingTaskGroup(of: ClientConnection?.self) { group in
            group.addTask { try await self.connection() }
            group.addTask {
                try await Task.sleep(for: .nanoseconds(max(0, (deadline - .now()).nanoseconds)))
                return nil
            }
            defer { group.cancelAll() }
            guard let connection = try await group.next() ?? nil else {
                throw RPCError(code: .deadlineExceeded, message: "deadline exceeded while connecting to \(serverName)")
            }
            return connection
        }
    }

    /// The next ready connection, without waiting; nil when a connection must be made first.
    /// A caller running on one of the group's event loops gets a connection on that loop when
    /// there is a healthy one (round-robin among them): its call then needs no thread hand-off.
    func readyConnection() -> ClientConnection? {
        guard !closed.load(ordering: .relaxed) else { return nil }
        let start = next.load(ordering: .relaxed)
        return slots.withLock { slots -> ClientConnection? in
            let count = slots.count
            for offset in 0..<count {
                let index = (start + offset) % count
                guard slots[index].eventLoop.inEventLoop else { continue }
                guard let connection = slots[index].connection, slots[index].healthy else { break }
                next.store(index + 1, ordering: .relaxed)
                return connection
            }
            let index = start % count
            guard let connection = slots[index].connection, slots[index].healthy else { return nil }
            next.wrappingAdd(1, ordering: .relaxed)
            return connection
        }
    }

    /// A connection for the next call: the next ready, healthy slot in round-robin order;
    /// otherwise a new connection on a slot that is not backing off. When that connection cannot
    /// be made the slot backs off and the next one is tried (nothing was sent, so this holds for
    /// every call, idempotent or not): an instance that restarts or went away costs its turn in
    /// the rotation, not the call. UNAVAILABLE when no slot can give one.
    func connection() async throws -> ClientConnection {
        var lastError: (any Error)?
        // Each failed attempt puts its slot in back-off, so the slots run out; the bound is for
        // a back-off shorter than a connection attempt.
        for _ in 0...slots.withLock({ $0.count }) {
            do {
                return try await nextConnection()
            } catch let failed as ConnectAttemptFailed {
                if Task.isCancelled { throw failed.error }
                lastError = failed.error
            } catch let error as RPCError where error.code == .unavailable && lastError != nil {
                // No slot left to try: this call's own attempt says best why (a refusal's code
                // and message, e.g. RESOURCE_EXHAUSTED or PERMISSION_DENIED from the server).
                throw lastError!
            }
        }
        throw lastError ?? RPCError(code: .unavailable, message: "no connection to \(serverName) can be made now")
    }

    /// A connection attempt that failed (the pool may try another slot).
    private struct ConnectAttemptFailed: Error {
        var error: any Error
    }

    private func nextConnection() async throws -> ClientConnection {
        guard !closed.load(ordering: .relaxed) else { throw RPCError(code: .unavailable, message: "client is closed") }
        let start = next.wrappingAdd(1, ordering: .relaxed).oldValue
        enum Choice {
            case ready(ClientConnection)
            case connect(Int)
            case wait(Int)
            case unavailable(RPCError?)
        }
        let choice = slots.withLock { slots -> Choice in
            // Strict round-robin: the slot whose turn it is serves the call, connecting first if
            // it has no connection yet; slots backing off or reporting NOT_SERVING are passed over.
            let count = slots.count
            let now = NIODeadline.now()
            var fallback: ClientConnection?
            for offset in 0..<count {
                let index = (start + offset) % count
                if let connection = slots[index].connection {
                    if slots[index].healthy { return .ready(connection) }
                    fallback = fallback ?? connection
                } else if slots[index].connecting != nil {
                    return .wait(index)
                } else if slots[index].retryAt.map({ $0 <= now }) ?? true {
                    slots[index].connecting = []
                    return .connect(index)
                }
            }
            if let fallback { return .ready(fallback) }
            return .unavailable(slots.compactMap(\.lastError).last)
        }
        switch choice {
        case .ready(let connection):
            return connection
        case .connect(let index):
            do {
                return try await connect(slot: index)
            } catch {
                throw ConnectAttemptFailed(error: error)
            }
        case .wait(let index):
            let joined: ClientConnection?
            do {
                joined = try await withCheckedThrowingContinuation { continuation in
                    let waiting = slots.withLock { slots -> Bool in
                        guard slots[index].connecting != nil else { return false }
                        slots[index].connecting!.append(continuation)
                        return true
                    }
                    // The attempt ended between the two looks: choose again.
                    if !waiting { continuation.resume(returning: nil) }
                }
            } catch {
                throw ConnectAttemptFailed(error: error)
            }
            if let joined { return joined }
            return try await nextConnection()
        case .unavailable(let error):
            throw RPCError(code: .unavailable, message: "no connection to \(serverName) can be made now" + (error.map { ": \($0.message)" } ?? ""))
        }
    }

    private func connect(slot index: Int) async throws -> ClientConnection {
        let (endpoint, eventLoop) = slots.withLock { ($0[index].endpoint, $0[index].eventLoop) }
        do {
            let connection = try await ClientConnection.connect(
                to: endpoint, sslContext: sslContext, serverName: serverName, group: eventLoop, configuration: configuration,
                logger: logger, onUnusable: { [weak self] in self?.connectionBecameUnusable(slot: index) }
            )
            let waiters = slots.withLock { slots -> [CheckedContinuation<ClientConnection?, any Error>] in
                slots[index].connection = connection
                slots[index].failures = 0
                slots[index].retryAt = nil
                slots[index].healthy = true
                defer { slots[index].connecting = nil }
                return slots[index].connecting ?? []
            }
            for waiter in waiters { waiter.resume(returning: connection) }
            if closed.load(ordering: .relaxed) { connection.close() }
            logger.debug("connected", metadata: ["endpoint": "\(endpoint)"])
            return connection
        } catch {
            let rpcError = error as? RPCError ?? RPCError(code: .unavailable, message: "\(error)")
            let waiters = slots.withLock { slots -> [CheckedContinuation<ClientConnection?, any Error>] in
                slots[index].failures += 1
                slots[index].retryAt = .now() + configuration.backoff.delay(attempt: slots[index].failures)
                slots[index].lastError = rpcError
                defer { slots[index].connecting = nil }
                return slots[index].connecting ?? []
            }
            for waiter in waiters { waiter.resume(throwing: rpcError) }
            logger.debug("connection failed", metadata: ["endpoint": "\(endpoint)", "error": "\(rpcError.message)"])
            throw rpcError
        }
    }

    /// A connection got GOAWAY or closed: stop giving it out (the next call reconnects).
    private func connectionBecameUnusable(slot index: Int) {
        slots.withLock { slots in
            guard index < slots.count else { return }
            slots[index].connection = nil
        }
    }

    /// A call found `connection` unusable before its close was reported: stop giving it out now.
    func discard(_ connection: ClientConnection) {
        slots.withLock { slots in
            for index in slots.indices where slots[index].connection === connection { slots[index].connection = nil }
        }
    }

    /// Every open connection, for health checks.
    var openConnections: [(index: Int, connection: ClientConnection)] {
        slots.withLock { slots in slots.indices.compactMap { index in slots[index].connection.map { (index, $0) } } }
    }

    func setHealthy(_ healthy: Bool, slot index: Int, connection: ClientConnection) {
        slots.withLock { slots in
            guard index < slots.count, slots[index].connection === connection else { return }
            slots[index].healthy = healthy
        }
    }

    /// Closes every connection; later calls fail with UNAVAILABLE.
    func close() {
        closed.store(true, ordering: .relaxed)
        let connections = slots.withLock { slots -> [ClientConnection] in
            defer { for index in slots.indices { slots[index].connection = nil } }
            return slots.compactMap(\.connection)
        }
        for connection in connections { connection.close() }
    }
}
