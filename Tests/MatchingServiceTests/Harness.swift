import Foundation
import IdentityService
import Logging
import MatchingService
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// Identity and matching, each a real server over mutual TLS on loopback, as deployed: matching
/// verifies tokens with identity's keys and reads participants from identity with the caller's
/// credentials.
struct MatchingCluster: Sendable {
    let identity: RPCClient
    let matching: RPCClient
    let matchingEndpoint: Endpoint
    let server: MatchingServer
    /// Matching's own client of identity (its certificate), as the service reads identity's feeds.
    let upstream: RPCClient
    let clock: TestClock
    let admin: String

    static let password = "a long enough password"

    func call<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ request: Input, token: String?) async throws -> Output {
        var options = CallOptions(timeout: .seconds(60))
        if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
        let client = method.service == Identity.serviceName ? identity : matching
        return try await client.call(method, request, options: options)
    }

    /// A person of Acme who can sign in; returns their id and token.
    func person(
        _ name: String, division: String = "Engineering", seniority: Int = 3, zone: String = "Europe/London", managerID: UUID? = nil,
        organisation: String = "acme", adminToken: String? = nil
    ) async throws -> (id: UUID, token: String) {
        let email = Self.email(name, organisation: organisation)
        let person = try await call(Identity.createPerson, CreatePersonRequest(
            person: PersonInput(email: email, name: name, division: division, jobTitle: "Staff", seniority: seniority, managerID: managerID, timeZone: zone),
            password: Self.password
        ), token: adminToken ?? admin)
        let tokens = try await call(Identity.signIn, SignInRequest(organisation: organisation, email: email, password: Self.password), token: nil)
        return (person.id, tokens.accessToken)
    }

    static func email(_ name: String, organisation: String = "acme") -> String {
        name.lowercased().filter { $0.isLetter || $0.isNumber || $0 == " " }.replacing(" ", with: ".") + "@\(organisation).example"
    }

    /// A fresh token for a person (after the clock moved past the old one's expiry).
    func signIn(_ name: String) async throws -> String {
        try await call(Identity.signIn, SignInRequest(organisation: "acme", email: Self.email(name), password: Self.password), token: nil).accessToken
    }

    /// Enrols a person in a program (`version`: to update an enrolment).
    func enrol(
        _ person: UUID, in program: UUID, as role: ParticipantRole, offered: [SkillLevel] = [], wanted: [SkillLevel] = [], topics: [String] = [],
        capacity: Int? = nil, version: Int? = nil, adminToken: String? = nil
    ) async throws {
        _ = try await call(Identity.upsertParticipation, ParticipationInput(
            programID: program, personID: person, role: role, skillsOffered: offered, skillsWanted: wanted, topics: topics, capacity: capacity, version: version
        ), token: adminToken ?? admin)
    }

    func program(_ name: String = "Mentoring", format: ProgramFormat = .oneToOne, adminToken: String? = nil) async throws -> UUID {
        try await call(Identity.createProgram, ProgramInput(name: name, format: format, startsOn: "2027-01-04"), token: adminToken ?? admin).id
    }

    /// Skills (weight 60) and division (weight 40) as shoulds.
    static let criteria = [Criterion(kind: .skills, mode: .should, weight: 60), Criterion(kind: .division, mode: .should, weight: 40)]

    /// Sets criteria and syncs participants.
    func prepare(_ program: UUID, criteria: [Criterion] = MatchingCluster.criteria, groups: ClosedRange<Int>? = nil, expiryDays: Int? = nil, token: String? = nil) async throws {
        _ = try await call(Matching.setSettings, MatchingSettingsInput(
            programID: program, criteria: criteria, requestExpiryDays: expiryDays, groupMinimum: groups?.lowerBound, groupMaximum: groups?.upperBound
        ), token: token ?? admin)
        _ = try await call(Matching.syncParticipants, ProgramRef(programID: program), token: token ?? admin)
    }

    /// A client presenting `certificateName`'s certificate (for internal methods).
    func client(as certificateName: String) throws -> RPCClient {
        try RPCClient(
            endpoints: [matchingEndpoint], tls: TestPKI.shared.clientTLS(serverName: "matching", clientName: certificateName), logger: Logger(label: "test.\(certificateName)")
        )
    }
}

/// Runs identity and matching for the duration of `body`.
func withMatchingCluster<T: Sendable>(
    directory: String = matchingTemporaryDirectory(), _ body: (MatchingCluster) async throws -> T
) async throws -> T {
    let clock = TestClock()
    var identityConfiguration = IdentityConfiguration()
    identityConfiguration.scryptLogN = 10
    identityConfiguration.now = clock.now
    let identity = try await IdentityServer.open(dataDirectory: directory + "/identity", configuration: identityConfiguration, logger: Logger(label: "test.identity"))
    defer { identity.close() }
    _ = try? await identity.bootstrap(
        organisationName: "Acme", slug: "acme",
        admin: PersonInput(email: "admin@acme.example", name: "Ada Admin", division: "People", jobTitle: "HR", seniority: 6, timeZone: "Europe/London"),
        password: MatchingCluster.password
    )
    return try await withServer(services: [identity.service], tls: TestPKI.shared.serverTLS(name: "identity"), interceptors: identity.interceptors) { _, identityEndpoint in
        let upstream = try RPCClient(
            endpoints: [identityEndpoint], tls: TestPKI.shared.clientTLS(serverName: "identity", clientName: "matching"), logger: Logger(label: "test.upstream")
        )
        defer { upstream.close() }
        let verifier = TokenVerifier(now: clock.now) { try await upstream.call(Identity.verificationKeys, Empty()) }
        var configuration = MatchingConfiguration()
        configuration.now = clock.now
        let matching = try MatchingServer.open(
            dataDirectory: directory + "/matching", directory: IdentityParticipantDirectory(client: upstream), configuration: configuration,
            logger: Logger(label: "test.matching")
        )
        defer { matching.close() }
        return try await withServer(
            services: [matching.service], tls: TestPKI.shared.serverTLS(name: "matching"),
            interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: Matching.internalMethods)]
        ) { _, matchingEndpoint in
            let identityClient = try makeClient([identityEndpoint], serverName: "identity")
            defer { identityClient.close() }
            let matchingClient = try makeClient([matchingEndpoint], serverName: "matching", configure: { $0.connectionsPerEndpoint = 2 })
            defer { matchingClient.close() }
            let admin = try await identityClient.call(
                Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: MatchingCluster.password)
            ).accessToken
            return try await body(MatchingCluster(
                identity: identityClient, matching: matchingClient, matchingEndpoint: matchingEndpoint, server: matching, upstream: upstream, clock: clock, admin: admin
            ))
        }
    }
}

func matchingTemporaryDirectory() -> String {
    Scratch.directory("matching")
}
