import Foundation
import IdentityService
import MatchingService
import Logging
import SchedulingService
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import FeedbackService

/// A stand-in for the matching service: its two internal methods over real mutual TLS, behind
/// the same interceptor (only the `feedback` certificate may call them).
final class FakeMatching: Sendable {
    struct State {
        var changes: [MatchChange] = []
        var signals: [FitSignal] = []
        /// While true, RecordFitSignal answers UNAVAILABLE (matching is down).
        var down = false
        var lastSequence = 0
    }

    let state = Mutex(State())

    func upsert(_ match: Match) {
        state.withLock { state in
            state.changes.removeAll { $0.match.id == match.id }
            state.lastSequence += 1
            state.changes.append(MatchChange(sequence: state.lastSequence, match: match))
        }
    }

    var signals: [FitSignal] { state.withLock { $0.signals } }

    func setDown(_ down: Bool) {
        state.withLock { $0.down = down }
    }

    var service: any RPCService { FakeMatchingService(matching: self) }
}

struct FakeMatchingService: RPCService {
    let matching: FakeMatching

    func register(into router: inout RPCRouter) {
        let matching = self.matching
        router.register(Matching.listMatchChanges, unary: { request, context in
            _ = try context.internalPeer()
            return matching.state.withLock { state in
                let changes = Array(state.changes.filter { $0.sequence > request.after }.sorted { $0.sequence < $1.sequence }.prefix(request.limit ?? 500))
                return MatchChangePage(changes: changes, last: changes.last?.sequence ?? request.after)
            }
        })
        router.register(Matching.recordFitSignal, unary: { signal, context in
            _ = try context.internalPeer()
            let result: Match? = try matching.state.withLock { state in
                if state.down { throw RPCError(code: .unavailable, message: "matching is restarting") }
                state.signals.append(signal)
                guard var match = state.changes.first(where: { $0.match.id == signal.matchID && $0.match.organisationID == signal.organisationID })?.match else {
                    return nil
                }
                match.status = .ended
                match.notAGoodFit = true
                match.endReason = "not a good fit"
                return match
            }
            guard let result else { throw RPCError.notFound("match", signal.matchID.uuidString.lowercased()) }
            matching.upsert(result)
            return result
        })
    }
}

func makeMatch(id: UUID = UUID(), organisation: UUID, program: UUID, mentor: UUID, mentee: UUID, startedAt: Date, status: MatchStatus = .active, endedAt: Date? = nil) -> Match {
    Match(
        id: id, organisationID: organisation, programID: program, mentorID: mentor, menteeID: mentee, groupID: nil, status: status, source: .cohort,
        score: 80, parts: [], mentorAccepted: true, menteeAccepted: true, proposedAt: startedAt.addingTimeInterval(-86_400), expiresAt: nil,
        startedAt: startedAt, endedAt: endedAt, endReason: nil, notAGoodFit: false, declinedBy: nil, rematchOf: nil, rematchID: nil, agreement: nil,
        version: 1, updatedAt: startedAt
    )
}

/// Identity, scheduling, a stand-in matching and feedback, each a real server over mutual TLS
/// on loopback. Feedback pulls scheduling's and matching's feeds with its own certificate.
struct FeedbackCluster: Sendable {
    let identity: RPCClient
    let scheduling: RPCClient
    let feedback: RPCClient
    let clock: TestClock
    let admin: Tokens
    let matching: FakeMatching
    /// The real matching service's user-facing API (when the cluster runs it instead of the stand-in).
    let matchingAPI: RPCClient
    let server: FeedbackServer
    let program: UUID

    static let password = "a long enough password"

    func options(_ token: String?) -> CallOptions {
        var options = CallOptions(timeout: .seconds(30))
        if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
        return options
    }

    func call<Input, Output>(_ method: MethodDescriptor<Input, Output>, _ request: Input, token: String?) async throws -> Output {
        let client = switch method.service {
        case Identity.serviceName: identity
        case Scheduling.serviceName: scheduling
        case Matching.serviceName: matchingAPI
        default: feedback
        }
        return try await client.call(method, request, options: options(token))
    }

