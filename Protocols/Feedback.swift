#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The feedback service: session feedback, pulse and closing surveys, goals, and program
/// reports that never expose an individual's answers (Protocols/Feedback.md).
public enum Feedback {
    public static let serviceName = "feedback"

    // Session feedback
    public static let submitSessionFeedback = MethodDescriptor<SessionFeedbackInput, SessionFeedback>(service: serviceName, method: "SubmitSessionFeedback", idempotent: true)
    public static let getSessionFeedback = MethodDescriptor<SessionFeedbackRef, SessionFeedback>(service: serviceName, method: "GetSessionFeedback", idempotent: true)

    // Surveys
    public static let setSurveyTemplate = MethodDescriptor<SurveyTemplate, SurveyTemplate>(service: serviceName, method: "SetSurveyTemplate", idempotent: true)
    public static let getSurveyTemplate = MethodDescriptor<SurveyTemplateRef, SurveyTemplate>(service: serviceName, method: "GetSurveyTemplate", idempotent: true)
    public static let listDueSurveys = MethodDescriptor<ListDueSurveysRequest, SurveyInvitationList>(service: serviceName, method: "ListDueSurveys", idempotent: true)
    public static let submitSurvey = MethodDescriptor<SurveyResponseInput, SurveyReceipt>(service: serviceName, method: "SubmitSurvey", idempotent: true)
    public static let streamSurveyInvitations = MethodDescriptor<StreamSurveyInvitationsRequest, SurveyInvitation>(service: serviceName, method: "StreamSurveyInvitations", kind: .serverStreaming)

    // Goals
    public static let setGoal = MethodDescriptor<Goal, Goal>(service: serviceName, method: "SetGoal", idempotent: true)
    public static let listGoals = MethodDescriptor<ListGoalsRequest, GoalList>(service: serviceName, method: "ListGoals", idempotent: true)

    // Reporting
    public static let programReport = MethodDescriptor<ReportRequest, ProgramReport>(service: serviceName, method: "ProgramReport", idempotent: true)
    public static let matchHealth = MethodDescriptor<MatchHealthRequest, MatchHealthList>(service: serviceName, method: "MatchHealth", idempotent: true)
    public static let exportReport = MethodDescriptor<ReportRequest, ReportExport>(service: serviceName, method: "ExportReport", idempotent: true)
    public static let streamReportExport = MethodDescriptor<ReportRequest, ReportExportChunk>(service: serviceName, method: "StreamReportExport", kind: .serverStreaming)

    // Settings and erasure
    public static let setSettings = MethodDescriptor<FeedbackSettings, FeedbackSettings>(service: serviceName, method: "SetSettings", idempotent: true)
    public static let getSettings = MethodDescriptor<Empty, FeedbackSettings>(service: serviceName, method: "GetSettings", idempotent: true)
    public static let erasePerson = MethodDescriptor<PersonRef, ErasureReceipt>(service: serviceName, method: "ErasePerson", idempotent: true)

    public static let methods: [AnyMethodDescriptor] = [
        submitSessionFeedback.erased, getSessionFeedback.erased,
        setSurveyTemplate.erased, getSurveyTemplate.erased, listDueSurveys.erased, submitSurvey.erased, streamSurveyInvitations.erased,
        setGoal.erased, listGoals.erased,
        programReport.erased, matchHealth.erased, exportReport.erased, streamReportExport.erased,
        setSettings.erased, getSettings.erased, erasePerson.erased,
    ]
}

// MARK: - Session feedback

/// The answer to "is this pairing a good fit?", asked after a pair's first held meeting.
public enum PairingFit: String, Codable, Hashable, Sendable, CaseIterable {
    case goodFit = "good-fit"
    case unsure
    /// Sent to matching as a re-match signal: the match ends and the mentee is offered another.
    case notAGoodFit = "not-a-good-fit"
}

/// Feedback on one held meeting by one of its participants. Sending it again replaces it.
public struct SessionFeedbackInput: Codable, Hashable, Sendable {
    public var meetingID: UUID
    /// 1–5.
    public var rating: Int
    /// What was useful (at most 2000 characters).
    public var useful: String?
    /// Visible only to its author; never in reports or exports.
    public var privateNote: String?
    /// Only after the pair's first held meeting.
    public var pairingFit: PairingFit?
    /// Why the pairing is not a good fit; sent to matching with the signal.
    public var fitComment: String?
    /// Whether admins may read `useful` in reports (default false).
    public var shareTextWithAdmins: Bool?

