import Foundation
import FeedbackService
import GatewayService
import IdentityService
import Logging
import MatchingService
import SchedulingService
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// Identity, matching and scheduling, each a real server over mutual TLS on loopback, and the
/// gateway in front of them, serving clients that present no certificate, as integrators do.
struct GatewayCluster: Sendable {
    let gateway: RPCClient
    let gatewayEndpoint: Endpoint
    let upstreams: GatewayUpstreams
    let clock: TestClock
    let schedulingClock: TestClock
    static let password = "a long enough password"

    func call<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ request: Input, token: String?, client: RPCClient? = nil) async throws -> Output {
        var options = CallOptions(timeout: .seconds(30))
        if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
        return try await (client ?? gateway).call(method, request, options: options)
    }

    func signIn(_ email: String, organisation: String = "acme") async throws -> Tokens {
        try await call(Identity.signIn, SignInRequest(organisation: organisation, email: email, password: Self.password), token: nil)
    }

    /// A person who can sign in, created through the gateway by `admin`.
    func person(_ name: String, admin: String, division: String = "Engineering", seniority: Int = 3, zone: String = "Europe/London") async throws -> (id: UUID, token: String) {
        let email = name.lowercased().filter { $0.isLetter || $0 == " " }.replacing(" ", with: ".") + "@acme.example"
        let person = try await call(Identity.createPerson, CreatePersonRequest(
            person: PersonInput(email: email, name: name, division: division, jobTitle: "Staff", seniority: seniority, timeZone: zone), password: Self.password
        ), token: admin)
        return (person.id, try await signIn(email).accessToken)
    }

    /// A client of the gateway presenting no certificate; connecting from `localAddress` (e.g.
    /// 127.0.0.2) when given.
    static func client(_ endpoint: Endpoint, from localAddress: String? = nil) throws -> RPCClient {
        var configuration = ClientConfiguration()
        configuration.localAddress = localAddress
        configuration.backoff = ConnectionBackoff(initial: .milliseconds(20), maximum: .milliseconds(200))
        return try RPCClient(
            endpoints: [endpoint], tls: ClientTLSConfiguration(trustRoots: TestPKI.shared.caCertificates, serverName: "gateway"),
            configuration: configuration, logger: Logger(label: "test.integrator")
        )
    }

    /// Another gateway over the same services (or others), for the duration of `body`.
    func withGateway<T: Sendable>(scheduling: [Endpoint]? = nil, _ body: (RPCClient) async throws -> T) async throws -> T {
        let schedulingClient = try scheduling.map {
            try RPCClient(endpoints: $0, tls: TestPKI.shared.clientTLS(serverName: "scheduling", clientName: "gateway"), logger: Logger(label: "test.upstream"))
        }
        defer { schedulingClient?.close() }
        return try await withGateway(replacing: { upstreams in if let schedulingClient { upstreams.scheduling = schedulingClient } }, body)
    }

    /// Another gateway, for the duration of `body`: over the same services but those `replacing`
    /// swaps for other clients (stand-ins the test runs), configured by `configure` (by default
    /// a 3 s aggregate timeout). Tokens are verified with the real identity's keys.
    func withGateway<T: Sendable>(
        replacing: (inout GatewayUpstreams) -> Void, configure: (inout GatewayConfiguration) -> Void = { $0.aggregateTimeout = .seconds(3) },
        _ body: (RPCClient) async throws -> T
    ) async throws -> T {
        var upstreams = self.upstreams
        replacing(&upstreams)
        var configuration = GatewayConfiguration()
        configure(&configuration)
        let server = GatewayServer(upstreams: upstreams, configuration: configuration, logger: Logger(label: "test.gateway"))
        let identity = self.upstreams.identity
        let verifier = TokenVerifier { try await identity.call(Identity.verificationKeys, Empty()) }
        return try await withServer(
            services: [server.service], tls: ServerTLSConfiguration(identity: TestPKI.shared.identity("gateway")),
            interceptors: EdgeInterceptor.chain(verifier: verifier, limiter: nil)
        ) { _, endpoint in
            let client = try Self.client(endpoint)
            defer { client.close() }
            return try await body(client)
        }
    }
}