    func adminToken(organisation: String = "acme") async throws -> String {
        try await call(Identity.signIn, SignInRequest(organisation: organisation, email: "admin@\(organisation).example", password: Self.password), token: nil).accessToken
    }

    /// A person of Acme in the program, with a division; returns their id and a token.
    func person(
        _ name: String, division: String, role: ParticipantRole, organisation: String = "acme", program: UUID? = nil,
        offered: [SkillLevel] = [], wanted: [SkillLevel] = [], capacity: Int? = nil
    ) async throws -> (id: UUID, token: String) {
        let email = name.lowercased() + "@\(organisation).example"
        let admin = try await adminToken(organisation: organisation)
        let person = try await call(Identity.createPerson, CreatePersonRequest(
            person: PersonInput(email: email, name: name, division: division, jobTitle: "Engineer", seniority: 3, timeZone: "Europe/London"),
            password: Self.password
        ), token: admin)
        _ = try await call(Identity.upsertParticipation, ParticipationInput(
            programID: program ?? self.program, personID: person.id, role: role, skillsOffered: offered, skillsWanted: wanted, capacity: capacity
        ), token: admin)
        _ = try await call(Scheduling.setAvailability, Availability(
            personID: person.id, timeZone: "UTC", workingHours: WorkingHours(days: [1, 2, 3, 4, 5, 6, 7], startMinute: 0, endMinute: 1440)
        ), token: admin)
        let tokens = try await call(Identity.signIn, SignInRequest(organisation: organisation, email: email, password: Self.password), token: nil)
        return (person.id, tokens.accessToken)
    }

    /// A pair with a started match (in matching and scheduling) and `held` meetings, `spacing` apart.
    func pair(
        mentor: UUID, mentee: UUID, meetings: Int = 1, organisation: UUID? = nil, program: UUID? = nil, adminToken: String? = nil
    ) async throws -> (match: Match, meetings: [Meeting]) {
        let fresh = try await self.adminToken()
        let admin = adminToken ?? fresh
        let program = program ?? self.program
        let start = clock.now().addingTimeInterval(3600)
        let match = makeMatch(organisation: organisation ?? self.admin.organisationID, program: program, mentor: mentor, mentee: mentee, startedAt: clock.now())
        matching.upsert(match)
        _ = try await call(Scheduling.registerPair, Pair(matchID: match.id, programID: program, mentorID: mentor, menteeID: mentee), token: admin)
        var booked: [Meeting] = []
        for index in 0..<meetings {
            booked.append(try await call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: match.id, start: start.addingTimeInterval(Double(index) * 7 * 86_400), durationMinutes: 60, timeZone: "UTC"
            ), token: admin))
        }
        return (match, booked)
    }

    /// Moves the clock past `meeting` and marks it held.
    func hold(_ meeting: Meeting, adminToken: String? = nil) async throws {
        if clock.now() < meeting.end { clock.advance(meeting.end.timeIntervalSince(clock.now()) + 60) }
        let token = try await self.adminToken()
        _ = try await call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: meeting.id, status: .held), token: adminToken ?? token)
    }
}

