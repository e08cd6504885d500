import Foundation
@testable import GatewayService
import Logging
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// Stand-ins for services behind the gateway: the methods `registering` adds, and nothing else.
struct StubService: RPCService {
    let registering: @Sendable (inout RPCRouter) -> Void

    func register(into router: inout RPCRouter) {
        registering(&router)
    }
}

/// A stand-in server over mutual TLS with a certificate for `name`, and a client of it as the
/// gateway's upstream, for the duration of `body`.
func withStub<T: Sendable>(
    _ name: String, _ registering: @escaping @Sendable (inout RPCRouter) -> Void, _ body: (RPCClient) async throws -> T
) async throws -> T {
    try await withServer(services: [StubService(registering: registering)], tls: TestPKI.shared.serverTLS(name: name)) { _, endpoint in
        let client = try RPCClient(
            endpoints: [endpoint], tls: TestPKI.shared.clientTLS(serverName: name, clientName: "gateway"), logger: Logger(label: "test.stub")
        )
        defer { client.close() }
        return try await body(client)
    }
}

/// A page of `items` from the offset in `token`, `size` at most, as the services page.
func stubPage<Item>(_ items: [Item], token: String?, size: Int?) -> (items: [Item], next: String?) {
    let offset = token.flatMap { Int($0) } ?? 0
    let end = min(items.count, offset + (size ?? 100))
    return (Array(items[offset..<end]), end < items.count ? String(end) : nil)
}

/// A match of `programID` between `mentor` and `mentee`.
func stubMatch(programID: UUID, mentor: UUID, mentee: UUID, status: MatchStatus, proposedAt: Date = Date()) -> Match {
    Match(
        id: UUID(), organisationID: UUID(), programID: programID, mentorID: mentor, menteeID: mentee, groupID: nil, status: status, source: .admin,
        score: 50, parts: [], mentorAccepted: false, menteeAccepted: false, proposedAt: proposedAt, expiresAt: nil, startedAt: nil, endedAt: nil,
        endReason: nil, notAGoodFit: false, declinedBy: nil, rematchOf: nil, rematchID: nil, agreement: nil, version: 1, updatedAt: proposedAt
    )
}

@Suite("Gateway dashboards: one deadline for all parts, every page of a listing")
struct DashboardTests {
    /// A client deadline well under the aggregate timeout (60 s); the gateway keeps back a tenth
    /// of it (0.5 s, generous on a busy machine) to answer in.
    static let clientSeconds: Int64 = 5
    static func configure(_ configuration: inout GatewayConfiguration) {
        configuration.aggregateTimeout = .seconds(60)
        configuration.answerMargin = .seconds(1)
    }

    static func options(_ token: String, seconds: Int64 = 30) -> CallOptions {
        var options = CallOptions(timeout: .seconds(seconds))
        options.metadata[Metadata.Keys.authorization] = "Bearer " + token
        return options
    }

    @Test("a part that does not answer, and a client deadline shorter than the aggregate timeout: the dashboard answers, that part DEADLINE_EXCEEDED")
    func slowPartWithinClientDeadline() async throws {
        try await withGatewayCluster { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken
            let mentee = try await cluster.person("Sam Slow", admin: admin)
            // Feedback's due surveys never come (the handler sleeps until its call is cancelled).
            try await withStub("feedback", { router in
                router.register(Feedback.listDueSurveys, unary: { _, _ in
                    try await Task.sleep(for: .seconds(600))
                    return SurveyInvitationList(invitations: [])
                })
            }) { feedback in
                try await cluster.withGateway(replacing: { $0.feedback = feedback }, configure: Self.configure) { client in
                    // Before, the part's call ran to the client's deadline itself, and the server
                    // answered DEADLINE_EXCEEDED for the whole dashboard.
                    let dashboard = try await client.call(Gateway.dashboard, DashboardRequest(), options: Self.options(mentee.token, seconds: Self.clientSeconds))
                    #expect(dashboard.parts.map(\.part) == ["profile", "matches", "meetings", "surveys", "goals"])
                    #expect(dashboard.parts.map(\.code) == [0, 0, 0, Int(StatusCode.deadlineExceeded.rawValue), 0], "\(dashboard.parts)")
                    #expect(dashboard.person?.name == "Sam Slow" && dashboard.surveys.isEmpty)
                }
            }
        }
    }

