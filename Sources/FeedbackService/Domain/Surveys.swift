import Foundation
import TandemProtocols
import TandemWire

/// What feedback knows of a match (from matching's change feed, or a meeting before it).
struct MatchFacts: Sendable, Equatable {
    var organisationID: UUID
    var matchID: UUID
    var programID: UUID
    var mentorID: UUID
    var menteeID: UUID
    /// A `MatchStatus` raw value, or `unknown` while only its meetings have been seen.
    var status: String
    var startedAt: Date?
    var endedAt: Date?

    func role(of person: UUID) -> UInt8? {
        person == mentorID ? 0 : person == menteeID ? 1 : nil
    }
}

/// A survey that falls due for both people of a match.
struct DueSurvey: Sendable, Equatable {
    var kind: SurveyKind
    var round: Int
    var dueAt: Date
}

/// When surveys fall due: pulses `firstAfterDays` after a match starts, then every `everyDays`
/// while it runs; the closing survey when it ends (completed or ended early).
enum SurveySchedule {
    static let defaultFirstAfterDays = 30
    static let defaultEveryDays = 60

    static func due(_ match: MatchFacts, firstAfterDays: Int = defaultFirstAfterDays, everyDays: Int = defaultEveryDays, now: Date) -> [DueSurvey] {
        guard let started = match.startedAt else { return [] }
        var result: [DueSurvey] = []
        let ended = match.status == MatchStatus.completed.rawValue || match.status == MatchStatus.ended.rawValue
        let stop = min(now, ended ? (match.endedAt ?? now) : now)
        var round = 1
        var dueAt = started.addingTimeInterval(Double(firstAfterDays) * 86_400)
        while dueAt <= stop, round <= 1000 {
            result.append(DueSurvey(kind: .pulse, round: round, dueAt: dueAt))
            round += 1
            dueAt = dueAt.addingTimeInterval(Double(max(everyDays, 1)) * 86_400)
        }
        if ended, let endedAt = match.endedAt, endedAt <= now {
            result.append(DueSurvey(kind: .closing, round: 0, dueAt: endedAt))
        }
        return result
    }

    static func invitationID(match: UUID, person: UUID, kind: SurveyKind, round: Int) -> String {
        "\(match.uuidString.lowercased())/\(person.uuidString.lowercased())/\(kind.rawValue)/\(round)"
    }
}

/// One participant's survey of one round: what an invitation is for, without its text id (which
/// costs two UUID strings to build, and is built only for what is sent).
struct InvitationKey: Hashable, Sendable {
    var match: UUID
    var person: UUID
    var kind: SurveyKind
    var round: Int

    var id: String { SurveySchedule.invitationID(match: match, person: person, kind: kind, round: round) }
}

/// A survey that has fallen due for one participant, answered or not.
struct DueInvitation: Sendable {
    var key: InvitationKey
    var programID: UUID
    var dueAt: Date

    func invitation(organisation: UUID) -> SurveyInvitation {
        SurveyInvitation(
            id: key.id, organisationID: organisation, programID: programID, matchID: key.match, personID: key.person,
            kind: key.kind, round: key.round, dueAt: dueAt
        )
    }

    /// Invitations in the order they are listed and sent: oldest first.
    static func sorted(_ due: [DueInvitation], organisation: UUID) -> [SurveyInvitation] {
        due.map { $0.invitation(organisation: organisation) }.sorted { ($0.dueAt, $0.id) < ($1.dueAt, $1.id) }
    }
}

/// The standard templates and the rules answers must keep.
enum SurveyRules {
    typealias Violation = ErrorDetail.FieldViolation

    /// The three return questions, as the article asked them.
    static let returnQuestions = [
        SurveyQuestion(id: "competency", text: "Mentoring has significantly improved my competencies.", type: .likert, required: true, measures: .competency),
        SurveyQuestion(id: "relationship", text: "I have developed a positive relationship with my mentoring partner.", type: .likert, required: true, measures: .relationship),
        SurveyQuestion(id: "stay", text: "Mentoring has increased my wish to stay with the organisation.", type: .likert, required: true, measures: .retention),
    ]

