#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The matching service: explained pair scores under a program's criteria, recommendations,
/// provably optimal whole-cohort matching, stable matching, groups, and the match lifecycle
/// (Protocols/Matching.md).
public enum Matching {
    public static let serviceName = "matching"

    // Program settings and participants
    public static let setSettings = MethodDescriptor<MatchingSettingsInput, MatchingSettings>(service: serviceName, method: "SetSettings")
    public static let getSettings = MethodDescriptor<ProgramRef, MatchingSettings>(service: serviceName, method: "GetSettings", idempotent: true)
    public static let syncParticipants = MethodDescriptor<ProgramRef, SyncReport>(service: serviceName, method: "SyncParticipants", idempotent: true)

    // Scores
    public static let recommend = MethodDescriptor<RecommendRequest, RecommendationList>(service: serviceName, method: "Recommend", idempotent: true)
    public static let explainPair = MethodDescriptor<PairQuery, PairExplanation>(service: serviceName, method: "ExplainPair", idempotent: true)
    public static let compareMentors = MethodDescriptor<CompareMentorsRequest, MentorComparison>(service: serviceName, method: "CompareMentors", idempotent: true)
    public static let exportScores = MethodDescriptor<ProgramRef, ScoreChunk>(service: serviceName, method: "ExportScores", kind: .serverStreaming, idempotent: true)

    // Matches
    public static let runCohort = MethodDescriptor<RunCohortRequest, CohortResult>(service: serviceName, method: "RunCohort")
    public static let proposeMatch = MethodDescriptor<ProposeMatchRequest, Match>(service: serviceName, method: "ProposeMatch")
    public static let respondToMatch = MethodDescriptor<RespondToMatchRequest, Match>(service: serviceName, method: "RespondToMatch", idempotent: true)
    public static let endMatch = MethodDescriptor<EndMatchRequest, Match>(service: serviceName, method: "EndMatch", idempotent: true)
    public static let setAgreement = MethodDescriptor<SetAgreementRequest, Match>(service: serviceName, method: "SetAgreement")
    public static let getMatch = MethodDescriptor<MatchRef, Match>(service: serviceName, method: "GetMatch", idempotent: true)
    public static let listMatches = MethodDescriptor<ListMatchesRequest, MatchPage>(service: serviceName, method: "ListMatches", idempotent: true)

    // Internal (between services)
    public static let listMatchChanges = MethodDescriptor<ListMatchChangesRequest, MatchChangePage>(service: serviceName, method: "ListMatchChanges", idempotent: true)
    public static let recordFitSignal = MethodDescriptor<FitSignal, Match>(service: serviceName, method: "RecordFitSignal", idempotent: true)

    public static let methods: [AnyMethodDescriptor] = [
        setSettings.erased, getSettings.erased, syncParticipants.erased,
        recommend.erased, explainPair.erased, compareMentors.erased, exportScores.erased,
        runCohort.erased, proposeMatch.erased, respondToMatch.erased, endMatch.erased, setAgreement.erased, getMatch.erased, listMatches.erased,
        listMatchChanges.erased, recordFitSignal.erased,
    ]

    /// Internal methods and the services (certificate names) allowed to call them.
    public static let internalMethods: [String: Set<String>] = [
        listMatchChanges.fullName: ["scheduling", "feedback"],
        recordFitSignal.fullName: ["feedback"],
    ]
}

// MARK: - Criteria and settings

/// What a criterion compares.
public enum CriterionKind: String, Codable, Hashable, Sendable, CaseIterable {
    /// Skills the mentee wants that the mentor offers, weighted by level.
    case skills
    /// Goal tags and topics in common.
    case topics
    /// Another division than the mentee's (`preferCrossDivision`), or the same.
    case division
    /// The mentor `minimumGap`–`maximumGap` seniority levels above the mentee.
    case seniority
    /// A language in common.
    case language
    /// Working hours in common per week across the two time zones, up to `targetHours`.
    case workingHours = "working-hours"
    /// New hires (hired within `newHireDays`) get an established colleague.
    case onboarding
}

public enum CriterionMode: String, Codable, Hashable, Sendable, CaseIterable {
    /// A filter: pairs failing it are never proposed.
    case must
    /// Adds up to its weight's share of 100 points.
    case should
}

