import Foundation
import InMemoryTracing
import Logging
import MetricsTestKit
import NIOCore
import ServiceContextModule
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
import Tracing

/// Who made the call, as an auth interceptor attaches it.
enum CallerKey: ServiceContextKey {
    typealias Value = String
}

/// Accepts only `authorization: Bearer good-token`, and records the caller for handlers.
struct TestAuthInterceptor: ServerInterceptor {
    func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        guard context.metadata[Metadata.Keys.authorization] == "Bearer good-token" else {
            throw RPCError(code: .unauthenticated, message: "a valid bearer token is required")
        }
        var context = context
        context.serviceContext[CallerKey.self] = "mentee-42"
        try await next(context)
    }
}

enum Whoami {
    static let method = MethodDescriptor<Empty, EchoMessage>(service: "whoami", method: "Get")
}

struct WhoamiService: RPCService {
    func register(into router: inout RPCRouter) {
        router.register(Whoami.method, unary: { _, context in
            EchoMessage(text: context.serviceContext[CallerKey.self] ?? "nobody")
        })
    }
}

/// A handler that calls another server in turn, reporting what the downstream call saw.
struct RelayService: RPCService {
    let downstream: RPCClient

    func register(into router: inout RPCRouter) {
        router.register(Echo.get, unary: { _, context in
            // No timeout or request id passed explicitly: both are inherited from the call being served.
            let (remaining, metadata) = try await downstream.callWithMetadata(Probe.remaining, EchoMessage())
            _ = metadata
            return EchoMessage(text: remaining.text + "|" + context.requestID)
        })
    }
}

/// Returns the request id and trace metadata it was called with.
struct MirrorService: RPCService {
    func register(into router: inout RPCRouter) {
        router.register(Probe.remaining, unary: { _, context in
            let remaining = context.remainingTime.map { "\($0.nanoseconds / 1_000_000)" } ?? "none"
            return EchoMessage(text: "\(remaining)/\(context.requestID)")
        })
    }
}

@Suite("Interceptors, propagation, tracing, metrics")
struct InterceptorTests {
    @Test func authInterceptorRejectsAndAttachesTheCaller() async throws {
        try await withServer(services: [WhoamiService()], interceptors: [TestAuthInterceptor()]) { _, endpoint in
            let anonymous = try makeClient([endpoint])
            defer { anonymous.close() }
            await expectRPCError(.unauthenticated) { _ = try await anonymous.call(Whoami.method, Empty()) }

            // A client interceptor adds the credentials to every call.
            let authenticated = try makeClient([endpoint], interceptors: [MetadataClientInterceptor(["authorization": "Bearer good-token"])])
            defer { authenticated.close() }
            #expect(try await authenticated.call(Whoami.method, Empty()).text == "mentee-42")
        }
    }

    @Test func deadlineAndRequestIDPropagateToCallsMadeByAHandler() async throws {
        try await withServer(services: [MirrorService()]) { _, downstreamEndpoint in
            let downstream = try makeClient([downstreamEndpoint])
            defer { downstream.close() }
            try await withServer(services: [RelayService(downstream: downstream)]) { _, relayEndpoint in
                let client = try makeClient([relayEndpoint])
                defer { client.close() }
                // A deadline long enough for two TLS connections on a busy CI machine (1.5 s was
                // not): what is checked is that the downstream call inherits it.
                let response = try await client.call(
                    Echo.get, EchoMessage(), options: CallOptions(timeout: .seconds(30), metadata: ["request-id": "trace-me-1"])
                )
                let parts = response.text.split(separator: "|")
                let downstreamView = parts[0].split(separator: "/")
                let remaining = try #require(Int(downstreamView[0]))
                // The downstream call got (a little less than) the caller's remaining time.
                #expect(remaining > 0 && remaining <= 30_000)
                #expect(downstreamView[1] == "trace-me-1")
                #expect(parts[1] == "trace-me-1")
            }
        }
    }

    @Test func expiredInheritedDeadlineFailsBeforeSending() async throws {
        try await withServer(services: [MirrorService()]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            await expectRPCError(.deadlineExceeded) {
                try await RPCTaskContext.$current.withValue(.init(deadline: .now() - .seconds(1), requestID: "x")) {
                    _ = try await client.call(Probe.remaining, EchoMessage())
                }
            }
        }
    }

    @Test func traceContinuesAcrossTwoHops() async throws {
        let tracer = InMemoryTracer()
        try await withServer(services: [MirrorService()], interceptors: [TracingServerInterceptor(tracer: tracer)]) { _, downstreamEndpoint in
            let downstream = try makeClient([downstreamEndpoint], interceptors: [TracingClientInterceptor(tracer: tracer)])
            defer { downstream.close() }
            try await withServer(services: [RelayService(downstream: downstream)], interceptors: [TracingServerInterceptor(tracer: tracer)]) { _, relayEndpoint in
                let client = try makeClient([relayEndpoint], interceptors: [TracingClientInterceptor(tracer: tracer)])
                defer { client.close() }
                _ = try await client.call(Echo.get, EchoMessage())
            }
        }
        let spans = tracer.finishedSpans
        // Client → relay server → relay's client → downstream server: one trace, four spans.
        #expect(spans.count == 4)
        #expect(Set(spans.map(\.spanContext.traceID)).count == 1)
        let serverSpans = spans.filter { $0.kind == .server }
        #expect(Set(serverSpans.map(\.operationName)) == ["echo.Get", "probe.Remaining"])
        let downstreamServer = try #require(serverSpans.first { $0.operationName == "probe.Remaining" })
        let relayClient = try #require(spans.first { $0.kind == .client && $0.operationName == "probe.Remaining" })
        #expect(downstreamServer.spanContext.parentSpanID == relayClient.spanContext.spanID)
    }

