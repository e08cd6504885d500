import Foundation
import Glibc
import InMemoryTracing
import Logging
import MetricsTestKit
import NIOCore
import NIOPosix
import Synchronization
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
import Tracing

/// Methods of the upstream server behind a proxy.
enum PassProbe {
    /// Answers with what the call carried: request id, `x-pass`, `x-dropped` (which the proxy does
    /// not pass on), the remaining time in ms, and the request's text.
    static let look = MethodDescriptor<EchoMessage, EchoMessage>(service: "pass", method: "Look")
    /// FAILED_PRECONDITION with `retry-after: 7` in its metadata.
    static let refuse = MethodDescriptor<EchoMessage, EchoMessage>(service: "pass", method: "Refuse")
    /// The same method, as a client that sends any bytes sees it.
    static let lookRaw = MethodDescriptor<CBORRawMessage, EchoMessage>(service: "pass", method: "Look")
}

struct PassProbeService: RPCService {
    let calls = Counter()

    func register(into router: inout RPCRouter) {
        router.register(PassProbe.look, unary: { request, context in
            _ = calls.next()
            let remaining = context.remainingTime.map { "\($0.nanoseconds / 1_000_000)" } ?? "none"
            let parts = [context.requestID, context.metadata["x-pass"] ?? "-", context.metadata["x-dropped"] ?? "dropped", remaining, request.text]
            return EchoMessage(text: parts.joined(separator: "|"))
        })
        router.register(PassProbe.refuse, unary: { _, _ in
            _ = calls.next()
            var metadata = Metadata()
            metadata[Metadata.Keys.retryAfter] = "7"
            throw RPCError(code: .failedPrecondition, message: "nope", metadata: metadata)
        })
    }
}

/// A proxy: the upstream's methods registered `passingOn`, with `x-pass` taken from the call.
struct PassingProxy: RPCService {
    let upstream: RPCClient

    func register(into router: inout RPCRouter) {
        for method in [PassProbe.look.erased, PassProbe.refuse.erased, Probe.wait.erased, Probe.flaky.erased] {
            router.register(passingOn: method, to: upstream) { context in
                var metadata = Metadata()
                if let value = context.metadata["x-pass"] { metadata["x-pass"] = value }
                return metadata
            }
        }
    }
}

/// Records how it ran: `intercept` (a task), `begin`, and each end with its status.
struct RecordingInterceptor: SynchronousServerInterceptor {
    let log: EventLog

    func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        log.record("intercept")
        try await interceptWithBegin(context: context, next: next)
    }

    func begin(_ context: inout ServerContext) throws(RPCError) -> CallEnd? {
        log.record("begin")
        if context.metadata["x-refuse"] != nil { throw RPCError(code: .permissionDenied, message: "refused at the proxy") }
        let log = self.log
        return { error in log.record("end:\(error?.code.name ?? "OK")") }
    }
}

/// An interceptor with no synchronous form: a server with it runs every call as a task.
struct AsyncOnlyInterceptor: ServerInterceptor {
    func intercept(context: ServerContext, next: @Sendable (ServerContext) async throws -> Void) async throws {
        try await next(context)
    }
}

@Suite("RPC: unary methods passed on to another server (a proxy)")
struct PassOnTests {
    /// Runs upstream ← proxy, the proxy's server and its client to upstream on one event-loop
    /// group when `sharedGroup` (the gateway's set-up: the same thread both ways), on two otherwise
    /// (the answer hops back to the proxy's loop).
    func withProxy(
        sharedGroup: Bool, proxyInterceptors: [any ServerInterceptor], upstreamEndpoints: @escaping (Endpoint) -> [Endpoint] = { [$0] },
        tracer: InMemoryTracer? = nil, upstreamService: PassProbeService = PassProbeService(), log: EventLog = EventLog(),
        _ body: (RPCClient) async throws -> Void
    ) async throws {
        let upstreamTracing: [any ServerInterceptor] = tracer.map { [TracingServerInterceptor(tracer: $0)] } ?? []
        let clientTracing: [any ClientInterceptor] = tracer.map { [TracingClientInterceptor(tracer: $0)] } ?? []
        try await withServer(services: [upstreamService, ProbeService(log: log)], interceptors: upstreamTracing) { _, upstreamEndpoint in
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            do {
                var configuration = ClientConfiguration()
                configuration.backoff = ConnectionBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
                configuration.connectionsPerEndpoint = 2
                let upstream = try RPCClient(
                    endpoints: upstreamEndpoints(upstreamEndpoint), tls: TestPKI.shared.clientTLS(serverName: "echo"), configuration: configuration,
                    interceptors: clientTracing, eventLoopGroup: sharedGroup ? group : nil, logger: Logger(label: "test.upstream")
                )
                defer { upstream.close() }
                let proxy = RPCServer(
                    configuration: ServerConfiguration(host: "127.0.0.1", port: 0, tls: TestPKI.shared.serverTLS), services: [PassingProxy(upstream: upstream)],
                    interceptors: proxyInterceptors, logger: Logger(label: "test.proxy"), eventLoopGroup: group
                )
                try await withThrowingTaskGroup(of: Void.self) { tasks in
                    tasks.addTask { try await proxy.run() }
                    let port = try await proxy.listeningAddress().port!
                    let client = try makeClient([Endpoint(host: "127.0.0.1", port: port)], interceptors: clientTracing)
                    defer { client.close() }
                    do {
                        try await body(client)
                    } catch {
                        proxy.beginGracefulShutdown()
                        throw error
                    }
                    proxy.beginGracefulShutdown()
                    try await tasks.waitForAll()
                }
            } catch {
                try? await group.shutdownGracefully()
                throw error
            }
            try await group.shutdownGracefully()
        }
    }