    static func standard(program: UUID, kind: SurveyKind) -> SurveyTemplate {
        var questions = returnQuestions
        questions.append(SurveyQuestion(id: "recommend", text: "How likely are you to recommend the program to a colleague?", type: .nps))
        switch kind {
        case .pulse:
            questions.append(SurveyQuestion(id: "on-track", text: "Are you meeting as often as you planned?", type: .yesNo))
        case .closing:
            questions.append(SurveyQuestion(id: "goals", text: "How many of your goals did you reach?", type: .choice, choices: ["none", "some", "most", "all"]))
        }
        questions.append(SurveyQuestion(id: "comments", text: "Anything else you would like to tell the program team?", type: .freeText))
        return SurveyTemplate(
            programID: program, kind: kind, questions: questions,
            firstAfterDays: kind == .pulse ? SurveySchedule.defaultFirstAfterDays : nil, everyDays: kind == .pulse ? SurveySchedule.defaultEveryDays : nil,
            version: 0
        )
    }

    static func range(_ type: QuestionType, choices: Int) -> ClosedRange<Int>? {
        switch type {
        case .likert: return 1...5
        case .yesNo: return 0...1
        case .nps: return 0...10
        case .choice: return 0...max(choices - 1, 0)
        case .freeText: return nil
        }
    }

    static func validate(template: SurveyTemplate) -> [Violation] {
        var violations: [Violation] = []
        if template.questions.isEmpty || template.questions.count > 50 {
            violations.append(Violation(field: "questions", rule: "length", description: "1–50 questions"))
        }
        var seen = Set<String>()
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-")
        for (index, question) in template.questions.enumerated() {
            let field = "questions[\(index)]"
            if question.id.isEmpty || question.id.count > 40 || !question.id.allSatisfy(allowed.contains) {
                violations.append(Violation(field: field + ".id", rule: "format", description: "1–40 characters of a-z, 0-9 and -"))
            } else if !seen.insert(question.id).inserted {
                violations.append(Violation(field: field + ".id", rule: "unique", description: "'\(question.id)' appears twice"))
            }
            if question.text.isEmpty || question.text.count > 500 {
                violations.append(Violation(field: field + ".text", rule: "length", description: "1–500 characters"))
            }
            if question.type == .choice {
                let count = question.choices?.count ?? 0
                if !(2...20).contains(count) { violations.append(Violation(field: field + ".choices", rule: "length", description: "a choice question has 2–20 choices")) }
            } else if question.choices != nil {
                violations.append(Violation(field: field + ".choices", rule: "absent", description: "only choice questions have choices"))
            }
            if question.measures != nil, question.type != .likert, question.type != .yesNo {
                violations.append(Violation(field: field + ".measures", rule: "type", description: "only likert and yes-no questions measure a return figure"))
            }
        }
        let measured = template.questions.compactMap(\.measures)
        if Set(measured).count != measured.count {
            violations.append(Violation(field: "questions", rule: "unique", description: "each return figure is measured by one question at most"))
        }
        if template.kind == .pulse {
            if let days = template.firstAfterDays, !(1...365).contains(days) { violations.append(Violation(field: "firstAfterDays", rule: "range", description: "must be 1–365")) }
            if let days = template.everyDays, !(7...365).contains(days) { violations.append(Violation(field: "everyDays", rule: "range", description: "must be 7–365")) }
        } else if template.firstAfterDays != nil || template.everyDays != nil {
            violations.append(Violation(field: "everyDays", rule: "absent", description: "only pulse surveys have a schedule"))
        }
        return violations
    }

