import Foundation
import TandemProtocols
import Testing
@testable import FeedbackService

@Suite("Feedback: survey schedule, answer rules, match health")
struct SurveyTests {
    let start = Date(timeIntervalSince1970: 1_780_000_000)
    let day: TimeInterval = 86_400

    func match(status: MatchStatus = .active, endedAfterDays: Double? = nil) -> MatchFacts {
        MatchFacts(
            organisationID: UUID(), matchID: UUID(), programID: UUID(), mentorID: UUID(), menteeID: UUID(), status: status.rawValue, startedAt: start,
            endedAt: endedAfterDays.map { start.addingTimeInterval($0 * day) }
        )
    }

    @Test("pulses 30 days after the start, then every 60; the closing survey when the match ends; nothing before it starts")
    func dueDates() {
        #expect(SurveySchedule.due(match(), now: start.addingTimeInterval(29 * day)).isEmpty)
        #expect(SurveySchedule.due(match(), now: start.addingTimeInterval(30 * day)) == [DueSurvey(kind: .pulse, round: 1, dueAt: start.addingTimeInterval(30 * day))])
        let later = SurveySchedule.due(match(), now: start.addingTimeInterval(200 * day))
        #expect(later.map(\.round) == [1, 2, 3] && later.map(\.dueAt) == [30, 90, 150].map { start.addingTimeInterval($0 * day) })
        // Ended after 100 days: pulses 1 and 2, then the closing survey at the end, none after.
        let ended = SurveySchedule.due(match(status: .ended, endedAfterDays: 100), now: start.addingTimeInterval(400 * day))
        #expect(ended == [
            DueSurvey(kind: .pulse, round: 1, dueAt: start.addingTimeInterval(30 * day)), DueSurvey(kind: .pulse, round: 2, dueAt: start.addingTimeInterval(90 * day)),
            DueSurvey(kind: .closing, round: 0, dueAt: start.addingTimeInterval(100 * day)),
        ])
        // A program's own schedule.
        #expect(SurveySchedule.due(match(), firstAfterDays: 14, everyDays: 28, now: start.addingTimeInterval(50 * day)).map(\.round) == [1, 2])
        var proposed = match(status: .proposed)
        proposed.startedAt = nil
        #expect(SurveySchedule.due(proposed, now: start.addingTimeInterval(400 * day)).isEmpty)
    }

    @Test("answers outside their question's range are refused, naming the answer; the standard template measures the three return figures")
    func answerRules() {
        let template = SurveyRules.standard(program: UUID(), kind: .closing)
        #expect(template.questions.compactMap(\.measures) == [.competency, .relationship, .retention])
        let valid = [
            SurveyAnswer(questionID: "competency", value: 5), SurveyAnswer(questionID: "relationship", value: 1), SurveyAnswer(questionID: "stay", value: 4),
            SurveyAnswer(questionID: "recommend", value: 10), SurveyAnswer(questionID: "goals", value: 3), SurveyAnswer(questionID: "comments", text: "thanks"),
        ]
        #expect(SurveyRules.validate(answers: valid, template: template).isEmpty)
        #expect(SurveyRules.measures(answers: valid, template: template) == [.competency: 1, .relationship: 0, .retention: 1])
        let invalid = [
            SurveyAnswer(questionID: "competency", value: 0), SurveyAnswer(questionID: "relationship", value: 6), SurveyAnswer(questionID: "recommend", value: -1),
            SurveyAnswer(questionID: "goals", value: 4), SurveyAnswer(questionID: "comments", value: 3), SurveyAnswer(questionID: "nope", value: 1),
        ]
        let violations = SurveyRules.validate(answers: invalid, template: template)
        #expect(Set(violations.map(\.field)) == ["answers[0].value", "answers[1].value", "answers[2].value", "answers[3].value", "answers[4].value", "answers[5].questionID", "answers"])
        #expect(violations.first { $0.field == "answers" }?.description.contains("'stay' must be answered") == true)
        // Yes/no and NPS ranges.
        let pulse = SurveyRules.standard(program: UUID(), kind: .pulse)
        let yesNo = SurveyRules.validate(answers: Array(valid.prefix(3)) + [SurveyAnswer(questionID: "on-track", value: 2)], template: pulse)
        #expect(yesNo.map(\.field) == ["answers[3].value"])
        // Templates: duplicate ids, a choice without choices, a free-text question measuring a figure.
        let bad = SurveyTemplate(programID: UUID(), kind: .pulse, questions: [
            SurveyQuestion(id: "a", text: "A?", type: .likert), SurveyQuestion(id: "a", text: "A again?", type: .choice),
            SurveyQuestion(id: "b", text: "B?", type: .freeText, measures: .retention),
        ], firstAfterDays: 0)
        #expect(Set(SurveyRules.validate(template: bad).map(\.field)) == ["questions[1].id", "questions[1].choices", "questions[2].measures", "firstAfterDays"])
    }

    @Test("match health from meeting cadence and ratings")
    func health() {
        let now = start.addingTimeInterval(100 * day)
        func assess(_ held: [Double], _ ratings: [Int] = []) -> HealthStatus {
            MatchHealthRules.assess(.init(startedAt: start, heldStarts: held.map { now.addingTimeInterval(-$0 * day) }, recentRatings: ratings), now: now).0
        }
        #expect(assess([10]) == .onTrack)
        #expect(assess([25]) == .needsCheckIn)
        #expect(assess([50]) == .atRisk)
        #expect(assess([]) == .atRisk)
        #expect(assess([5], [2, 2, 3]) == .atRisk)
        #expect(assess([5], [4, 3, 3]) == .needsCheckIn)
        #expect(assess([25], [1, 1, 1]) == .atRisk, "the worse reason wins")
        let young = MatchHealthRules.assess(.init(startedAt: now.addingTimeInterval(-20 * day), heldStarts: [], recentRatings: []), now: now)
        #expect(young.0 == .needsCheckIn && young.1 == ["no meeting yet, 20 days after the match started"])
    }
}
