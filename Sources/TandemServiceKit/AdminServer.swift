import Foundation
public import Logging
import Metrics
import NIOCore
import NIOHTTP1
import NIOPosix
public import Prometheus
public import ServiceLifecycle
import Synchronization
public import TandemRPC
import TandemProtocols

/// The operator's window into a service, on a plain-HTTP port of its own (not the RPC port):
///
/// - `GET /metrics`: Prometheus text format (calls, errors, latency per method; connections;
///   store commits; process memory and files);
/// - `GET /healthz`: 200 while the process runs;
/// - `GET /readyz`: 200 when the server is listening and not draining and every readiness probe
///   (store, dependencies) last succeeded; 503 with the failing checks otherwise.
///
/// Run it in the service group before the RPC server, so that it is shut down after it and
/// `/readyz` answers 503 while the server drains.
public final class AdminServer: Service, Sendable {
    public let endpoints: AdminEndpoints
    private let channel: any Channel
    private let logger: Logger

    /// Binds `host:port` (0 picks a free port); fails at once if it cannot.
    public static func bind(host: String, port: Int, endpoints: AdminEndpoints, logger: Logger) async throws -> AdminServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(AdminHTTPHandler(endpoints: endpoints))
                }
            }
            .bind(host: host, port: port).get()
        return AdminServer(channel: channel, endpoints: endpoints, logger: logger)
    }

    private init(channel: any Channel, endpoints: AdminEndpoints, logger: Logger) {
        self.channel = channel
        self.endpoints = endpoints
        self.logger = logger
    }

    /// The port it listens on.
    public var port: Int { channel.localAddress?.port ?? 0 }

    public func run() async throws {
        logger.info("admin endpoints listening", metadata: ["address": "\(channel.localAddress.map { "\($0)" } ?? "?")", "paths": "/metrics /healthz /readyz"])
        // Ends on graceful shutdown, and on cancellation (the group cancels everything when a
        // service fails, e.g. the RPC port is taken).
        await withTaskCancellationOrGracefulShutdownHandler {
            try? await channel.closeFuture.get()
        } onCancelOrGracefulShutdown: {
            self.channel.close(promise: nil)
        }
    }
}

/// What the admin port answers: the metrics registry, gauges refreshed at each scrape, and the
/// readiness checks.
public final class AdminEndpoints: Sendable {
    public let registry: PrometheusCollectorRegistry
    private let state = Mutex<(collectors: [@Sendable () -> Void], checks: [(name: String, check: @Sendable () -> String?)])>(([], []))

    public init(registry: PrometheusCollectorRegistry) {
        self.registry = registry
        let resident = registry.makeGauge(descriptor: .init(metricName: "process_resident_memory", unitName: "bytes", helpText: "Resident memory of the process."))
        let files = registry.makeGauge(descriptor: .init(metricName: "process_open", unitName: "fds", helpText: "Open file descriptors."))
        addCollector {
            if let bytes = ProcessStatistics.residentBytes() { resident.set(Double(bytes)) }
            if let count = ProcessStatistics.openFiles() { files.set(Double(count)) }
        }
    }

    /// Runs `collector` before every scrape (to set gauges sampled from elsewhere).
    public func addCollector(_ collector: @escaping @Sendable () -> Void) {
        state.withLock { $0.collectors.append(collector) }
    }

    /// A readiness check: nil when fine, else why not.
    public func addCheck(_ name: String, _ check: @escaping @Sendable () -> String?) {
        state.withLock { $0.checks.append((name, check)) }
    }

    /// Adds the RPC server's own readiness (listening, not draining) and its gauges.
    public func watch(_ server: RPCServer) {
        let connections = registry.makeGauge(descriptor: .init(metricName: "tandem_rpc_open", unitName: "connections", helpText: "Open client connections."))
        addCollector { connections.set(Double(server.connectionCount)) }
        addCheck("server") {
            switch server.health.status(of: "") {
            case .serving: nil
            default: "not serving (starting or draining)"
            }
        }
    }