    /// Answers checked against the template: every value in its question's range.
    static func validate(answers: [SurveyAnswer], template: SurveyTemplate) -> [Violation] {
        var violations: [Violation] = []
        let questions = Dictionary(template.questions.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
        var answered = Set<String>()
        for (index, answer) in answers.enumerated() {
            let field = "answers[\(index)]"
            guard let question = questions[answer.questionID] else {
                violations.append(Violation(field: field + ".questionID", rule: "exists", description: "'\(answer.questionID.prefix(40))' is not a question of this survey"))
                continue
            }
            if !answered.insert(answer.questionID).inserted {
                violations.append(Violation(field: field + ".questionID", rule: "unique", description: "answered twice"))
            }
            if let range = range(question.type, choices: question.choices?.count ?? 0) {
                guard let value = answer.value else {
                    violations.append(Violation(field: field + ".value", rule: "required", description: "a \(question.type.rawValue) answer needs a value"))
                    continue
                }
                if !range.contains(value) {
                    violations.append(Violation(field: field + ".value", rule: "range", description: "must be \(range.lowerBound)–\(range.upperBound), got \(value)"))
                }
                if answer.text != nil { violations.append(Violation(field: field + ".text", rule: "absent", description: "only free-text answers have text")) }
            } else {
                if answer.value != nil { violations.append(Violation(field: field + ".value", rule: "absent", description: "a free-text answer has text, not a value")) }
                if let text = answer.text, text.count > 2000 {
                    violations.append(Violation(field: field + ".text", rule: "length", description: "at most 2000 characters"))
                }
            }
        }
        for question in template.questions where question.required && !answered.contains(question.id) {
            violations.append(Violation(field: "answers", rule: "required", description: "'\(question.id)' must be answered"))
        }
        return violations
    }

    /// The return figures of a set of answers: 1 positive (agree 4–5, or yes), 0 not, -1 unanswered.
    static func measures(answers: [SurveyAnswer], template: SurveyTemplate) -> [ReturnMeasure: Int8] {
        var result: [ReturnMeasure: Int8] = [:]
        let values = Dictionary(answers.map { ($0.questionID, $0.value) }, uniquingKeysWith: { a, _ in a })
        for question in template.questions {
            guard let measure = question.measures, let value = values[question.id] ?? nil else { continue }
            switch question.type {
            case .likert: result[measure] = value >= 4 ? 1 : 0
            case .yesNo: result[measure] = value == 1 ? 1 : 0
            default: break
            }
        }
        return result
    }
}

/// How a pair is doing, from meeting cadence and session ratings.
enum MatchHealthRules {
    struct Input {
        var startedAt: Date
        /// Held meetings' starts.
        var heldStarts: [Date]
        /// Ratings of the pair's most recent meetings, newest last.
        var recentRatings: [Int]
    }

    static func assess(_ input: Input, now: Date) -> (HealthStatus, [String]) {
        let day: TimeInterval = 86_400
        var status = HealthStatus.onTrack
        var reasons: [String] = []
        func worsen(_ to: HealthStatus, _ reason: String) {
            reasons.append(reason)
            if to == .atRisk || status == .onTrack { status = to }
        }
        let age = now.timeIntervalSince(input.startedAt)
        let last = input.heldStarts.max()
        if let last {
            let gap = now.timeIntervalSince(last)
            if gap > 42 * day {
                worsen(.atRisk, "no meeting for \(Int(gap / day)) days")
            } else if gap > 21 * day {
                worsen(.needsCheckIn, "no meeting for \(Int(gap / day)) days")
            }
        } else if age > 28 * day {
            worsen(.atRisk, "no meeting in \(Int(age / day)) days since the match started")
        } else if age > 14 * day {
            worsen(.needsCheckIn, "no meeting yet, \(Int(age / day)) days after the match started")
        }
        let recent = input.recentRatings.suffix(3)
        if !recent.isEmpty {
            let average = Double(recent.reduce(0, +)) / Double(recent.count)
            if average < 2.5 {
                worsen(.atRisk, "low recent session ratings")
            } else if average < 3.5 {
                worsen(.needsCheckIn, "middling recent session ratings")
            }
        }
        if reasons.isEmpty { reasons.append("meeting regularly") }
        return (status, reasons)
    }
}
