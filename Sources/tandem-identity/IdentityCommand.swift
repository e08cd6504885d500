import ArgumentParser
import Foundation
import IdentityService
import Logging
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemWire

@main
struct IdentityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tandem-identity",
        abstract: "Tandem's identity service: organisations, programs, people, profiles and sign-in.",
        version: TandemVersion.text,
        subcommands: [Serve.self, Bootstrap.self, CreateServiceAccount.self],
        defaultSubcommand: Serve.self
    )

    static let defaultPort = 7101
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the service (the default).")

    @OptionGroup var options: ServiceOptions

    @Option(name: .customLong("scrypt-log-n"), help: "log2 of scrypt's cost N for new password hashes (10–20). [env: TANDEM_SCRYPT_LOG_N] (default: 15)")
    var scryptLogN: Int?

    func run() async throws {
        let environment = try options.environment(extraNames: ["scrypt-log-n"])
        let settings = try options.resolve(service: "identity", defaultPort: IdentityCommand.defaultPort, environment: environment)
        var configuration = IdentityConfiguration()
        configuration.scryptLogN = try scryptCost(scryptLogN, environment: environment)
        // Token issue and expiry, refresh-token lifetimes and sign-in back-off follow the dev clock.
        configuration.now = settings.now
        let registry = TandemObservability.bootstrap(settings: settings)
        let logger = Logger(label: "tandem.identity")
        let identity: IdentityServer
        do {
            identity = try await IdentityServer.open(dataDirectory: settings.dataDirectory, configuration: configuration, logger: logger)
        } catch {
            throw ServiceConfigurationError("cannot open the database in \(settings.dataDirectory): \(error)")
        }
        defer { identity.close() }
        let server = RPCServer(
            configuration: settings.serverConfiguration, services: [identity.service],
            interceptors: TandemObservability.serverInterceptors + identity.interceptors, logger: logger
        )
        let store = ReadinessProbe("store") { try await identity.checkStore() }
        try await ServiceRunner.run(server: server, probes: [store], metrics: registry, settings: settings, logger: logger)
    }
}

/// scrypt's cost from the flag or TANDEM_SCRYPT_LOG_N.
func scryptCost(_ flag: Int?, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> Int {
    let text = flag.map(String.init) ?? environment["TANDEM_SCRYPT_LOG_N"]
    guard let text else { return 15 }
    guard let value = Int(text), (10...20).contains(value) else {
        throw ServiceConfigurationError("--scrypt-log-n must be a whole number from 10 to 20, got '\(text)'")
    }
    return value
}

struct Bootstrap: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Create the first organisation and its administrator (also the platform admin), then exit.",
        discussion: "The password comes from TANDEM_ADMIN_PASSWORD or --password-file, never from a flag (flags show up in process lists)."
    )

    @Option(name: .customLong("data-dir"), help: "The identity service's data directory. [env: TANDEM_DATA_DIR] (default: data/identity)")
    var dataDirectory: String?

    @Option(help: "The organisation's name.")
    var organisation: String

    @Option(help: "The organisation's slug (used to sign in), e.g. acme.")
    var slug: String

    @Option(name: .customLong("admin-email"))
    var adminEmail: String

    @Option(name: .customLong("admin-name"))
    var adminName: String

    @Option(name: .customLong("time-zone"), help: "The admin's IANA time zone.")
    var timeZone = "UTC"

    @Option(name: .customLong("password-file"), help: "A file holding the admin's password (at least 12 characters).")
    var passwordFile: String?

    @Option(name: .customLong("scrypt-log-n"), help: "log2 of scrypt's cost N (10–20). [env: TANDEM_SCRYPT_LOG_N] (default: 15)")
    var scryptLogN: Int?

    func run() async throws {
        let environment = ProcessInfo.processInfo.environment
        let password: String
        if let passwordFile {
            guard let text = try? String(contentsOfFile: passwordFile, encoding: .utf8) else {
                throw ServiceConfigurationError("--password-file \(passwordFile): cannot read it")
            }
            password = text.trimmingCharacters(in: .newlines)
        } else if let text = environment["TANDEM_ADMIN_PASSWORD"] {
            password = text
        } else {
            throw ServiceConfigurationError("give the admin's password in TANDEM_ADMIN_PASSWORD or --password-file")
        }
        var configuration = IdentityConfiguration()
        configuration.scryptLogN = try scryptCost(scryptLogN)
        TandemLogging.bootstrap(level: .notice, format: .text)
        let logger = Logger(label: "tandem.identity")
        let directory = dataDirectory ?? environment["TANDEM_DATA_DIR"] ?? "data/identity"
        let identity = try await IdentityServer.open(dataDirectory: directory, configuration: configuration, logger: logger)
        defer { identity.close() }
        do {
            let admin = PersonInput(email: adminEmail, name: adminName, division: "Administration", jobTitle: "Administrator", seniority: 5, timeZone: timeZone)
            let (created, person) = try await identity.bootstrap(organisationName: organisation, slug: slug, admin: admin, password: password)
            print("organisation \(created.slug) \(created.id.uuidString.lowercased())")
            print("admin \(person.email) \(person.id.uuidString.lowercased())")
        } catch let error as RPCError {
            throw ServiceConfigurationError(error.message)
        }
    }
}

struct CreateServiceAccount: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "service-account",
        abstract: "Create a service account with an API key in an organisation, print the key, and exit.",
        discussion: "For the first integration (e.g. a load test or an HR sync) before anyone has signed in. Safe while the service runs."
    )

    @Option(name: .customLong("data-dir"), help: "The identity service's data directory. [env: TANDEM_DATA_DIR] (default: data/identity)")
    var dataDirectory: String?

    @Option(help: "The organisation's slug.")
    var organisation: String

    @Option(help: "The account's name.")
    var name: String

    @Option(help: "A method it may call, service.Method or service.* (repeatable).")
    var scope: [String]

    func run() async throws {
        TandemLogging.bootstrap(level: .warning, format: .text)
        let directory = dataDirectory ?? ProcessInfo.processInfo.environment["TANDEM_DATA_DIR"] ?? "data/identity"
        let identity = try await IdentityServer.open(dataDirectory: directory, logger: Logger(label: "tandem.identity"))
        defer { identity.close() }
        do {
            let (account, key) = try await identity.createServiceAccountKey(organisation: organisation, name: name, scopes: scope)
            print("service-account \(account.id.uuidString.lowercased())")
            print("api-key \(key.apiKey)")
        } catch let error as RPCError {
            throw ServiceConfigurationError(error.message)
        }
    }
}