public struct Criterion: Codable, Hashable, Sendable {
    public var kind: CriterionKind
    public var mode: CriterionMode
    /// For `should`: 1–100 (default 10). Each should's share of the 100 points is its weight over the sum.
    public var weight: Int?
    /// For `division`: true (default) prefers another division.
    public var preferCrossDivision: Bool?
    /// For `seniority`: the mentor is at least this many levels above (default 1, -9…9).
    public var minimumGap: Int?
    /// For `seniority`: at most this many levels above (default 4, ≥ minimumGap).
    public var maximumGap: Int?
    /// For `working-hours`: full points at this many hours a week in common (1–40, default 10).
    public var targetHours: Int?
    /// For `onboarding`: a new hire joined within this many days (1–730, default 90).
    public var newHireDays: Int?

    public init(
        kind: CriterionKind, mode: CriterionMode, weight: Int? = nil, preferCrossDivision: Bool? = nil, minimumGap: Int? = nil,
        maximumGap: Int? = nil, targetHours: Int? = nil, newHireDays: Int? = nil
    ) {
        self.kind = kind
        self.mode = mode
        self.weight = weight
        self.preferCrossDivision = preferCrossDivision
        self.minimumGap = minimumGap
        self.maximumGap = maximumGap
        self.targetHours = targetHours
        self.newHireDays = newHireDays
    }

    enum CodingKeys: Int, CodingKey { case kind = 1, mode, weight, preferCrossDivision, minimumGap, maximumGap, targetHours, newHireDays }
}

public struct MatchingSettingsInput: Codable, Hashable, Sendable {
    public var programID: UUID
    /// At most one criterion of each kind; at least one `should`.
    public var criteria: [Criterion]
    /// A proposed match not accepted by both within this many days expires (1–60, default 7).
    public var requestExpiryDays: Int?
    /// Group (circle) programs: mentees per mentor's group, at least (1–50, default 2) …
    public var groupMinimum: Int?
    /// … and at most (1–50). Giving either makes the program a group program; absent: one-to-one.
    public var groupMaximum: Int?
    /// After a decline, an expiry or "not a good fit", propose the mentee's best available mentor (default true).
    public var autoRematch: Bool?
    /// The version read; a stale one is ABORTED. Absent the first time.
    public var version: Int?

    public init(
        programID: UUID, criteria: [Criterion], requestExpiryDays: Int? = nil, groupMinimum: Int? = nil, groupMaximum: Int? = nil,
        autoRematch: Bool? = nil, version: Int? = nil
    ) {
        self.programID = programID
        self.criteria = criteria
        self.requestExpiryDays = requestExpiryDays
        self.groupMinimum = groupMinimum
        self.groupMaximum = groupMaximum
        self.autoRematch = autoRematch
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, criteria, requestExpiryDays, groupMinimum, groupMaximum, autoRematch, version }
}

public struct MatchingSettings: Codable, Hashable, Sendable {
    public var programID: UUID
    /// With every default filled in.
    public var criteria: [Criterion]
    public var requestExpiryDays: Int
    /// Present for group programs (one mentor, a group of mentees): the group size bounds.
    public var groupMinimum: Int?
    public var groupMaximum: Int?
    public var autoRematch: Bool
    public var version: Int
    public var updatedAt: Date

    public init(
        programID: UUID, criteria: [Criterion], requestExpiryDays: Int, groupMinimum: Int?, groupMaximum: Int?, autoRematch: Bool,
        version: Int, updatedAt: Date
    ) {
        self.programID = programID
        self.criteria = criteria
        self.requestExpiryDays = requestExpiryDays
        self.groupMinimum = groupMinimum
        self.groupMaximum = groupMaximum
        self.autoRematch = autoRematch
        self.version = version
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, criteria, requestExpiryDays, groupMinimum, groupMaximum, autoRematch, version, updatedAt }
}

public struct SyncReport: Codable, Hashable, Sendable {
    public var programID: UUID
    public var mentors: Int
    public var mentees: Int
    /// Participants no longer in the program (their open proposals are withdrawn).
    public var removed: Int
    public var syncedAt: Date

    public init(programID: UUID, mentors: Int, mentees: Int, removed: Int, syncedAt: Date) {
        self.programID = programID
        self.mentors = mentors
        self.mentees = mentees
        self.removed = removed
        self.syncedAt = syncedAt
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, mentors, mentees, removed, syncedAt }
}

// MARK: - Scores and explanations

/// One criterion's part of a pair's score.
public struct CriterionPoints: Codable, Hashable, Sendable {
    public var criterion: CriterionKind
    public var points: Int
    /// Its share of the 100 points.
    public var maximum: Int
    /// Why, in words (e.g. "offers swift 4/3 (level offered/wanted)").
    public var detail: String