    public init(meetingID: UUID, rating: Int, useful: String? = nil, privateNote: String? = nil, pairingFit: PairingFit? = nil, fitComment: String? = nil, shareTextWithAdmins: Bool? = nil) {
        self.meetingID = meetingID
        self.rating = rating
        self.useful = useful
        self.privateNote = privateNote
        self.pairingFit = pairingFit
        self.fitComment = fitComment
        self.shareTextWithAdmins = shareTextWithAdmins
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1, rating, useful, privateNote, pairingFit, fitComment, shareTextWithAdmins }
}

/// Feedback as stored, shown only to its author.
public struct SessionFeedback: Codable, Hashable, Sendable {
    public var meetingID: UUID
    public var matchID: UUID
    public var personID: UUID
    public var rating: Int
    public var useful: String?
    public var privateNote: String?
    public var pairingFit: PairingFit?
    public var fitComment: String?
    public var shareTextWithAdmins: Bool
    public var submittedAt: Date

    public init(
        meetingID: UUID, matchID: UUID, personID: UUID, rating: Int, useful: String?, privateNote: String?, pairingFit: PairingFit?, fitComment: String?,
        shareTextWithAdmins: Bool, submittedAt: Date
    ) {
        self.meetingID = meetingID
        self.matchID = matchID
        self.personID = personID
        self.rating = rating
        self.useful = useful
        self.privateNote = privateNote
        self.pairingFit = pairingFit
        self.fitComment = fitComment
        self.shareTextWithAdmins = shareTextWithAdmins
        self.submittedAt = submittedAt
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1, matchID, personID, rating, useful, privateNote, pairingFit, fitComment, shareTextWithAdmins, submittedAt }
}

public struct SessionFeedbackRef: Codable, Hashable, Sendable {
    public var meetingID: UUID

    public init(meetingID: UUID) {
        self.meetingID = meetingID
    }

    enum CodingKeys: Int, CodingKey { case meetingID = 1 }
}

// MARK: - Surveys

public enum SurveyKind: String, Codable, Hashable, Sendable, CaseIterable {
    /// On a schedule while the match is active.
    case pulse
    /// Once, when the match ends.
    case closing
}

public enum QuestionType: String, Codable, Hashable, Sendable, CaseIterable {
    /// 1 (strongly disagree) – 5 (strongly agree).
    case likert
    /// 0 no, 1 yes.
    case yesNo = "yes-no"
    /// Net Promoter Score, 0–10.
    case nps
    /// The index of one of `choices`.
    case choice
    case freeText = "free-text"
}

/// The program-return figures a question measures.
public enum ReturnMeasure: String, Codable, Hashable, Sendable, CaseIterable {
    /// "I improved my competencies significantly."
    case competency
    /// "I developed a positive relationship with my mentoring partner."
    case relationship
    /// "I have a greater wish to stay with the organisation."
    case retention
}

public struct SurveyQuestion: Codable, Hashable, Sendable {
    /// Unique within the template, 1–40 characters of `a-z 0-9 -`.
    public var id: String
    public var text: String
    public var type: QuestionType
    /// For `choice`: 2–20 options.
    public var choices: [String]?
    public var required: Bool
    /// Counts towards this return figure (likert or yes-no only): agree (4–5) or yes is positive.
    public var measures: ReturnMeasure?

    public init(id: String, text: String, type: QuestionType, choices: [String]? = nil, required: Bool = false, measures: ReturnMeasure? = nil) {
        self.id = id
        self.text = text
        self.type = type
        self.choices = choices
        self.required = required
        self.measures = measures
    }

    enum CodingKeys: Int, CodingKey { case id = 1, text, type, choices, required, measures }
}

/// A program's survey of one kind, with its schedule.
public struct SurveyTemplate: Codable, Hashable, Sendable {
    public var programID: UUID
    public var kind: SurveyKind
    public var questions: [SurveyQuestion]
    /// Pulse: the first is due this many days after the match starts (default 30).
    public var firstAfterDays: Int?
    /// Pulse: then every this many days while the match is active (default 60).
    public var everyDays: Int?
    /// Set by the service: 0 for the built-in standard template, then 1, 2, …
    public var version: Int?