    @Test(
        "through the proxy, with or without a task: the upstream's answer and errors as it gave them, the request id, deadline and metadata passed on, a bad request refused at the proxy",
        arguments: [(true, true), (true, false), (false, true)]
    )
    func answersAndErrorsPassThrough(synchronous: Bool, sharedGroup: Bool) async throws {
        let log = EventLog()
        let service = PassProbeService()
        let interceptors: [any ServerInterceptor] = [RecordingInterceptor(log: log)] + (synchronous ? [] : [AsyncOnlyInterceptor()])
        try await withProxy(sharedGroup: sharedGroup, proxyInterceptors: interceptors, upstreamService: service) { client in
            for index in 0..<20 {
                var sent: Metadata = ["x-pass": "carried", "x-dropped": "no"]
                sent["request-id"] = "pass-\(index)"
                let options = CallOptions(timeout: .seconds(30), metadata: sent)
                let (response, metadata) = try await client.callWithMetadata(PassProbe.look, EchoMessage(text: "hello \(index)"), options: options)
                let parts = response.text.split(separator: "|").map(String.init)
                #expect(parts.count == 5)
                #expect(parts[0] == "pass-\(index)")
                #expect(parts[1] == "carried")
                #expect(parts[2] == "dropped")
                let remaining = try #require(Int(parts[3]))
                #expect(remaining > 0 && remaining <= 30_000)
                #expect(parts[4] == "hello \(index)")
                #expect(metadata["request-id"] == "pass-\(index)")
            }

            // An error comes back with its code, message and metadata.
            let refused = await expectRPCError(.failedPrecondition) { _ = try await client.call(PassProbe.refuse, EchoMessage()) }
            #expect(refused?.message == "nope")
            #expect(refused?.metadata[Metadata.Keys.retryAfter] == "7")

            // Bytes that are not one CBOR item never reach the upstream server.
            let before = service.calls.count
            await expectRPCError(.invalidArgument) { _ = try await client.call(PassProbe.lookRaw, CBORRawMessage(bytes: [0xA1, 0x61])) }
            await expectRPCError(.invalidArgument) { _ = try await client.call(PassProbe.lookRaw, CBORRawMessage(bytes: [0xA0, 0x00])) }
            #expect(service.calls.count == before)

            // An idempotent method is retried on UNAVAILABLE (the upstream fails it twice).
            let flaky = try await client.call(Probe.flaky, EchoMessage(text: "third time"))
            #expect(flaky.text == "third time")

            // A refusal by an interceptor ends the call with it; the earlier ends see it.
            await expectRPCError(.permissionDenied) { _ = try await client.call(PassProbe.look, EchoMessage(), options: CallOptions(metadata: ["x-refuse": "1"])) }
            #expect(service.calls.count == before)
        }
        // Every call began once and ended once, with its status.
        let events = log.all
        #expect(events.filter { $0 == "begin" }.count == 25)
        #expect(events.filter { $0.hasPrefix("end:") }.count == 24)
        #expect(events.filter { $0 == "end:OK" }.count == 21)
        #expect(events.filter { $0 == "end:FAILED_PRECONDITION" }.count == 1)
        #expect(events.filter { $0 == "end:INVALID_ARGUMENT" }.count == 2)
        // Passed on without a task exactly when every interceptor has a synchronous form.
        #expect(events.contains("intercept") == !synchronous)
    }