    @Test("a program dashboard within a client deadline: the late program and a listing still paging are marked, the report and health still come")
    func programDashboardWithinClientDeadline() async throws {
        try await withGatewayCluster { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken
            let program = try await cluster.call(Identity.createProgram, ProgramInput(name: "Deadlines", format: .oneToOne, startsOn: "2027-01-04"), token: admin)
            let programID = program.id
            // Identity's program never comes; matching's matches come a page every 0.2 s, without end.
            try await withStub("stub", { router in
                router.register(Identity.getProgram, unary: { _, _ in
                    try await Task.sleep(for: .seconds(600))
                    return program
                })
                router.register(Matching.listMatches, unary: { request, _ in
                    try await Task.sleep(for: .milliseconds(200))
                    let page = (0..<(request.pageSize ?? 100)).map { _ in stubMatch(programID: programID, mentor: UUID(), mentee: UUID(), status: .active) }
                    return MatchPage(matches: page, nextPageToken: "more")
                })
            }) { stub in
                try await cluster.withGateway(replacing: { $0.identity = stub; $0.matching = stub }, configure: Self.configure) { client in
                    // Before, each page had the aggregate timeout afresh, the report and health were
                    // asked only once the program had come, and the client's deadline failed the call.
                    let view = try await client.call(Gateway.programDashboard, ProgramDashboardRequest(programID: programID), options: Self.options(admin, seconds: Self.clientSeconds))
                    let late = Int(StatusCode.deadlineExceeded.rawValue)
                    #expect(view.parts.map(\.part) == ["program", "matches", "report", "health"])
                    #expect(view.parts.map(\.code) == [late, late, 0, 0], "\(view.parts)")
                    #expect(view.parts[1].message?.contains("the deadline passed after") == true, "\(view.parts[1])")
                    #expect(view.program == nil && view.matchCounts.isEmpty)
                    #expect(view.report?.programID == programID)
                }
            }
        }
    }