    func metricsText() -> String {
        for collector in state.withLock({ $0.collectors }) { collector() }
        return registry.emitToString()
    }

    /// The failing checks (empty: ready).
    func readinessFailures() -> [String] {
        state.withLock { $0.checks }.compactMap { name, check in check().map { "\(name): \($0)" } }
    }

    func respond(method: HTTPMethod, path: String) -> (HTTPResponseStatus, String, String) {
        guard method == .GET || method == .HEAD else { return (.methodNotAllowed, "text/plain", "only GET\n") }
        switch path {
        case "/metrics":
            return (.ok, "text/plain; version=0.0.4; charset=utf-8", metricsText())
        case "/healthz":
            return (.ok, "text/plain", "ok\n")
        case "/readyz":
            let failures = readinessFailures()
            return failures.isEmpty ? (.ok, "text/plain", "ready\n") : (.serviceUnavailable, "text/plain", failures.joined(separator: "\n") + "\n")
        default:
            return (.notFound, "text/plain", "not found: try /metrics, /healthz or /readyz\n")
        }
    }
}

/// Answers one request at a time per connection (keep-alive supported).
final class AdminHTTPHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let endpoints: AdminEndpoints
    private var head: HTTPRequestHead?

    init(endpoints: AdminEndpoints) {
        self.endpoints = endpoints
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
        case .body:
            break
        case .end:
            guard let head else { return }
            self.head = nil
            let path = String(head.uri.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first ?? "")
            let (status, contentType, body) = endpoints.respond(method: head.method, path: path)
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: contentType)
            headers.add(name: "Content-Length", value: "\(body.utf8.count)")
            headers.add(name: "Cache-Control", value: "no-store")
            let keepAlive = head.isKeepAlive
            if !keepAlive { headers.add(name: "Connection", value: "close") }
            context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: status, headers: headers))), promise: nil)
            if head.method != .HEAD {
                context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))), promise: nil)
            }
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !keepAlive {
                let bound = NIOLoopBound(context, eventLoop: context.eventLoop)
                written.whenComplete { _ in bound.value.close(promise: nil) }
            }
        }
    }
}

/// Checks that run in the background (a store read, a call to a dependency) and keep their last
/// outcome for `/readyz`, so a readiness probe never waits on them.
public final class ReadinessProbe: Service, Sendable {
    public let name: String
    private let interval: Duration
    private let probe: @Sendable () async throws -> Void
    private let last = Mutex<String?>("not checked yet")

    public init(_ name: String, every interval: Duration = .seconds(5), _ probe: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.probe = probe
    }

    /// Nil when the last check succeeded, else why it failed.
    public var failure: String? { last.withLock { $0 } }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    try await self.probe()
                    self.last.withLock { $0 = nil }
                } catch {
                    self.last.withLock { $0 = "\(error)" }
                }
                try? await Task.sleep(for: self.interval)
            }
        }
    }

    /// Registers it with the admin endpoints.
    public func register(with endpoints: AdminEndpoints) {
        endpoints.addCheck(name) { [self] in failure }
    }
}

/// The process's resident memory and open files, from /proc (Linux).
public enum ProcessStatistics {
    public static func residentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
        }
        return nil
    }

    public static func openFiles() -> Int? {
        (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")).map(\.count)
    }
}

/// Metrics for a service process: a Prometheus registry behind swift-metrics.
public enum TandemMetrics {
    /// Bootstraps swift-metrics with a Prometheus registry (once per process) and returns it.
    public static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        let durations: [Duration] = [
            .microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10),
            .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(10),
        ]
        factory.defaultDurationHistogramBuckets = durations
        factory.valueHistogramBuckets["tandem_store_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
        MetricsSystem.bootstrap(factory)
        return registry
    }
}