    public init(criterion: CriterionKind, points: Int, maximum: Int, detail: String) {
        self.criterion = criterion
        self.points = points
        self.maximum = maximum
        self.detail = detail
    }

    enum CodingKeys: Int, CodingKey { case criterion = 1, points, maximum, detail }
}

public struct RecommendRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    /// Default: the caller.
    public var menteeID: UUID?
    /// 1–50, default 5.
    public var limit: Int?

    public init(programID: UUID, menteeID: UUID? = nil, limit: Int? = nil) {
        self.programID = programID
        self.menteeID = menteeID
        self.limit = limit
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, menteeID, limit }
}

public struct Recommendation: Codable, Hashable, Sendable {
    public var mentorID: UUID
    public var displayName: String
    public var score: Int
    /// Add up to `score`.
    public var parts: [CriterionPoints]
    /// Places the mentor has left (capacity minus active and proposed matches).
    public var openPlaces: Int

    public init(mentorID: UUID, displayName: String, score: Int, parts: [CriterionPoints], openPlaces: Int) {
        self.mentorID = mentorID
        self.displayName = displayName
        self.score = score
        self.parts = parts
        self.openPlaces = openPlaces
    }

    enum CodingKeys: Int, CodingKey { case mentorID = 1, displayName, score, parts, openPlaces }
}

public struct RecommendationList: Codable, Hashable, Sendable {
    public var menteeID: UUID
    /// Best first.
    public var recommendations: [Recommendation]
    /// Mentors left out because they are full.
    public var fullMentors: Int
    /// Mentors left out by a must criterion or an exclusion.
    public var excludedMentors: Int

    public init(menteeID: UUID, recommendations: [Recommendation], fullMentors: Int, excludedMentors: Int) {
        self.menteeID = menteeID
        self.recommendations = recommendations
        self.fullMentors = fullMentors
        self.excludedMentors = excludedMentors
    }

    enum CodingKeys: Int, CodingKey { case menteeID = 1, recommendations, fullMentors, excludedMentors }
}

public struct PairQuery: Codable, Hashable, Sendable {
    public var programID: UUID
    public var menteeID: UUID
    public var mentorID: UUID

    public init(programID: UUID, menteeID: UUID, mentorID: UUID) {
        self.programID = programID
        self.menteeID = menteeID
        self.mentorID = mentorID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, menteeID, mentorID }
}

public struct PairExplanation: Codable, Hashable, Sendable {
    public var menteeID: UUID
    public var mentorID: UUID
    /// 0–100; absent when the pair is excluded.
    public var score: Int?
    public var parts: [CriterionPoints]
    /// Why the pair can never be matched (a must criterion, the same reporting line, an earlier match that ended badly).
    public var exclusion: String?

    public init(menteeID: UUID, mentorID: UUID, score: Int?, parts: [CriterionPoints], exclusion: String?) {
        self.menteeID = menteeID
        self.mentorID = mentorID
        self.score = score
        self.parts = parts
        self.exclusion = exclusion
    }

    enum CodingKeys: Int, CodingKey { case menteeID = 1, mentorID, score, parts, exclusion }
}

public struct CompareMentorsRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    /// Default: the caller.
    public var menteeID: UUID?
    public var firstMentorID: UUID
    public var secondMentorID: UUID

    public init(programID: UUID, menteeID: UUID? = nil, firstMentorID: UUID, secondMentorID: UUID) {
        self.programID = programID
        self.menteeID = menteeID
        self.firstMentorID = firstMentorID
        self.secondMentorID = secondMentorID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, menteeID, firstMentorID, secondMentorID }
}

public struct ComparisonRow: Codable, Hashable, Sendable {
    public var criterion: CriterionKind
    public var maximum: Int
    /// Absent when that pair is excluded.
    public var firstPoints: Int?
    public var secondPoints: Int?
    public var firstDetail: String?
    public var secondDetail: String?

    public init(criterion: CriterionKind, maximum: Int, firstPoints: Int?, secondPoints: Int?, firstDetail: String?, secondDetail: String?) {
        self.criterion = criterion
        self.maximum = maximum
        self.firstPoints = firstPoints
        self.secondPoints = secondPoints
        self.firstDetail = firstDetail
        self.secondDetail = secondDetail
    }

    enum CodingKeys: Int, CodingKey { case criterion = 1, maximum, firstPoints, secondPoints, firstDetail, secondDetail }
}