    @Test func metricsCountCallsByMethodAndStatus() async throws {
        let metrics = TestMetrics()
        try await withServer(services: [EchoService(), ProbeService(log: EventLog())], interceptors: [MetricsServerInterceptor(factory: metrics)]) { _, endpoint in
            let client = try makeClient([endpoint])
            defer { client.close() }
            for _ in 0..<3 { _ = try await client.call(Echo.get, EchoMessage()) }
            await expectRPCError(.unknown) { _ = try await client.call(Probe.fail, EchoMessage()) }
        }
        let ok = try metrics.expectCounter("tandem_rpc_calls_total", [("method", "echo.Get"), ("code", "OK")])
        #expect(ok.totalValue == 3)
        let failed = try metrics.expectCounter("tandem_rpc_calls_total", [("method", "probe.Fail"), ("code", "UNKNOWN")])
        #expect(failed.totalValue == 1)
        let timer = try metrics.expectTimer("tandem_rpc_duration", [("method", "echo.Get")])
        #expect(timer.values.count == 3)
    }

    @Test func loggingInterceptorLogsStatusWithoutSecrets() async throws {
        let recorder = LogRecorder()
        var logger = Logger(label: "test.logs") { _ in recorder }
        logger.logLevel = .debug
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS)
        configuration.handlerExecution = .eventLoop
        let server = RPCServer(configuration: configuration, services: [ProbeService(log: EventLog())], interceptors: [LoggingServerInterceptor()], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress().port!
            let client = try makeClient([Endpoint(host: "127.0.0.1", port: port)])
            defer { client.close() }
            await expectRPCError(.unknown) {
                _ = try await client.call(Probe.fail, EchoMessage(), options: CallOptions(metadata: ["authorization": "Bearer super-secret-token", "request-id": "log-1"]))
            }
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
        let lines = recorder.lines
        #expect(lines.contains { $0.contains("call finished") && $0.contains("UNKNOWN") && $0.contains("log-1") && $0.contains("probe.Fail") })
        #expect(!lines.contains { $0.contains("super-secret-token") || $0.contains("hunter2") })
    }

    @Test("a rate limit's refusal (RESOURCE_EXHAUSTED with retry-after) is not a warning; an overloaded server's is")
    func rateLimitRefusalsAreNotWarnings() async throws {
        let recorder = LogRecorder()
        var logger = Logger(label: "test.logs") { _ in recorder }
        logger.logLevel = .warning
        var configuration = ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS)
        configuration.handlerExecution = .eventLoop
        let server = RPCServer(configuration: configuration, services: [QuotaService()], interceptors: [LoggingServerInterceptor()], logger: logger)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await server.run() }
            let port = try await server.listeningAddress().port!
            let client = try makeClient([Endpoint(host: "127.0.0.1", port: port)])
            defer { client.close() }
            for _ in 0..<5 { await expectRPCError(.resourceExhausted) { _ = try await client.call(QuotaService.limited, EchoMessage()) } }
            await expectRPCError(.resourceExhausted) { _ = try await client.call(QuotaService.exhausted, EchoMessage()) }
            server.beginGracefulShutdown()
            try await group.waitForAll()
        }
        let lines = recorder.lines
        #expect(lines.contains { $0.contains("call finished") && $0.contains("quota.Exhausted") })
        #expect(!lines.contains { $0.contains("quota.Limited") })
    }
}

/// Answers RESOURCE_EXHAUSTED: as a rate limit does (with retry-after), and as an overloaded
/// server does (without).
struct QuotaService: RPCService {
    static let limited = MethodDescriptor<EchoMessage, EchoMessage>(service: "quota", method: "Limited", kind: .unary)
    static let exhausted = MethodDescriptor<EchoMessage, EchoMessage>(service: "quota", method: "Exhausted", kind: .unary)

    func register(into router: inout RPCRouter) {
        router.register(Self.limited, unary: { _, _ in
            var metadata = Metadata()
            metadata[Metadata.Keys.retryAfter] = "250"
            throw RPCError(code: .resourceExhausted, message: "rate limit: retry after 250 ms", metadata: metadata)
        })
        router.register(Self.exhausted, unary: { _, _ in throw RPCError(code: .resourceExhausted, message: "no buffers left") })
    }
}

/// A log handler that keeps every line, for assertions.
final class LogRecorder: LogHandler, @unchecked Sendable {
    // Safe: `lines` is only touched under `lock`; the other properties are set once by the test.
    private let lock = NSLock()
    private var stored: [String] = []
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    var lines: [String] { lock.withLock { stored } }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        let line = "\(event.level) \(event.message) " + all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        lock.withLock { stored.append(line) }
    }
}