    @Test("a person's matches and meetings past one page are all shown; past the cap, the part says so")
    func personalListingsPastOnePage() async throws {
        try await withGatewayCluster { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken
            let mentee = try await cluster.person("Many Pages", admin: admin)
            let mentor = UUID()
            let matches = (0..<250).map { _ in stubMatch(programID: UUID(), mentor: mentor, mentee: mentee.id, status: .proposed) }
            let start = Date().addingTimeInterval(86_400)
            let meetings = (0..<450).map { index in
                Meeting(
                    id: UUID(), matchID: UUID(), programID: UUID(), participantIDs: [mentor, mentee.id], start: start.addingTimeInterval(Double(index) * 600),
                    end: start.addingTimeInterval(Double(index) * 600 + 300), timeZone: "UTC", status: .scheduled, agenda: nil,
                    videoURL: "https://meet.example/\(index)", seriesID: nil, occurrence: nil, sequence: 0, cancelReason: nil, version: 1,
                    createdAt: start, updatedAt: start
                )
            }
            try await withStub("stub", { router in
                router.register(Matching.listMatches, unary: { request, _ in
                    let page = stubPage(matches, token: request.pageToken, size: request.pageSize)
                    return MatchPage(matches: page.items, nextPageToken: page.next)
                })
                router.register(Scheduling.listMeetings, unary: { request, _ in
                    let page = stubPage(meetings, token: request.pageToken, size: request.pageSize)
                    return MeetingPage(meetings: page.items, nextPageToken: page.next)
                })
            }) { stub in
                let replacing = { (upstreams: inout GatewayUpstreams) in
                    upstreams.matching = stub
                    upstreams.scheduling = stub
                }
                // Before: the first 100 matches and 200 meetings, and every part OK.
                try await cluster.withGateway(replacing: replacing, configure: Self.configure) { client in
                    let dashboard = try await client.call(Gateway.dashboard, DashboardRequest(days: 60), options: Self.options(mentee.token))
                    #expect(dashboard.parts.map(\.code) == [0, 0, 0, 0, 0], "\(dashboard.parts)")
                    #expect(dashboard.parts.allSatisfy { $0.message == nil }, "\(dashboard.parts)")
                    #expect(dashboard.matches.map(\.match.id) == matches.map(\.id))
                    #expect(dashboard.meetings.map(\.meeting.id) == meetings.map(\.id))
                }
                // Caps below the listings: what was read, and a message saying the rest was left out.
                let capped = { (configuration: inout GatewayConfiguration) in
                    Self.configure(&configuration)
                    configuration.caps.personalMatches = 120
                    configuration.caps.meetings = 300
                }
                try await cluster.withGateway(replacing: replacing, configure: capped) { client in
                    let dashboard = try await client.call(Gateway.dashboard, DashboardRequest(days: 60), options: Self.options(mentee.token))
                    #expect(dashboard.parts.map(\.code) == [0, 0, 0, 0, 0], "\(dashboard.parts)")
                    #expect(dashboard.matches.map(\.match.id) == Array(matches.prefix(120).map(\.id)))
                    #expect(dashboard.meetings.map(\.meeting.id) == Array(meetings.prefix(300).map(\.id)))
                    #expect(dashboard.parts[1].message == "the first 120 matches only: the dashboard reads no more")
                    #expect(dashboard.parts[2].message == "the first 300 meetings only: the dashboard reads no more")
                }
            }
        }
    }

    @Test("a program's matches are counted over every page; past the cap the counts are of what was read, and the part says so")
    func programMatchesPastTheCap() async throws {
        try await withGatewayCluster { cluster in
            let admin = try await cluster.signIn("admin@acme.example").accessToken
            let program = try await cluster.call(Identity.createProgram, ProgramInput(name: "Counted", format: .oneToOne, startsOn: "2027-01-04"), token: admin)
            let programID = program.id
            let matches = (0..<1_200).map { index in
                stubMatch(programID: programID, mentor: UUID(), mentee: UUID(), status: index % 4 == 0 ? .proposed : .active)
            }
            try await withStub("matching", { router in
                router.register(Matching.listMatches, unary: { request, _ in
                    let page = stubPage(matches, token: request.pageToken, size: request.pageSize)
                    return MatchPage(matches: page.items, nextPageToken: page.next)
                })
            }) { matching in
                try await cluster.withGateway(replacing: { $0.matching = matching }, configure: Self.configure) { client in
                    let view = try await client.call(Gateway.programDashboard, ProgramDashboardRequest(programID: programID), options: Self.options(admin))
                    #expect(view.parts.map(\.code) == [0, 0, 0, 0], "\(view.parts)")
                    #expect(view.parts[1].message == nil)
                    #expect(view.matchCounts == [StatusCount(status: .proposed, count: 300), StatusCount(status: .active, count: 900)])
                }
                // Before, the cap (100,000) cut the counts short with the part still saying nothing.
                let capped = { (configuration: inout GatewayConfiguration) in
                    Self.configure(&configuration)
                    configuration.caps.programMatches = 1_000
                }
                try await cluster.withGateway(replacing: { $0.matching = matching }, configure: capped) { client in
                    let view = try await client.call(Gateway.programDashboard, ProgramDashboardRequest(programID: programID), options: Self.options(admin))
                    #expect(view.parts.map(\.code) == [0, 0, 0, 0], "\(view.parts)")
                    #expect(view.parts[1].message == "the first 1000 matches only: the dashboard reads no more")
                    #expect(view.matchCounts == [StatusCount(status: .proposed, count: 250), StatusCount(status: .active, count: 750)])
                }
            }
        }
    }
}