/// Runs the three services and a gateway (rate limit: `rate` calls a second, bursts of `burst`,
/// on a clock the test moves with `cluster.seconds`).
func withGatewayCluster<T: Sendable>(rate: Double = 1000, burst: Int = 1000, _ body: (GatewayCluster) async throws -> T) async throws -> T {
    let directory = Scratch.directory("gateway")
    var identityConfiguration = IdentityConfiguration()
    identityConfiguration.scryptLogN = 10
    let identity = try await IdentityServer.open(dataDirectory: directory + "/identity", configuration: identityConfiguration, logger: Logger(label: "test.identity"))
    defer { identity.close() }
    _ = try? await identity.bootstrap(
        organisationName: "Acme", slug: "acme",
        admin: PersonInput(email: "admin@acme.example", name: "Ada Admin", division: "People", jobTitle: "HR", seniority: 6, timeZone: "Europe/London"),
        password: GatewayCluster.password
    )
    // Scheduling's clock: tests move it past a meeting to mark it held.
    let schedulingClock = TestClock(Date())
    var schedulingConfiguration = SchedulingConfiguration()
    schedulingConfiguration.now = schedulingClock.now
    let scheduling = try SchedulingServer.open(dataDirectory: directory + "/scheduling", configuration: schedulingConfiguration, logger: Logger(label: "test.scheduling"))
    defer { scheduling.close() }
    return try await withServer(services: [identity.service], tls: TestPKI.shared.serverTLS(name: "identity"), interceptors: identity.interceptors) { _, identityEndpoint in
        func upstream(_ endpoint: Endpoint, _ name: String, as client: String) throws -> RPCClient {
            try RPCClient(endpoints: [endpoint], tls: TestPKI.shared.clientTLS(serverName: name, clientName: client), logger: Logger(label: "test.\(client)"))
        }
        let keys = try upstream(identityEndpoint, "identity", as: "matching")
        defer { keys.close() }
        let verifier = TokenVerifier { try await keys.call(Identity.verificationKeys, Empty()) }
        let matching = try MatchingServer.open(
            dataDirectory: directory + "/matching", directory: IdentityParticipantDirectory(client: keys), logger: Logger(label: "test.matching")
        )
        defer { matching.close() }
        return try await withServer(
            services: [matching.service], tls: TestPKI.shared.serverTLS(name: "matching"),
            interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: Matching.internalMethods)]
        ) { _, matchingEndpoint in
            try await withServer(
                services: [scheduling.service], tls: TestPKI.shared.serverTLS(name: "scheduling"),
                interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: SchedulingServer.internalMethods)]
            ) { _, schedulingEndpoint in
              // Feedback follows scheduling's and matching's feeds with its own certificate.
              let peers = (
                  scheduling: try upstream(schedulingEndpoint, "scheduling", as: "feedback"), matching: try upstream(matchingEndpoint, "matching", as: "feedback"),
                  identity: try upstream(identityEndpoint, "identity", as: "feedback")
              )
              defer { for client in [peers.scheduling, peers.matching, peers.identity] { client.close() } }
              let feedback = try FeedbackServer.open(
                  dataDirectory: directory + "/feedback", peers: .rpc(scheduling: peers.scheduling, matching: peers.matching, identity: peers.identity),
                  logger: Logger(label: "test.feedback")
              )
              defer { feedback.close() }
              return try await withServer(
                  services: [feedback.service], tls: TestPKI.shared.serverTLS(name: "feedback"), interceptors: [AuthServerInterceptor(verifier: verifier)]
              ) { _, feedbackEndpoint in
                let upstreams = GatewayUpstreams(
                    identity: try upstream(identityEndpoint, "identity", as: "gateway"), matching: try upstream(matchingEndpoint, "matching", as: "gateway"),
                    scheduling: try upstream(schedulingEndpoint, "scheduling", as: "gateway"), feedback: try upstream(feedbackEndpoint, "feedback", as: "gateway")
                )
                defer { for client in upstreams.all { client.close() } }
                let gatewayVerifier = TokenVerifier { try await upstreams.identity.call(Identity.verificationKeys, Empty()) }
                let clock = TestClock()
                let server = GatewayServer(upstreams: upstreams, logger: Logger(label: "test.gateway"))
                return try await withServer(
                    services: [server.service], tls: ServerTLSConfiguration(identity: TestPKI.shared.identity("gateway")),
                    interceptors: EdgeInterceptor.chain(verifier: gatewayVerifier, limiter: RateLimiter(perSecond: rate, burst: burst), now: clock.seconds)
                ) { _, gatewayEndpoint in
                    let client = try GatewayCluster.client(gatewayEndpoint)
                    defer { client.close() }
                    return try await body(GatewayCluster(gateway: client, gatewayEndpoint: gatewayEndpoint, upstreams: upstreams, clock: clock, schedulingClock: schedulingClock))
                }
              }
            }
        }
    }
}
