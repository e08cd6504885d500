import ArgumentParser
import FeedbackService
import Foundation
import Logging
import ServiceLifecycle
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemWire

@main
struct FeedbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-feedback",
        abstract: "Tandem's feedback service: session feedback, surveys, goals and k-anonymous program reports.",
        version: TandemVersion.text
    )

    static let defaultPort = 7104

    @OptionGroup var options: ServiceOptions

    @Option(help: "The identity service, HOST:PORT (repeatable): token keys, respondents' divisions and its erasure feed. [env: TANDEM_IDENTITY] (default: 127.0.0.1:7101)")
    var identity: [String] = []

    @Option(help: "The scheduling service, HOST:PORT (repeatable), whose meeting change feed feedback copies. [env: TANDEM_SCHEDULING] (default: 127.0.0.1:7103)")
    var scheduling: [String] = []

    @Option(help: "The matching service, HOST:PORT (repeatable): its match change feed, and where re-match signals go. [env: TANDEM_MATCHING] (default: 127.0.0.1:7102)")
    var matching: [String] = []

    @Option(name: .customLong("sync-seconds"), help: "How often the match, meeting and erasure feeds are pulled. [env: TANDEM_SYNC_SECONDS] (default: 3)")
    var syncSeconds: Int?

    func run() async throws {
        let environment = try options.environment(extraNames: ["identity", "scheduling", "matching", "sync-seconds"])
        let settings = try options.resolve(service: "feedback", defaultPort: Self.defaultPort, environment: environment)
        var configuration = FeedbackConfiguration()
        configuration.now = settings.now
        if let text = syncSeconds.map(String.init) ?? environment["TANDEM_SYNC_SECONDS"] {
            guard let seconds = Int(text), (1...3600).contains(seconds) else { throw ServiceConfigurationError("--sync-seconds '\(text)' must be 1–3600") }
            configuration.syncInterval = .seconds(seconds)
        }
        do {
            try configuration.validate()
        } catch {
            throw ServiceConfigurationError("\(error)")
        }
        let identityEndpoints = try ServiceEndpoints.parse(identity, option: "identity", environment: environment, default: "127.0.0.1:7101")
        let schedulingEndpoints = try ServiceEndpoints.parse(scheduling, option: "scheduling", environment: environment, default: "127.0.0.1:7103")
        let matchingEndpoints = try ServiceEndpoints.parse(matching, option: "matching", environment: environment, default: "127.0.0.1:7102")

        let registry = TandemObservability.bootstrap(settings: settings)
        let logger = Logger(label: "tandem.feedback")
        // Feedback calls the others with its own certificate: identity's, scheduling's and
        // matching's internal methods admit it by that name.
        let identityClient = try RPCClient(
            endpoints: identityEndpoints, tls: settings.clientTLS(serverName: "identity"), interceptors: TandemObservability.clientInterceptors, logger: logger
        )
        let schedulingClient = try RPCClient(
            endpoints: schedulingEndpoints, tls: settings.clientTLS(serverName: "scheduling"), interceptors: TandemObservability.clientInterceptors, logger: logger
        )
        let matchingClient = try RPCClient(
            endpoints: matchingEndpoints, tls: settings.clientTLS(serverName: "matching"), interceptors: TandemObservability.clientInterceptors, logger: logger
        )
        let verifier = TokenVerifier(now: settings.now) { try await identityClient.call(Identity.verificationKeys, Empty(), options: CallOptions(timeout: .seconds(5))) }
        let feedback: FeedbackServer
        do {
            feedback = try FeedbackServer.open(
                dataDirectory: settings.dataDirectory, configuration: configuration,
                peers: .rpc(scheduling: schedulingClient, matching: matchingClient, identity: identityClient), logger: logger
            )
        } catch {
            throw ServiceConfigurationError("cannot open the database in \(settings.dataDirectory): \(error)")
        }
        defer { feedback.close() }
        let server = RPCServer(
            configuration: settings.serverConfiguration, services: [feedback.service],
            interceptors: TandemObservability.serverInterceptors + [AuthServerInterceptor(verifier: verifier)], logger: logger
        )
        let store = ReadinessProbe("store") { try await feedback.checkStore() }
        // Tokens are verified with identity's keys; scheduling and matching being down only delays
        // the copy of their facts (the feeds resume from their cursors, as identity's erasure feed
        // does), so they are not probed.
        let identityProbe = ReadinessProbe("identity") {
            let health = try await identityClient.call(Health.check, HealthCheckRequest(service: ""), options: CallOptions(timeout: .seconds(2)))
            guard health.status == .serving else { throw RPCError(code: .unavailable, message: "identity reports \(health.status)") }
        }
        try await ServiceRunner.run(
            server: server, alongside: [identityClient, schedulingClient, matchingClient, BackgroundSync(feedback: feedback)],
            probes: [store, identityProbe], metrics: registry, settings: settings, logger: logger
        )
    }
}

/// Pulls the feeds (matches, meetings, erasures) and delivers fit signals until shutdown.
struct BackgroundSync: Service {
    let feedback: FeedbackServer

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await feedback.runBackground()
        }
    }
}