public struct MentorComparison: Codable, Hashable, Sendable {
    public var first: PairExplanation
    public var second: PairExplanation
    /// One row per `should` criterion, in the program's order.
    public var rows: [ComparisonRow]
    /// One sentence, e.g. "the first mentor scores 12 points more, mostly on skills (+10)".
    public var summary: String

    public init(first: PairExplanation, second: PairExplanation, rows: [ComparisonRow], summary: String) {
        self.first = first
        self.second = second
        self.rows = rows
        self.summary = summary
    }

    enum CodingKeys: Int, CodingKey { case first = 1, second, rows, summary }
}

/// A piece of the CSV export: the first chunk starts with the header line.
public struct ScoreChunk: Codable, Hashable, Sendable {
    public var csv: String
    public var rows: Int

    public init(csv: String, rows: Int) {
        self.csv = csv
        self.rows = rows
    }

    enum CodingKeys: Int, CodingKey { case csv = 1, rows }
}

// MARK: - Whole-cohort matching

public enum CohortObjective: String, Codable, Hashable, Sendable, CaseIterable {
    /// The largest total score.
    case maxTotal = "max-total"
    /// As many mentees matched as possible, then the largest total.
    case maxMatched = "max-matched"
    /// As many matched as possible, then the largest lowest pair score, then the largest total.
    case fairest
    /// Mentee-proposing deferred acceptance: no mentee and mentor would both rather be together.
    case stable
}

public struct RunCohortRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    public var objective: CohortObjective
    /// Compute and report only; propose nothing (default false).
    public var dryRun: Bool?
    /// Leave pairs scoring below this unmatched (0–100, default 0).
    public var minimumScore: Int?

    public init(programID: UUID, objective: CohortObjective, dryRun: Bool? = nil, minimumScore: Int? = nil) {
        self.programID = programID
        self.objective = objective
        self.dryRun = dryRun
        self.minimumScore = minimumScore
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, objective, dryRun, minimumScore }
}

public struct CohortPair: Codable, Hashable, Sendable {
    public var menteeID: UUID
    public var mentorID: UUID
    public var score: Int
    /// Group programs: the mentor's group.
    public var groupID: UUID?
    /// The proposed match (absent in a dry run).
    public var matchID: UUID?

    public init(menteeID: UUID, mentorID: UUID, score: Int, groupID: UUID? = nil, matchID: UUID? = nil) {
        self.menteeID = menteeID
        self.mentorID = mentorID
        self.score = score
        self.groupID = groupID
        self.matchID = matchID
    }

    enum CodingKeys: Int, CodingKey { case menteeID = 1, mentorID, score, groupID, matchID }
}

public struct UnmatchedPerson: Codable, Hashable, Sendable {
    public var personID: UUID
    /// `mentee` or `mentor`.
    public var role: String
    /// e.g. "no mentor passes the must criteria", "every mentor it can be matched with is full", "group below its minimum size".
    public var reason: String

    public init(personID: UUID, role: String, reason: String) {
        self.personID = personID
        self.role = role
        self.reason = reason
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, role, reason }
}

public struct CohortResult: Codable, Hashable, Sendable {
    public var programID: UUID
    public var objective: CohortObjective
    public var dryRun: Bool
    /// Mentees and mentors taken into account (those without an active or proposed match, mentors with room).
    public var mentees: Int
    public var mentors: Int
    public var matched: Int
    /// Sum of the matched pairs' scores.
    public var total: Int
    /// The lowest score among matched pairs.
    public var lowest: Int?
    /// Mentee–mentor pairs that would both rather be together than where they are.
    public var blockingPairs: Int
    public var pairs: [CohortPair]
    /// Unmatched mentees (and mentors left without anyone), each with why.
    public var unmatched: [UnmatchedPerson]
    public var elapsedMilliseconds: Int

    public init(
        programID: UUID, objective: CohortObjective, dryRun: Bool, mentees: Int, mentors: Int, matched: Int, total: Int, lowest: Int?,
        blockingPairs: Int, pairs: [CohortPair], unmatched: [UnmatchedPerson], elapsedMilliseconds: Int
    ) {
        self.programID = programID
        self.objective = objective
        self.dryRun = dryRun
        self.mentees = mentees
        self.mentors = mentors
        self.matched = matched
        self.total = total
        self.lowest = lowest
        self.blockingPairs = blockingPairs
        self.pairs = pairs
        self.unmatched = unmatched
        self.elapsedMilliseconds = elapsedMilliseconds
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, objective, dryRun, mentees, mentors, matched, total, lowest, blockingPairs, pairs, unmatched, elapsedMilliseconds }
}