/// Runs the four servers for the duration of `body`; with `realMatching`, the matching service
/// itself instead of the stand-in.
func withFeedbackCluster<T: Sendable>(clock: TestClock = TestClock(), realMatching: Bool = false, _ body: (FeedbackCluster) async throws -> T) async throws -> T {
    var identityConfiguration = IdentityConfiguration()
    identityConfiguration.scryptLogN = 10
    identityConfiguration.now = clock.now
    let identity = try await IdentityServer.open(dataDirectory: temporaryDirectory(), configuration: identityConfiguration, logger: Logger(label: "test.identity"))
    defer { identity.close() }
    _ = try await identity.bootstrap(
        organisationName: "Acme", slug: "acme",
        admin: PersonInput(email: "admin@acme.example", name: "Ada Admin", division: "People", jobTitle: "HR", seniority: 6, timeZone: "Europe/London"),
        password: FeedbackCluster.password
    )
    var schedulingConfiguration = SchedulingConfiguration()
    schedulingConfiguration.now = clock.now
    let scheduling = try SchedulingServer.open(dataDirectory: temporaryDirectory(), configuration: schedulingConfiguration, logger: Logger(label: "test.scheduling"))
    defer { scheduling.close() }
    let matching = FakeMatching()

    return try await withServer(services: [identity.service], tls: TestPKI.shared.serverTLS(name: "identity"), interceptors: identity.interceptors) { _, identityEndpoint in
        let keysClient = try RPCClient(
            endpoints: [identityEndpoint], tls: TestPKI.shared.clientTLS(serverName: "identity", clientName: "feedback"), logger: Logger(label: "test.keys")
        )
        defer { keysClient.close() }
        let verifier = TokenVerifier(now: clock.now) { try await keysClient.call(Identity.verificationKeys, Empty()) }
        // The real matching service reads participants from identity with its own certificate.
        let matchingUpstream = try RPCClient(
            endpoints: [identityEndpoint], tls: TestPKI.shared.clientTLS(serverName: "identity", clientName: "matching"), logger: Logger(label: "test.matching-upstream")
        )
        defer { matchingUpstream.close() }
        var matchingConfiguration = MatchingConfiguration()
        matchingConfiguration.now = clock.now
        let realMatchingServer = try MatchingServer.open(
            dataDirectory: temporaryDirectory(), directory: IdentityParticipantDirectory(client: matchingUpstream), configuration: matchingConfiguration,
            logger: Logger(label: "test.matching")
        )
        defer { realMatchingServer.close() }
        return try await withServer(
            services: [scheduling.service], tls: TestPKI.shared.serverTLS(name: "scheduling"),
            interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: SchedulingServer.internalMethods)]
        ) { _, schedulingEndpoint in
            try await withServer(
                services: [realMatching ? realMatchingServer.service : matching.service], tls: TestPKI.shared.serverTLS(name: "matching"),
                interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: Matching.internalMethods)]
            ) { _, matchingEndpoint in
                let asFeedback = { (endpoint: Endpoint, name: String) in
                    try RPCClient(endpoints: [endpoint], tls: TestPKI.shared.clientTLS(serverName: name, clientName: "feedback"), logger: Logger(label: "test.peer"))
                }
                let schedulingPeer = try asFeedback(schedulingEndpoint, "scheduling")
                defer { schedulingPeer.close() }
                let matchingPeer = try asFeedback(matchingEndpoint, "matching")
                defer { matchingPeer.close() }
                let identityPeer = try asFeedback(identityEndpoint, "identity")
                defer { identityPeer.close() }
                var configuration = FeedbackConfiguration()
                configuration.now = clock.now
                let server = try FeedbackServer.open(
                    dataDirectory: temporaryDirectory(), configuration: configuration,
                    peers: .rpc(scheduling: schedulingPeer, matching: matchingPeer, identity: identityPeer), logger: Logger(label: "test.feedback")
                )
                defer { server.close() }
                return try await withServer(
                    services: [server.service], tls: TestPKI.shared.serverTLS(name: "feedback"), interceptors: [AuthServerInterceptor(verifier: verifier)]
                ) { _, feedbackEndpoint in
                    let identityClient = try makeClient([identityEndpoint], serverName: "identity")
                    defer { identityClient.close() }
                    let schedulingClient = try makeClient([schedulingEndpoint], serverName: "scheduling")
                    defer { schedulingClient.close() }
                    let feedbackClient = try makeClient([feedbackEndpoint], serverName: "feedback")
                    defer { feedbackClient.close() }
                    let matchingClient = try makeClient([matchingEndpoint], serverName: "matching")
                    defer { matchingClient.close() }
                    let admin = try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: FeedbackCluster.password))
                    var options = CallOptions(timeout: .seconds(30))
                    options.metadata[Metadata.Keys.authorization] = "Bearer " + admin.accessToken
                    let program = try await identityClient.call(
                        Identity.createProgram, ProgramInput(name: "Engineering mentoring", format: .oneToOne, startsOn: "2027-01-01"), options: options
                    )
                    return try await body(FeedbackCluster(
                        identity: identityClient, scheduling: schedulingClient, feedback: feedbackClient, clock: clock, admin: admin, matching: matching,
                        matchingAPI: matchingClient, server: server, program: program.id
                    ))
                }
            }
        }
    }
}

func temporaryDirectory() -> String {
    Scratch.directory("feedback")
}
