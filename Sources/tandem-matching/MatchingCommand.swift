import ArgumentParser
import Foundation
import Logging
import MatchingService
import ServiceLifecycle
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemWire

@main
struct MatchingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-matching",
        abstract: "Tandem's matching service: explained scores, recommendations, optimal cohort matching, the match lifecycle.",
        version: TandemVersion.text
    )

    static let defaultPort = 7102

    @OptionGroup var options: ServiceOptions

    @Option(help: "The identity service, HOST:PORT (repeatable): its keys verify access tokens, its participants are matched. [env: TANDEM_IDENTITY] (default: 127.0.0.1:7101)")
    var identity: [String] = []

    @Option(name: .customLong("expiry-sweep-seconds"), help: "How often lapsed proposals are expired. [env: TANDEM_EXPIRY_SWEEP_SECONDS] (default: 30)")
    var expirySweepSeconds: Int?

    func run() async throws {
        let environment = try options.environment(extraNames: ["identity", "expiry-sweep-seconds"])
        let settings = try options.resolve(service: "matching", defaultPort: Self.defaultPort, environment: environment)
        var configuration = MatchingConfiguration()
        configuration.now = settings.now
        if let text = expirySweepSeconds.map(String.init) ?? environment["TANDEM_EXPIRY_SWEEP_SECONDS"] {
            guard let seconds = Int(text), (1...3600).contains(seconds) else {
                throw ServiceConfigurationError("--expiry-sweep-seconds '\(text)' must be a whole number of seconds, 1–3600")
            }
            configuration.expirySweepSeconds = Double(seconds)
        }
        let identityEndpoints = try ServiceEndpoints.parse(identity, option: "identity", environment: environment, default: "127.0.0.1:7101")

        let registry = TandemObservability.bootstrap(settings: settings)
        let logger = Logger(label: "tandem.matching")
        let identityClient = try RPCClient(
            endpoints: identityEndpoints, tls: settings.clientTLS(serverName: "identity"), interceptors: TandemObservability.clientInterceptors, logger: logger
        )
        let verifier = TokenVerifier(now: settings.now) { try await identityClient.call(Identity.verificationKeys, Empty(), options: CallOptions(timeout: .seconds(5))) }
        let matching: MatchingServer
        do {
            matching = try MatchingServer.open(
                dataDirectory: settings.dataDirectory, directory: IdentityParticipantDirectory(client: identityClient), configuration: configuration, logger: logger
            )
        } catch {
            throw ServiceConfigurationError("cannot open the database in \(settings.dataDirectory): \(error)")
        }
        defer { matching.close() }
        let server = RPCServer(
            configuration: settings.serverConfiguration, services: [matching.service],
            interceptors: TandemObservability.serverInterceptors + [AuthServerInterceptor(verifier: verifier, internalMethods: Matching.internalMethods)],
            logger: logger
        )
        let store = ReadinessProbe("store") { try await matching.checkStore() }
        let identityProbe = ReadinessProbe("identity") {
            let health = try await identityClient.call(Health.check, HealthCheckRequest(service: ""), options: CallOptions(timeout: .seconds(2)))
            guard health.status == .serving else { throw RPCError(code: .unavailable, message: "identity reports \(health.status)") }
        }
        try await ServiceRunner.run(
            server: server, alongside: [identityClient, MaintenanceService(matching: matching), ErasureFollower(matching: matching, erasures: RPCErasureFeed(client: identityClient))],
            probes: [store, identityProbe],
            metrics: registry, settings: settings, logger: logger
        )
    }
}

/// Expires lapsed proposals until shutdown.
struct MaintenanceService: Service {
    let matching: MatchingServer

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await matching.maintain()
        }
    }
}

/// Follows identity's erasures until shutdown (read with matching's own certificate): an erased
/// person is matched no more, and their open matches end.
struct ErasureFollower: Service {
    let matching: MatchingServer
    let erasures: any ErasureFeed

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await matching.followErasures(erasures)
        }
    }
}
