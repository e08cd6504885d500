import ArgumentParser
import Foundation
import GatewayService
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemWire

@main
struct GatewayCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-gateway",
        abstract: "Tandem's gateway: the one endpoint clients call; routes to the services, aggregates dashboards, limits rates.",
        version: TandemVersion.text
    )

    static let defaultPort = 7100

    @OptionGroup var options: ServiceOptions

    @Option(help: "Identity instances, HOST:PORT (repeatable, or comma-separated). [env: TANDEM_IDENTITY] (default: 127.0.0.1:7101)")
    var identity: [String] = []
    @Option(help: "Matching instances, HOST:PORT (repeatable, or comma-separated). [env: TANDEM_MATCHING] (default: 127.0.0.1:7102)")
    var matching: [String] = []
    @Option(help: "Feedback instances, HOST:PORT (repeatable, or comma-separated). [env: TANDEM_FEEDBACK] (default: 127.0.0.1:7104)")
    var feedback: [String] = []
    @Option(help: "Scheduling instances, HOST:PORT (repeatable, or comma-separated). [env: TANDEM_SCHEDULING] (default: 127.0.0.1:7103)")
    var scheduling: [String] = []

    @Option(name: .customLong("rate-limit"), help: "Calls a second per user or service account, and per address for calls without a token; 0: no limit. [env: TANDEM_RATE_LIMIT] (default: 100)")
    var rateLimit: Double?
    @Option(name: .customLong("rate-burst"), help: "Calls allowed at once above the rate. [env: TANDEM_RATE_BURST] (default: 200)")
    var rateBurst: Int?
    @Option(name: .customLong("max-concurrent-calls"), help: "Calls in flight per client connection. [env: TANDEM_MAX_CONCURRENT_CALLS] (default: 100)")
    var maxConcurrentCalls: Int?
    @Option(name: .customLong("max-message-bytes"), help: "Largest message accepted, from a client or a service (16384–67108864). [env: TANDEM_MAX_MESSAGE_BYTES] (default: 4194304)")
    var maxMessageBytes: Int?
    @Option(name: .customLong("aggregate-timeout-ms"), help: "The longest a dashboard waits for its slowest part. [env: TANDEM_AGGREGATE_TIMEOUT_MS] (default: 2000)")
    var aggregateTimeoutMilliseconds: Int?
    @Flag(name: .customLong("require-client-certificates"), help: "Require clients to present a certificate from the CA (default: a server certificate only, as for integrators).")
    var requireClientCertificates = false

    func run() async throws {
        let names = ["identity", "matching", "scheduling", "feedback", "rate-limit", "rate-burst", "max-concurrent-calls", "max-message-bytes", "aggregate-timeout-ms"]
        let environment = try options.environment(extraNames: Set(names))
        let settings = try options.resolve(service: "gateway", defaultPort: Self.defaultPort, environment: environment)
        func number<T: LosslessStringConvertible & Comparable>(_ flag: T?, _ name: String, default value: T, _ range: ClosedRange<T>) throws -> T {
            guard let text = flag?.description ?? environment["TANDEM_" + name.uppercased().replacing("-", with: "_")] else { return value }
            guard let parsed = T(text), range.contains(parsed) else { throw ServiceConfigurationError("--\(name) '\(text)' must be a number in \(range.lowerBound)…\(range.upperBound)") }
            return parsed
        }
        let identityEndpoints = try ServiceEndpoints.parse(identity, option: "identity", environment: environment, default: "127.0.0.1:7101")
        let matchingEndpoints = try ServiceEndpoints.parse(matching, option: "matching", environment: environment, default: "127.0.0.1:7102")
        let schedulingEndpoints = try ServiceEndpoints.parse(scheduling, option: "scheduling", environment: environment, default: "127.0.0.1:7103")
        let feedbackEndpoints = try ServiceEndpoints.parse(feedback, option: "feedback", environment: environment, default: "127.0.0.1:7104")
        let rate = try number(rateLimit, "rate-limit", default: 100.0, 0...1_000_000)
        let burst = try number(rateBurst, "rate-burst", default: 200, 1...1_000_000)
        let concurrent = try number(maxConcurrentCalls, "max-concurrent-calls", default: 100, 1...10_000)
        let messageBytes = try number(maxMessageBytes, "max-message-bytes", default: 4 << 20, GatewayConfiguration.messageBytesRange)
        let aggregate = try number(aggregateTimeoutMilliseconds, "aggregate-timeout-ms", default: 2000, 50...60_000)

        let registry = TandemObservability.bootstrap(settings: settings)
        let logger = Logger(label: "tandem.gateway")
        // One group of event loops for the client-facing connections and the upstream ones, with
        // a connection to each instance on every loop: a forwarded call goes out and its answer
        // comes back on the thread that took the call, without a hand-off between threads.
        let threads = settings.serverConfiguration.eventLoopThreads == 0 ? System.coreCount : settings.serverConfiguration.eventLoopThreads
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        var clientConfiguration = ClientConfiguration()
        clientConfiguration.connectionsPerEndpoint = max(2, threads)
        // The services answer uncompressed: they share a network with the gateway, where zlib
        // costs more time than the bytes it saves, and the gateway compresses once for its own
        // clients (--compression-threshold) instead of inflating and deflating again.
        clientConfiguration.acceptsCompressedResponses = false
        var serverConfiguration = settings.serverConfiguration
        GatewayConfiguration.limitMessages(to: messageBytes, server: &serverConfiguration, upstream: &clientConfiguration)
        func client(_ endpoints: [Endpoint], _ name: String) throws -> RPCClient {
            try RPCClient(
                endpoints: endpoints, tls: settings.clientTLS(serverName: name), configuration: clientConfiguration,
                interceptors: TandemObservability.clientInterceptors, eventLoopGroup: group, logger: logger
            )
        }
        let upstreams = GatewayUpstreams(
            identity: try client(identityEndpoints, "identity"), matching: try client(matchingEndpoints, "matching"),
            scheduling: try client(schedulingEndpoints, "scheduling"), feedback: try client(feedbackEndpoints, "feedback")
        )
        let verifier = TokenVerifier(now: settings.now) { try await upstreams.identity.call(Identity.verificationKeys, Empty(), options: CallOptions(timeout: .seconds(5))) }
        var gatewayConfiguration = GatewayConfiguration()
        gatewayConfiguration.aggregateTimeout = .milliseconds(aggregate)
        gatewayConfiguration.now = settings.now
        let gateway = GatewayServer(upstreams: upstreams, configuration: gatewayConfiguration, logger: logger)
        if !requireClientCertificates {
            serverConfiguration.tls = ServerTLSConfiguration(identity: settings.tls.identity, clientTrustRoots: nil)
        }
        serverConfiguration.maxConcurrentStreams = concurrent
        // The buckets run on a monotonic clock (EdgeInterceptor's default), not on settings.now:
        // a wall clock stepped back would leave every active bucket in debt.
        let limiter = rate > 0 ? RateLimiter(perSecond: rate, burst: burst) : nil
        let server = RPCServer(
            configuration: serverConfiguration, services: [gateway.service],
            interceptors: TandemObservability.serverInterceptors + EdgeInterceptor.chain(verifier: verifier, limiter: limiter),
            logger: logger, eventLoopGroup: group
        )
        let probes = [("identity", upstreams.identity), ("matching", upstreams.matching), ("scheduling", upstreams.scheduling), ("feedback", upstreams.feedback)].map { name, client in
            ReadinessProbe(name) {
                let health = try await client.call(Health.check, HealthCheckRequest(service: ""), options: CallOptions(timeout: .seconds(2)))
                guard health.status == .serving else { throw RPCError(code: .unavailable, message: "\(name) reports \(health.status)") }
            }
        }
        do {
            try await ServiceRunner.run(server: server, alongside: upstreams.all, probes: probes, metrics: registry, settings: settings, logger: logger)
        } catch {
            try? await group.shutdownGracefully()
            throw error
        }
        try await group.shutdownGracefully()
    }
}
