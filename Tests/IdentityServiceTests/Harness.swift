import Foundation
import Logging
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import IdentityService

/// A running identity service over TLS on loopback, and a client for it.
struct IdentityHarness: Sendable {
    let client: RPCClient
    let clock: TestClock
    let directory: String
    let identity: IdentityServer
    /// Where the service listens (for clients with other certificates).
    let endpoint: Endpoint

    static let adminPassword = "first admin password"

    func call<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ request: Input, token: String? = nil) async throws -> Output {
        var options = CallOptions(timeout: .seconds(30))
        if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
        return try await client.call(method, request, options: options)
    }

    func call<Output>(_ method: MethodDescriptor<Empty, Output>, token: String? = nil) async throws -> Output {
        try await call(method, Empty(), token: token)
    }

    func signIn(_ email: String, _ password: String, organisation: String = "acme") async throws -> Tokens {
        try await call(Identity.signIn, SignInRequest(organisation: organisation, email: email, password: password))
    }

    /// The bootstrap admin of `acme` (also platform admin).
    func admin() async throws -> Tokens {
        try await signIn("admin@acme.example", Self.adminPassword)
    }
}

func temporaryDirectory() -> String {
    Scratch.directory("identity")
}

/// Opens identity on `directory` (bootstrapping `acme` when new), serves it, runs `body`.
func withIdentity<T: Sendable>(
    directory: String = temporaryDirectory(), clock: TestClock = TestClock(),
    configure: (inout IdentityConfiguration) -> Void = { _ in },
    _ body: (IdentityHarness) async throws -> T
) async throws -> T {
    var configuration = IdentityConfiguration()
    configuration.scryptLogN = 10
    configuration.now = clock.now
    configure(&configuration)
    let identity = try await IdentityServer.open(dataDirectory: directory, configuration: configuration, logger: Logger(label: "test.identity"))
    do {
        if try await identity.store.organisationCount() == 0 {
            _ = try await identity.bootstrap(
                organisationName: "Acme", slug: "acme",
                admin: PersonInput(email: "admin@acme.example", name: "Ada Admin", division: "People", jobTitle: "HR lead", seniority: 6, timeZone: "Europe/London"),
                password: IdentityHarness.adminPassword
            )
        }
        let result = try await withServer(services: [identity.service], tls: TestPKI.shared.serverTLS(name: "identity"), interceptors: identity.interceptors) { _, endpoint in
            let client = try makeClient([endpoint], serverName: "identity")
            defer { client.close() }
            return try await body(IdentityHarness(client: client, clock: clock, directory: directory, identity: identity, endpoint: endpoint))
        }
        identity.close()
        return result
    } catch {
        identity.close()
        throw error
    }
}

/// A person to create, with sensible defaults.
func personInput(_ email: String, name: String? = nil, division: String = "Engineering", timeZone: String = "Europe/London", externalID: String? = nil) -> PersonInput {
    PersonInput(
        externalID: externalID, email: email, name: name ?? String(email.prefix { $0 != "@" }).capitalized, division: division,
        jobTitle: "Engineer", seniority: 3, timeZone: timeZone
    )
}
