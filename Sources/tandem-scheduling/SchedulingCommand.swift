import ArgumentParser
import Foundation
import Logging
import SchedulingService
import ServiceLifecycle
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemWire

@main
struct SchedulingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-scheduling",
        abstract: "Tandem's scheduling service: availability, fair slots across time zones, booking, calendars, reminders.",
        version: TandemVersion.text
    )

    static let defaultPort = 7103

    @OptionGroup var options: ServiceOptions

    @Option(help: "The identity service, HOST:PORT (repeatable), whose keys verify access tokens. [env: TANDEM_IDENTITY] (default: 127.0.0.1:7101)")
    var identity: [String] = []

    @Option(name: .customLong("video-url-template"), help: "Video links, with {room} for the room id. [env: TANDEM_VIDEO_URL_TEMPLATE] (default: https://meet.tandem.example/{room})")
    var videoURLTemplate: String?

    @Option(name: .customLong("buffer-minutes"), help: "Free minutes kept around meetings when finding slots. [env: TANDEM_BUFFER_MINUTES] (default: 10)")
    var bufferMinutes: Int?

    @Option(name: .customLong("checkpoint-pages"), help: "Log pages (4 KiB) at which the log starts being copied into the database; under heavy writes the log grows to 4× this. Larger: faster bookings, more disk. [env: TANDEM_CHECKPOINT_PAGES] (default: 65536)")
    var checkpointPages: Int?

    @Option(help: "The matching service, HOST:PORT (repeatable, or comma-separated), whose active matches become pairs that can book; 'off' to register pairs only with RegisterPair. [env: TANDEM_MATCHING] (default: 127.0.0.1:7102)")
    var matching: [String] = []

    func run() async throws {
        let environment = try options.environment(extraNames: ["identity", "video-url-template", "buffer-minutes", "checkpoint-pages", "matching"])
        let settings = try options.resolve(service: "scheduling", defaultPort: Self.defaultPort, environment: environment)
        var configuration = SchedulingConfiguration()
        configuration.now = settings.now
        if let template = videoURLTemplate ?? environment["TANDEM_VIDEO_URL_TEMPLATE"] { configuration.videoURLTemplate = template }
        // A whole-number setting from its flag or TANDEM_* variable (the ranges are the configuration's to check).
        func wholeNumber(_ flag: Int?, _ name: String) throws -> Int? {
            guard let text = flag.map(String.init) ?? environment["TANDEM_" + name.uppercased().replacing("-", with: "_")] else { return nil }
            guard let number = Int(text) else { throw ServiceConfigurationError("--\(name) '\(text)' is not a whole number") }
            return number
        }
        if let minutes = try wholeNumber(bufferMinutes, "buffer-minutes") { configuration.defaultBufferMinutes = minutes }
        if let pages = try wholeNumber(checkpointPages, "checkpoint-pages") { configuration.checkpointPages = pages }
        do {
            try configuration.validate()
        } catch {
            throw ServiceConfigurationError("\(error)")
        }
        let matchingEndpoints = try ServiceEndpoints.parse(matching, option: "matching", environment: environment, default: "127.0.0.1:7102", allowOff: true)
        let identityEndpoints = try ServiceEndpoints.parse(identity, option: "identity", environment: environment, default: "127.0.0.1:7101")

        let registry = TandemObservability.bootstrap(settings: settings)
        let logger = Logger(label: "tandem.scheduling")
        let identityClient = try RPCClient(
            endpoints: identityEndpoints, tls: settings.clientTLS(serverName: "identity"), interceptors: TandemObservability.clientInterceptors, logger: logger
        )
        let verifier = TokenVerifier(now: settings.now) { try await identityClient.call(Identity.verificationKeys, Empty(), options: CallOptions(timeout: .seconds(5))) }
        let scheduling: SchedulingServer
        do {
            scheduling = try SchedulingServer.open(dataDirectory: settings.dataDirectory, configuration: configuration, logger: logger)
        } catch {
            throw ServiceConfigurationError("cannot open the database in \(settings.dataDirectory): \(error)")
        }
        defer { scheduling.close() }
        let server = RPCServer(
            configuration: settings.serverConfiguration, services: [scheduling.service],
            interceptors: TandemObservability.serverInterceptors + [AuthServerInterceptor(verifier: verifier, internalMethods: SchedulingServer.internalMethods)], logger: logger
        )
        let store = ReadinessProbe("store") { try await scheduling.checkStore() }
        // Tokens are verified locally, but new signing keys come from identity: without it,
        // calls signed with a key not seen yet would fail.
        let identityProbe = ReadinessProbe("identity") {
            let health = try await identityClient.call(Health.check, HealthCheckRequest(service: ""), options: CallOptions(timeout: .seconds(2)))
            guard health.status == .serving else { throw RPCError(code: .unavailable, message: "identity reports \(health.status)") }
        }
        // Matching's changes, read with scheduling's own certificate (matching admits it by name).
        var followers: [any Service] = []
        if !matchingEndpoints.isEmpty {
            let matchingClient = try RPCClient(
                endpoints: matchingEndpoints, tls: settings.clientTLS(serverName: "matching"), interceptors: TandemObservability.clientInterceptors, logger: logger
            )
            let source = RPCMatchChangeFeed(client: matchingClient)
            followers = [matchingClient, FeedFollower { await scheduling.followMatches(source) }]
        }
        // Identity's erasures, read with the same certificate: an erased person's availability
        // goes, their pairs stop booking and their meetings to come are cancelled.
        let erasures = RPCErasureFeed(client: identityClient)
        followers.append(FeedFollower { await scheduling.followErasures(erasures) })
        try await ServiceRunner.run(
            server: server, alongside: [identityClient, MaintenanceService(scheduling: scheduling)] + followers, probes: [store, identityProbe],
            metrics: registry, settings: settings, logger: logger
        )
    }
}

/// Runs the scheduling service's housekeeping until shutdown.
struct MaintenanceService: Service {
    let scheduling: SchedulingServer

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await scheduling.maintain()
        }
    }
}

/// Follows one of the feeds scheduling reads (matching's matches, identity's erasures) until
/// shutdown.
struct FeedFollower: Service {
    let follow: @Sendable () async -> Void

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await follow()
        }
    }
}