// MARK: - Matches

public enum MatchStatus: String, Codable, Hashable, Sendable, CaseIterable {
    /// Waiting for both to accept.
    case proposed
    case active
    case declined
    /// Not accepted by both in time.
    case expired
    case completed
    /// Ended early (see `endReason`, `notAGoodFit`).
    case ended
}

public enum MatchSource: String, Codable, Hashable, Sendable, CaseIterable {
    case cohort
    /// A mentee asked for a recommended mentor.
    case request
    /// An admin paired them.
    case admin
    /// Offered after a decline, an expiry or "not a good fit".
    case rematch
}

/// What the pair agreed: topics, boundaries and how often they meet.
public struct Agreement: Codable, Hashable, Sendable {
    public var topics: [String]
    /// Topics the pair keeps out of their conversations.
    public var boundaries: [String]
    public var cadence: MeetingCadence?
    public var notes: String?
    /// Who agreed to this text; both once each has set the same agreement.
    public var agreedBy: [UUID]
    public var updatedAt: Date

    public init(topics: [String], boundaries: [String], cadence: MeetingCadence?, notes: String?, agreedBy: [UUID], updatedAt: Date) {
        self.topics = topics
        self.boundaries = boundaries
        self.cadence = cadence
        self.notes = notes
        self.agreedBy = agreedBy
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey { case topics = 1, boundaries, cadence, notes, agreedBy, updatedAt }
}

public struct Match: Codable, Hashable, Sendable {
    public var id: UUID
    public var organisationID: UUID
    public var programID: UUID
    public var mentorID: UUID
    public var menteeID: UUID
    /// Group programs: the mentor's group (the mentees sharing it meet together).
    public var groupID: UUID?
    public var status: MatchStatus
    public var source: MatchSource
    /// The score and its explanation when proposed.
    public var score: Int
    public var parts: [CriterionPoints]
    public var mentorAccepted: Bool
    public var menteeAccepted: Bool
    public var proposedAt: Date
    /// When a proposal lapses.
    public var expiresAt: Date?
    public var startedAt: Date?
    public var endedAt: Date?
    public var endReason: String?
    /// Ended because a participant said it was not a good fit.
    public var notAGoodFit: Bool
    /// Who declined.
    public var declinedBy: UUID?
    /// The match this one replaces.
    public var rematchOf: UUID?
    /// The match offered instead of this one.
    public var rematchID: UUID?
    public var agreement: Agreement?
    public var version: Int
    public var updatedAt: Date

    public init(
        id: UUID, organisationID: UUID, programID: UUID, mentorID: UUID, menteeID: UUID, groupID: UUID?, status: MatchStatus, source: MatchSource,
        score: Int, parts: [CriterionPoints], mentorAccepted: Bool, menteeAccepted: Bool, proposedAt: Date, expiresAt: Date?, startedAt: Date?,
        endedAt: Date?, endReason: String?, notAGoodFit: Bool, declinedBy: UUID?, rematchOf: UUID?, rematchID: UUID?, agreement: Agreement?,
        version: Int, updatedAt: Date
    ) {
        self.id = id
        self.organisationID = organisationID
        self.programID = programID
        self.mentorID = mentorID
        self.menteeID = menteeID
        self.groupID = groupID
        self.status = status
        self.source = source
        self.score = score
        self.parts = parts
        self.mentorAccepted = mentorAccepted
        self.menteeAccepted = menteeAccepted
        self.proposedAt = proposedAt
        self.expiresAt = expiresAt
        self.startedAt = startedAt
        self.endedAt = endedAt
        self.endReason = endReason
        self.notAGoodFit = notAGoodFit
        self.declinedBy = declinedBy
        self.rematchOf = rematchOf
        self.rematchID = rematchID
        self.agreement = agreement
        self.version = version
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey {
        case id = 1, organisationID, programID, mentorID, menteeID, groupID, status, source, score, parts, mentorAccepted, menteeAccepted,
             proposedAt, expiresAt, startedAt, endedAt, endReason, notAGoodFit, declinedBy, rematchOf, rematchID, agreement, version, updatedAt
    }
}

public struct MatchRef: Codable, Hashable, Sendable {
    public var matchID: UUID

