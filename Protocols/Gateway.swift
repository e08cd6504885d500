#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The gateway: the one endpoint clients call. It serves the services' user-facing methods under
/// their own names (`Gateway.routedMethods`) and its own aggregate calls (Protocols/Gateway.md).
public enum Gateway {
    public static let serviceName = "gateway"

    public static let dashboard = MethodDescriptor<DashboardRequest, Dashboard>(service: serviceName, method: "Dashboard", idempotent: true)
    public static let programDashboard = MethodDescriptor<ProgramDashboardRequest, ProgramDashboard>(
        service: serviceName, method: "ProgramDashboard", idempotent: true
    )

    public static let methods: [AnyMethodDescriptor] = [dashboard.erased, programDashboard.erased]

    /// The services' methods the gateway routes, by their own names: every user-facing method;
    /// not the internal ones, nor identity's key publication and rotation (for services and the
    /// platform's operators).
    public static let routedMethods: [AnyMethodDescriptor] = {
        let identity = Identity.methods.filter { ![Identity.verificationKeys.fullName, Identity.rotateSigningKey.fullName].contains($0.fullName) }
        let internalOnly = [Identity.internalMethods, Matching.internalMethods, Scheduling.internalMethods].reduce(into: [String: Set<String>]()) { $0.merge($1) { $0.union($1) } }
        return (identity + Matching.methods + Scheduling.methods + Feedback.methods).filter { internalOnly[$0.fullName] == nil }
    }()

    /// Methods callable without credentials.
    public static let publicMethods: Set<String> = [
        "health.Check", "health.Watch", "reflection.ListServices",
        Identity.signIn.fullName, Identity.refresh.fullName, Identity.signOut.fullName, Identity.exchangeAPIKey.fullName,
    ]
}

/// How one part of an aggregate answer went.
public struct PartStatus: Codable, Hashable, Sendable {
    /// `profile`, `matches`, `meetings`, …
    public var part: String
    /// The status code of the service call(s) behind it (0 OK, 14 UNAVAILABLE, 4 DEADLINE_EXCEEDED, …).
    public var code: Int
    public var message: String?

    public init(part: String, code: Int, message: String? = nil) {
        self.part = part
        self.code = code
        self.message = message
    }

    enum CodingKeys: Int, CodingKey { case part = 1, code, message }
}

public struct DashboardRequest: Codable, Hashable, Sendable {
    /// Meetings from now until this many days ahead (1–60, default 14).
    public var days: Int?

    public init(days: Int? = nil) {
        self.days = days
    }

    enum CodingKeys: Int, CodingKey { case days = 1 }
}

/// A match with the partner the caller sees in it.
public struct DashboardMatch: Codable, Hashable, Sendable {
    public var match: Match
    public var partnerID: UUID
    /// Absent when identity did not answer.
    public var partnerName: String?
    public var partnerTimeZone: String?

    public init(match: Match, partnerID: UUID, partnerName: String?, partnerTimeZone: String?) {
        self.match = match
        self.partnerID = partnerID
        self.partnerName = partnerName
        self.partnerTimeZone = partnerTimeZone
    }

    enum CodingKeys: Int, CodingKey { case match = 1, partnerID, partnerName, partnerTimeZone }
}

/// A meeting with its times in the caller's own time zone.
public struct DashboardMeeting: Codable, Hashable, Sendable {
    public var meeting: Meeting
    /// Local wall-clock start and end, `YYYY-MM-DDTHH:MM` in `timeZone`.
    public var localStart: String
    public var localEnd: String
    public var timeZone: String

    public init(meeting: Meeting, localStart: String, localEnd: String, timeZone: String) {
        self.meeting = meeting
        self.localStart = localStart
        self.localEnd = localEnd
        self.timeZone = timeZone
    }

    enum CodingKeys: Int, CodingKey { case meeting = 1, localStart, localEnd, timeZone }
}

public struct Dashboard: Codable, Hashable, Sendable {
    /// Absent when identity did not answer (see `parts`).
    public var person: Person?
    /// Proposed and active matches.
    public var matches: [DashboardMatch]
    /// Scheduled meetings from now on, soonest first.
    public var meetings: [DashboardMeeting]
    /// One entry per part: `profile`, `matches`, `meetings`, `surveys`, `goals`.
    public var parts: [PartStatus]
    /// Surveys the person is due to answer, earliest first.
    public var surveys: [SurveyInvitation]
    /// The goals of the person's active matches.
    public var goals: [Goal]

    public init(person: Person?, matches: [DashboardMatch], meetings: [DashboardMeeting], parts: [PartStatus], surveys: [SurveyInvitation] = [], goals: [Goal] = []) {
        self.person = person
        self.matches = matches
        self.meetings = meetings
        self.parts = parts
        self.surveys = surveys
        self.goals = goals
    }

    enum CodingKeys: Int, CodingKey { case person = 1, matches, meetings, parts, surveys, goals }
}

public struct ProgramDashboardRequest: Codable, Hashable, Sendable {
    public var programID: UUID

    public init(programID: UUID) {
        self.programID = programID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1 }
}

/// How many of a program's matches are in one status.
public struct StatusCount: Codable, Hashable, Sendable {
    public var status: MatchStatus
    public var count: Int

    public init(status: MatchStatus, count: Int) {
        self.status = status
        self.count = count
    }

    enum CodingKeys: Int, CodingKey { case status = 1, count }
}

public struct ProgramDashboard: Codable, Hashable, Sendable {
    /// Absent when identity did not answer.
    public var program: Program?
    /// Matches by status (all of the program's matches).
    public var matchCounts: [StatusCount]
    /// Proposals waiting for an answer, oldest first (at most 100).
    public var pendingProposals: [Match]
    /// One entry per part: `program`, `matches`, `report`, `health`.
    public var parts: [PartStatus]
    /// The program's report (feedback's `ProgramReport`, k-anonymous); absent when feedback did not answer.
    public var report: ProgramReport?
    /// Each pair's health (feedback's `MatchHealth`), the ones needing attention first.
    public var health: [PairHealth]

    public init(
        program: Program?, matchCounts: [StatusCount], pendingProposals: [Match], parts: [PartStatus], report: ProgramReport? = nil, health: [PairHealth] = []
    ) {
        self.program = program
        self.matchCounts = matchCounts
        self.pendingProposals = pendingProposals
        self.parts = parts
        self.report = report
        self.health = health
    }

    enum CodingKeys: Int, CodingKey { case program = 1, matchCounts, pendingProposals, parts, report, health }
}