    public init(programID: UUID, kind: SurveyKind, questions: [SurveyQuestion], firstAfterDays: Int? = nil, everyDays: Int? = nil, version: Int? = nil) {
        self.programID = programID
        self.kind = kind
        self.questions = questions
        self.firstAfterDays = firstAfterDays
        self.everyDays = everyDays
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, kind, questions, firstAfterDays, everyDays, version }
}

public struct SurveyTemplateRef: Codable, Hashable, Sendable {
    public var programID: UUID
    public var kind: SurveyKind

    public init(programID: UUID, kind: SurveyKind) {
        self.programID = programID
        self.kind = kind
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, kind }
}

/// A survey a participant is due to answer.
public struct SurveyInvitation: Codable, Hashable, Sendable {
    /// `<match id>/<person id>/<kind>/<round>`.
    public var id: String
    public var organisationID: UUID
    public var programID: UUID
    public var matchID: UUID
    public var personID: UUID
    public var kind: SurveyKind
    /// Pulse: 1, 2, …; closing: 0.
    public var round: Int
    public var dueAt: Date

    public init(id: String, organisationID: UUID, programID: UUID, matchID: UUID, personID: UUID, kind: SurveyKind, round: Int, dueAt: Date) {
        self.id = id
        self.organisationID = organisationID
        self.programID = programID
        self.matchID = matchID
        self.personID = personID
        self.kind = kind
        self.round = round
        self.dueAt = dueAt
    }

    enum CodingKeys: Int, CodingKey { case id = 1, organisationID, programID, matchID, personID, kind, round, dueAt }
}

public struct ListDueSurveysRequest: Codable, Hashable, Sendable {
    /// Someone else's (org-admin and service accounts); default the caller.
    public var personID: UUID?

    public init(personID: UUID? = nil) {
        self.personID = personID
    }

    enum CodingKeys: Int, CodingKey { case personID = 1 }
}

public struct SurveyInvitationList: Codable, Hashable, Sendable {
    /// Earliest due first; unanswered only.
    public var invitations: [SurveyInvitation]

    public init(invitations: [SurveyInvitation]) {
        self.invitations = invitations
    }

    enum CodingKeys: Int, CodingKey { case invitations = 1 }
}

public struct SurveyAnswer: Codable, Hashable, Sendable {
    public var questionID: String
    /// likert 1–5, yes-no 0–1, nps 0–10, choice an index into `choices`.
    public var value: Int?
    /// free-text, at most 2000 characters.
    public var text: String?

    public init(questionID: String, value: Int? = nil, text: String? = nil) {
        self.questionID = questionID
        self.value = value
        self.text = text
    }

    enum CodingKeys: Int, CodingKey { case questionID = 1, value, text }
}

/// A participant's answers to one due survey. Sending it again replaces them.
public struct SurveyResponseInput: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var kind: SurveyKind
    public var round: Int
    public var answers: [SurveyAnswer]
    /// Whether admins may read the free-text answers in reports (default false).
    public var shareTextWithAdmins: Bool?

    public init(matchID: UUID, kind: SurveyKind, round: Int, answers: [SurveyAnswer], shareTextWithAdmins: Bool? = nil) {
        self.matchID = matchID
        self.kind = kind
        self.round = round
        self.answers = answers
        self.shareTextWithAdmins = shareTextWithAdmins
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, kind, round, answers, shareTextWithAdmins }
}

public struct SurveyReceipt: Codable, Hashable, Sendable {
    public var invitationID: String
    public var submittedAt: Date
    /// True when this replaced an earlier answer.
    public var replaced: Bool

    public init(invitationID: String, submittedAt: Date, replaced: Bool) {
        self.invitationID = invitationID
        self.submittedAt = submittedAt
        self.replaced = replaced
    }

    enum CodingKeys: Int, CodingKey { case invitationID = 1, submittedAt, replaced }
}

public struct StreamSurveyInvitationsRequest: Codable, Hashable, Sendable {
    /// Only invitations due at or after this (default: 7 days ago).
    public var since: Date?

    public init(since: Date? = nil) {
        self.since = since
    }

    enum CodingKeys: Int, CodingKey { case since = 1 }
}

// MARK: - Goals

public struct Milestone: Codable, Hashable, Sendable {
    public var title: String
    public var done: Bool

