import Foundation
import IdentityService
import Logging
import SchedulingService
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// Identity and scheduling, each a real server over mutual TLS on loopback; scheduling checks
/// tokens with the keys it fetches from identity, as deployed.
struct Cluster: Sendable {
    let identity: RPCClient
    let scheduling: RPCClient
    let clock: TestClock
    let admin: Tokens
    let schedulingDirectory: String
    let schedulingServer: SchedulingServer
    /// Where scheduling listens (for clients with another service's certificate).
    let schedulingEndpoint: Endpoint
    /// Where identity listens (for scheduling's own client, with its certificate).
    var identityEndpoint: Endpoint? = nil

    static let password = "a long enough password"

    func options(_ token: String?, idempotencyKey: String? = nil) -> CallOptions {
        var options = CallOptions(timeout: .seconds(30))
        if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
        if let idempotencyKey { options.metadata[Metadata.Keys.idempotencyKey] = idempotencyKey }
        return options
    }

    func call<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ request: Input, token: String?, idempotencyKey: String? = nil) async throws -> Output {
        let client = method.service == Identity.serviceName ? identity : scheduling
        return try await client.call(method, request, options: options(token, idempotencyKey: idempotencyKey))
    }

    /// A new access token for the admin (tokens expire when a test moves the clock far).
    func adminToken() async throws -> String {
        try await call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: Self.password), token: nil).accessToken
    }

    /// A person in Acme with a password and availability; returns their id and a token.
    func person(_ name: String, zone: String, start: Int = 9 * 60, end: Int = 17 * 60, outside: Bool = false) async throws -> (id: UUID, token: String) {
        let email = name.lowercased() + "@acme.example"
        let person = try await call(Identity.createPerson, CreatePersonRequest(
            person: PersonInput(email: email, name: name, division: "Engineering", jobTitle: "Engineer", seniority: 3, timeZone: zone),
            password: Self.password
        ), token: admin.accessToken)
        _ = try await call(Scheduling.setAvailability, Availability(
            personID: person.id, timeZone: zone, workingHours: WorkingHours(days: [1, 2, 3, 4, 5], startMinute: start, endMinute: end),
            acceptsOutsideWorkingHours: outside
        ), token: admin.accessToken)
        let tokens = try await call(Identity.signIn, SignInRequest(organisation: "acme", email: email, password: Self.password), token: nil)
        return (person.id, tokens.accessToken)
    }

    /// A registered pair in a program.
    func pair(_ mentor: UUID, _ mentee: UUID, program: UUID = Cluster.program) async throws -> Pair {
        try await call(Scheduling.registerPair, Pair(matchID: UUID(), programID: program, mentorID: mentor, menteeID: mentee), token: admin.accessToken)
    }

    static let program = UUID()
}

/// Runs identity and scheduling for the duration of `body`.
func withCluster<T: Sendable>(
    schedulingDirectory: String = temporaryDirectory(), identityDirectory: String = temporaryDirectory(), clock: TestClock = TestClock(),
    _ body: (Cluster) async throws -> T
) async throws -> T {
    var identityConfiguration = IdentityConfiguration()
    identityConfiguration.scryptLogN = 10
    identityConfiguration.now = clock.now
    let identity = try await IdentityServer.open(dataDirectory: identityDirectory, configuration: identityConfiguration, logger: Logger(label: "test.identity"))
    defer { identity.close() }
    var schedulingConfiguration = SchedulingConfiguration()
    schedulingConfiguration.now = clock.now
    schedulingConfiguration.videoURLTemplate = "https://video.example/room/{room}"
    let scheduling = try SchedulingServer.open(dataDirectory: schedulingDirectory, configuration: schedulingConfiguration, logger: Logger(label: "test.scheduling"))
    defer { scheduling.close() }
    return try await withServer(services: [identity.service], tls: TestPKI.shared.serverTLS(name: "identity"), interceptors: identity.interceptors) { _, identityEndpoint in
        // Scheduling fetches identity's keys with its own certificate.
        let keysClient = try RPCClient(
            endpoints: [identityEndpoint], tls: TestPKI.shared.clientTLS(serverName: "identity", clientName: "scheduling"), logger: Logger(label: "test.keys")
        )
        defer { keysClient.close() }
        let verifier = TokenVerifier(now: clock.now) { try await keysClient.call(Identity.verificationKeys, Empty()) }
        return try await withServer(
            services: [scheduling.service], tls: TestPKI.shared.serverTLS(name: "scheduling"), interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: SchedulingServer.internalMethods)]
        ) { _, schedulingEndpoint in
            let identityClient = try makeClient([identityEndpoint], serverName: "identity")
            defer { identityClient.close() }
            let schedulingClient = try makeClient([schedulingEndpoint], serverName: "scheduling", configure: { $0.connectionsPerEndpoint = 2 })
            defer { schedulingClient.close() }
            let password = Cluster.password
            let admin = try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: password))
            return try await body(Cluster(
                identity: identityClient, scheduling: schedulingClient, clock: clock, admin: admin, schedulingDirectory: schedulingDirectory,
                schedulingServer: scheduling, schedulingEndpoint: schedulingEndpoint, identityEndpoint: identityEndpoint
            ))
        }
    } bootstrap: {
        _ = try? await identity.bootstrap(
            organisationName: "Acme", slug: "acme",
            admin: PersonInput(email: "admin@acme.example", name: "Ada Admin", division: "People", jobTitle: "HR", seniority: 6, timeZone: "Europe/London"),
            password: Cluster.password
        )
    }
}

/// Bootstraps before serving.
func withServer<T>(
    services: [any RPCService], tls: ServerTLSConfiguration, interceptors: [any ServerInterceptor],
    _ body: (RPCServer, Endpoint) async throws -> T, bootstrap: () async throws -> Void
) async throws -> T {
    try await bootstrap()
    return try await withServer(services: services, tls: tls, interceptors: interceptors, body)
}

func temporaryDirectory() -> String {
    Scratch.directory("scheduling")
}

/// Monday 2027-01-18 00:00 UTC plus `days` and `hours`: the week after the test clock's start
/// (Friday 2027-01-15 08:00 UTC).
func monday(days: Int = 0, hours: Double) -> Date {
    Date(timeIntervalSince1970: 1_800_230_400 + Double(days) * 86_400 + hours * 3600)
}