    public init(matchID: UUID) {
        self.matchID = matchID
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1 }
}

public struct ProposeMatchRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    /// Default: the caller (a mentee asking for a mentor).
    public var menteeID: UUID?
    public var mentorID: UUID

    public init(programID: UUID, menteeID: UUID? = nil, mentorID: UUID) {
        self.programID = programID
        self.menteeID = menteeID
        self.mentorID = mentorID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, menteeID, mentorID }
}

public struct RespondToMatchRequest: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var accept: Bool
    /// Why not (when declining).
    public var reason: String?

    public init(matchID: UUID, accept: Bool, reason: String? = nil) {
        self.matchID = matchID
        self.accept = accept
        self.reason = reason
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, accept, reason }
}

public enum MatchOutcome: String, Codable, Hashable, Sendable, CaseIterable {
    /// The pair reached the end of their mentoring.
    case completed
    /// Ended early.
    case ended
    /// Ended early because it was not a good fit: the mentee is offered a re-match.
    case notAGoodFit = "not-a-good-fit"
}

public struct EndMatchRequest: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var outcome: MatchOutcome
    public var reason: String?

    public init(matchID: UUID, outcome: MatchOutcome, reason: String? = nil) {
        self.matchID = matchID
        self.outcome = outcome
        self.reason = reason
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, outcome, reason }
}

public struct SetAgreementRequest: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var topics: [String]
    public var boundaries: [String]
    public var cadence: MeetingCadence?
    public var notes: String?
    /// The match version read; a stale one is ABORTED.
    public var version: Int

    public init(matchID: UUID, topics: [String], boundaries: [String], cadence: MeetingCadence? = nil, notes: String? = nil, version: Int) {
        self.matchID = matchID
        self.topics = topics
        self.boundaries = boundaries
        self.cadence = cadence
        self.notes = notes
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, topics, boundaries, cadence, notes, version }
}

public struct ListMatchesRequest: Codable, Hashable, Sendable {
    public var programID: UUID?
    /// Matches this person is in (mentor or mentee).
    public var personID: UUID?
    public var statuses: [MatchStatus]?
    /// 1–500, default 100.
    public var pageSize: Int?
    public var pageToken: String?

    public init(programID: UUID? = nil, personID: UUID? = nil, statuses: [MatchStatus]? = nil, pageSize: Int? = nil, pageToken: String? = nil) {
        self.programID = programID
        self.personID = personID
        self.statuses = statuses
        self.pageSize = pageSize
        self.pageToken = pageToken
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, personID, statuses, pageSize, pageToken }
}

public struct MatchPage: Codable, Hashable, Sendable {
    /// In the order of their last change.
    public var matches: [Match]
    public var nextPageToken: String?

    public init(matches: [Match], nextPageToken: String?) {
        self.matches = matches
        self.nextPageToken = nextPageToken
    }

    enum CodingKeys: Int, CodingKey { case matches = 1, nextPageToken }
}

// MARK: - Internal

public struct ListMatchChangesRequest: Codable, Hashable, Sendable {
    /// The last sequence already seen; 0 from the start.
    public var after: Int
    /// 1–1000, default 500.
    public var limit: Int?

    public init(after: Int, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }

    enum CodingKeys: Int, CodingKey { case after = 1, limit }
}

public struct MatchChange: Codable, Hashable, Sendable {
    public var sequence: Int
    /// The match as it was after this change.
    public var match: Match

    public init(sequence: Int, match: Match) {
        self.sequence = sequence
        self.match = match
    }

    enum CodingKeys: Int, CodingKey { case sequence = 1, match }
}

public struct MatchChangePage: Codable, Hashable, Sendable {
    /// In sequence order.
    public var changes: [MatchChange]
    /// The sequence to ask after next time (the last change's, or `after` when there is none).
    public var last: Int

    public init(changes: [MatchChange], last: Int) {
        self.changes = changes
        self.last = last
    }

    enum CodingKeys: Int, CodingKey { case changes = 1, last }
}

/// A participant said the match is not a good fit (from feedback's "pairing fit" question).
public struct FitSignal: Codable, Hashable, Sendable {
    public var organisationID: UUID
    public var matchID: UUID
    public var personID: UUID
    public var comment: String?

    public init(organisationID: UUID, matchID: UUID, personID: UUID, comment: String? = nil) {
        self.organisationID = organisationID
        self.matchID = matchID
        self.personID = personID
        self.comment = comment
    }

    enum CodingKeys: Int, CodingKey { case organisationID = 1, matchID, personID, comment }
}