    public init(title: String, done: Bool = false) {
        self.title = title
        self.done = done
    }

    enum CodingKeys: Int, CodingKey { case title = 1, done }
}

/// A mentee's goal within a match, visible to the pair.
public struct Goal: Codable, Hashable, Sendable {
    /// Absent to create.
    public var id: UUID?
    public var matchID: UUID
    public var title: String
    public var milestones: [Milestone]
    /// 0–100.
    public var progress: Int
    /// The version read; a stale one is ABORTED. Set by the service.
    public var version: Int?
    public var updatedAt: Date?

    public init(id: UUID? = nil, matchID: UUID, title: String, milestones: [Milestone] = [], progress: Int = 0, version: Int? = nil, updatedAt: Date? = nil) {
        self.id = id
        self.matchID = matchID
        self.title = title
        self.milestones = milestones
        self.progress = progress
        self.version = version
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey { case id = 1, matchID, title, milestones, progress, version, updatedAt }
}

public struct ListGoalsRequest: Codable, Hashable, Sendable {
    public var matchID: UUID

    public init(matchID: UUID) {
        self.matchID = matchID
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1 }
}

public struct GoalList: Codable, Hashable, Sendable {
    public var goals: [Goal]

    public init(goals: [Goal]) {
        self.goals = goals
    }

    enum CodingKeys: Int, CodingKey { case goals = 1 }
}

// MARK: - Reporting

public enum ReportDimension: String, Codable, Hashable, Sendable, CaseIterable {
    /// The month the match started, `YYYY-MM`.
    case cohort
    /// The respondent's division when they answered.
    case division
    /// `mentor` or `mentee` in the match.
    case role
    /// The month of the meeting or answer, `YYYY-MM` (the trend).
    case month
}

public struct ReportRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    /// Whole months only, `YYYY-MM`, inclusive; both optional.
    public var fromMonth: String?
    public var toMonth: String?

    public init(programID: UUID, fromMonth: String? = nil, toMonth: String? = nil) {
        self.programID = programID
        self.fromMonth = fromMonth
        self.toMonth = toMonth
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, fromMonth, toMonth }
}

/// A share of respondents answering positively, with how many answered.
public struct ReturnFigure: Codable, Hashable, Sendable {
    /// 0–100, one decimal.
    public var percent: Double
    public var respondents: Int

    public init(percent: Double, respondents: Int) {
        self.percent = percent
        self.respondents = respondents
    }

    enum CodingKeys: Int, CodingKey { case percent = 1, respondents }
}

/// The figures of one group. Answer figures are absent when the group is suppressed.
public struct ReportCell: Codable, Hashable, Sendable {
    /// `all`, a cohort or month `YYYY-MM`, a division, `mentor` or `mentee`.
    public var group: String
    public var participants: Int?
    public var matches: Int?
    public var meetingsHeld: Int?
    public var mentoringHours: Double?
    /// Distinct people who answered anything in this group (absent when suppressed).
    public var respondents: Int?
    public var averageRating: Double?
    public var ratings: Int?
    /// Surveys answered / surveys due, 0–100.
    public var responseRate: Double?
    public var competency: ReturnFigure?
    public var relationship: ReturnFigure?
    public var retention: ReturnFigure?
    /// Free-text answers whose authors allowed admins to read them (admins only, never with names).
    public var sharedComments: [String]?
    public var suppressed: Bool
    /// Why: `fewer than k respondents`, `complement below k`, `complementary`, `overlap below k`.
    public var suppressedBecause: String?

    public init(
        group: String, participants: Int? = nil, matches: Int? = nil, meetingsHeld: Int? = nil, mentoringHours: Double? = nil, respondents: Int? = nil,
        averageRating: Double? = nil, ratings: Int? = nil, responseRate: Double? = nil, competency: ReturnFigure? = nil, relationship: ReturnFigure? = nil,
        retention: ReturnFigure? = nil, sharedComments: [String]? = nil, suppressed: Bool = false, suppressedBecause: String? = nil
    ) {
        self.group = group
        self.participants = participants
        self.matches = matches
        self.meetingsHeld = meetingsHeld
        self.mentoringHours = mentoringHours
        self.respondents = respondents
        self.averageRating = averageRating
        self.ratings = ratings
        self.responseRate = responseRate
        self.competency = competency
        self.relationship = relationship
        self.retention = retention
        self.sharedComments = sharedComments
        self.suppressed = suppressed
        self.suppressedBecause = suppressedBecause
    }