    @Test("a call passed on continues the trace: the proxy's server span, its client span, then the upstream's server span; metrics count it", arguments: [true, false])
    func traceAndMetrics(sharedGroup: Bool) async throws {
        let tracer = InMemoryTracer()
        let metrics = TestMetrics()
        let log = EventLog()
        let interceptors: [any ServerInterceptor] = [
            TracingServerInterceptor(tracer: tracer), MetricsServerInterceptor(factory: metrics), LoggingServerInterceptor(), RecordingInterceptor(log: log),
        ]
        try await withProxy(sharedGroup: sharedGroup, proxyInterceptors: interceptors, tracer: tracer) { client in
            let response = try await client.call(PassProbe.look, EchoMessage(text: "traced"))
            #expect(response.text.hasSuffix("|traced"))
            await expectRPCError(.failedPrecondition) { _ = try await client.call(PassProbe.refuse, EchoMessage()) }
        }
        #expect(!log.contains("intercept"))
        let spans = tracer.finishedSpans.filter { $0.operationName == "pass.Look" }
        // Client → proxy server → proxy's client → upstream server: one trace, four spans.
        #expect(spans.count == 4)
        #expect(Set(spans.map(\.spanContext.traceID)).count == 1)
        let proxyServer = try #require(spans.first { $0.kind == .server && $0.spanContext.parentSpanID == spans.first { $0.kind == .client && $0.spanContext.parentSpanID == nil }?.spanContext.spanID })
        let proxyClient = try #require(spans.first { $0.kind == .client && $0.spanContext.parentSpanID == proxyServer.spanContext.spanID })
        #expect(spans.contains { $0.kind == .server && $0.spanContext.parentSpanID == proxyClient.spanContext.spanID })
        let ok = try metrics.expectCounter("tandem_rpc_calls_total", [("method", "pass.Look"), ("code", "OK")])
        #expect(ok.totalValue == 1)
        let failed = try metrics.expectCounter("tandem_rpc_calls_total", [("method", "pass.Refuse"), ("code", "FAILED_PRECONDITION")])
        #expect(failed.totalValue == 1)
        #expect(try metrics.expectTimer("tandem_rpc_duration", [("method", "pass.Look")]).values.count == 1)
    }

    @Test("the client's deadline and its cancellation reach the upstream call: it is cancelled there, and the call ends once", arguments: [true, false])
    func deadlineAndCancellationReachTheUpstream(sharedGroup: Bool) async throws {
        let log = EventLog()
        let upstreamLog = EventLog()
        try await withProxy(sharedGroup: sharedGroup, proxyInterceptors: [RecordingInterceptor(log: log)], log: upstreamLog) { client in
            // A connection made first, and a deadline long enough for the proxy's second one to its
            // upstream: on a busy machine a TLS handshake can take a second, and the call would end
            // before it reached the upstream server.
            _ = try await client.call(PassProbe.look, EchoMessage())
            await expectRPCError(.deadlineExceeded) {
                _ = try await client.call(Probe.wait, EchoMessage(text: "late", delayMilliseconds: 60_000), options: CallOptions(timeout: .seconds(4)))
            }
            let seen1 = try await eventually { upstreamLog.contains("cancelled:late") }
            #expect(seen1)

            let call = Task { try await client.call(Probe.wait, EchoMessage(text: "dropped", delayMilliseconds: 60_000)) }
            let seen2 = try await eventually { upstreamLog.contains("started:dropped") }
            #expect(seen2)
            call.cancel()
            _ = await call.result
            let seen3 = try await eventually { upstreamLog.contains("cancelled:dropped") }
            #expect(seen3)
            let seen4 = try await eventually { log.all.filter { $0.hasPrefix("end:") }.count == 3 }
            #expect(seen4, "\(log.all)")
        }
        #expect(!log.contains("intercept"))
        let ends = log.all.filter { $0.hasPrefix("end:") }
        #expect(ends.count == 3)
        #expect(ends.first == "end:OK" && ends.last == "end:CANCELLED")
        // The proxy's own deadline, or the client's CANCEL when its timer fired first.
        #expect(ends.count == 3 && ["end:DEADLINE_EXCEEDED", "end:CANCELLED"].contains(ends[1]))
    }

    @Test("an upstream instance that is down costs its turn, not the call; with none up the call is UNAVAILABLE")
    func upstreamInstancesDown() async throws {
        try await withRefusingPort { closed in
            try await withProxy(sharedGroup: true, proxyInterceptors: [], upstreamEndpoints: { [closed, $0] }) { client in
                for index in 0..<6 {
                    let answer = try await client.call(PassProbe.look, EchoMessage(text: "\(index)"))
                    #expect(answer.text.hasSuffix("|\(index)"))
                }
            }
            try await withProxy(sharedGroup: true, proxyInterceptors: [], upstreamEndpoints: { _ in [closed] }) { client in
                await expectRPCError(.unavailable) { _ = try await client.call(PassProbe.look, EchoMessage(), options: CallOptions(timeout: .seconds(10))) }
            }
        }
    }
}

/// A loopback port that is bound but not listening while `body` runs: connections to it are
/// refused, and no server of a test running alongside can take it.
func withRefusingPort<T>(_ body: (Endpoint) async throws -> T) async throws -> T {
    let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    precondition(socket >= 0, "socket: \(errno)")
    defer { close(socket) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) == 0 && getsockname(socket, $0, &length) == 0 }
    }
    precondition(bound, "bind: \(errno)")
    return try await body(Endpoint(host: "127.0.0.1", port: Int(UInt16(bigEndian: address.sin_port))))
}