    enum CodingKeys: Int, CodingKey {
        case group = 1, participants, matches, meetingsHeld, mentoringHours, respondents, averageRating, ratings, responseRate, competency,
             relationship, retention, sharedComments, suppressed, suppressedBecause
    }
}

public struct ReportCut: Codable, Hashable, Sendable {
    public var dimension: ReportDimension
    /// By group.
    public var cells: [ReportCell]

    public init(dimension: ReportDimension, cells: [ReportCell]) {
        self.dimension = dimension
        self.cells = cells
    }

    enum CodingKeys: Int, CodingKey { case dimension = 1, cells }
}

public struct ProgramReport: Codable, Hashable, Sendable {
    public var programID: UUID
    /// The organisation's k: groups with fewer respondents are suppressed.
    public var k: Int
    public var overall: ReportCell
    /// cohort, division, role, month (the trend).
    public var cuts: [ReportCut]
    public var generatedAt: Date

    public init(programID: UUID, k: Int, overall: ReportCell, cuts: [ReportCut], generatedAt: Date) {
        self.programID = programID
        self.k = k
        self.overall = overall
        self.cuts = cuts
        self.generatedAt = generatedAt
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, k, overall, cuts, generatedAt }
}

public enum HealthStatus: String, Codable, Hashable, Sendable, CaseIterable {
    case onTrack = "on-track"
    case needsCheckIn = "needs-check-in"
    case atRisk = "at-risk"
}

public struct PairHealth: Codable, Hashable, Sendable {
    public var matchID: UUID
    public var mentorID: UUID
    public var menteeID: UUID
    public var status: HealthStatus
    public var meetingsHeld: Int
    public var lastMeetingAt: Date?
    /// Why, in words.
    public var reasons: [String]

    public init(matchID: UUID, mentorID: UUID, menteeID: UUID, status: HealthStatus, meetingsHeld: Int, lastMeetingAt: Date?, reasons: [String]) {
        self.matchID = matchID
        self.mentorID = mentorID
        self.menteeID = menteeID
        self.status = status
        self.meetingsHeld = meetingsHeld
        self.lastMeetingAt = lastMeetingAt
        self.reasons = reasons
    }

    enum CodingKeys: Int, CodingKey { case matchID = 1, mentorID, menteeID, status, meetingsHeld, lastMeetingAt, reasons }
}

public struct MatchHealthRequest: Codable, Hashable, Sendable {
    public var programID: UUID

    public init(programID: UUID) {
        self.programID = programID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1 }
}

public struct MatchHealthList: Codable, Hashable, Sendable {
    /// At risk first, then needing a check-in, then on track.
    public var pairs: [PairHealth]

    public init(pairs: [PairHealth]) {
        self.pairs = pairs
    }

    enum CodingKeys: Int, CodingKey { case pairs = 1 }
}

public struct ReportExport: Codable, Hashable, Sendable {
    /// `text/csv` (RFC 4180).
    public var contentType: String
    public var csv: String

    public init(contentType: String = "text/csv; charset=utf-8", csv: String) {
        self.contentType = contentType
        self.csv = csv
    }

    enum CodingKeys: Int, CodingKey { case contentType = 1, csv }
}

/// Part of a streamed CSV export: the header first, then rows, each chunk whole lines.
public struct ReportExportChunk: Codable, Hashable, Sendable {
    public var csv: String

    public init(csv: String) {
        self.csv = csv
    }

    enum CodingKeys: Int, CodingKey { case csv = 1 }
}

// MARK: - Settings and erasure

public struct FeedbackSettings: Codable, Hashable, Sendable {
    /// Minimum respondents of a reported group, at least 3 (default 5).
    public var k: Int

    public init(k: Int = 5) {
        self.k = k
    }

    enum CodingKeys: Int, CodingKey { case k = 1 }
}

public struct ErasureReceipt: Codable, Hashable, Sendable {
    public var personID: UUID
    /// Session feedback, survey responses and goals removed.
    public var removed: Int

    public init(personID: UUID, removed: Int) {
        self.personID = personID
        self.removed = removed
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, removed }
}
