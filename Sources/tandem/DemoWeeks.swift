import Foundation
import Synchronization
import TandemProtocols
import TandemRPC
import TandemServiceKit
import TandemRandom

/// Each participant's tokens. Access tokens live 15 minutes of the cluster's time, so after each
/// jump of the dev clock they are refreshed with the refresh token from sign-in (rotated on every
/// use) instead of signing in again, which hashes the password and is slow on purpose.
final class DemoSessions: Sendable {
    private let tokens = Mutex<[UUID: Tokens]>([:])

    func store(_ new: Tokens) {
        tokens.withLock { $0[new.subject] = new }
    }

    func accessToken(_ person: UUID) -> String? {
        tokens.withLock { $0[person]?.accessToken }
    }

    func refreshToken(_ person: UUID) -> String? {
        tokens.withLock { $0[person]?.refreshToken }
    }

    /// When `person`'s refresh token lapses unless used (30 days of the cluster's time).
    func refreshExpires(_ person: UUID) -> Date {
        tokens.withLock { $0[person]?.refreshExpiresAt } ?? .distantPast
    }
}

enum DemoRole: String, Sendable {
    case mentor
    case mentee
}

/// An active match of the demo program with the meetings its pair booked.
struct DemoPair: Sendable {
    /// The mentee's HR id: stable across runs, so each pair draws from its own generator.
    var key: String
    var matchID: UUID
    var mentorID: UUID
    var menteeID: UUID
    var score: Int
    /// The first meeting's summed inconvenience (both participants).
    var inconvenience: Double
    /// By start: the first meeting, then the series.
    var meetings: [PlannedMeeting]

    func role(of person: UUID) -> DemoRole? {
        person == mentorID ? .mentor : person == menteeID ? .mentee : nil
    }

    func person(_ role: DemoRole) -> UUID {
        role == .mentor ? mentorID : menteeID
    }
}

/// What one participant has seen of their pair so far, which colours their answers.
struct DemoExperience: Sendable {
    var marked = 0
    var held = 0
    var ratings: [Int] = []

    var engagement: Double { marked == 0 ? 0 : Double(held) / Double(marked) }
    var averageRating: Double { ratings.isEmpty ? 2.5 : Double(ratings.reduce(0, +)) / Double(ratings.count) }
}

/// How the demo's participants behave, drawn from the seed: whether a meeting takes place,
/// how each side rates it, and whether and how they answer a survey. Better matches and
/// meetings at convenient hours make attendance likelier; better matches, more meetings held and
/// better sessions make positive answers likelier (plain logistic, so the figures the feedback
/// service reports move with the matching and scheduling outcomes). Every draw has its own
/// generator, keyed by the pair's HR id and what is drawn, so the order calls run in does not matter.
struct DemoBehaviour: Sendable {
    var seed: UInt64

    private func generator(_ parts: String...) -> SplitMix64 {
        SplitMix64(seed: seed ^ stableHash(parts.joined(separator: "/")))
    }

    private func fit(_ pair: DemoPair) -> Double { Double(pair.score) / 100 }

    /// Whether the pair's meeting `index` takes place (else it is marked a no-show).
    func held(_ pair: DemoPair, meeting index: Int) -> Bool {
        let chance = min(0.97, max(0.5, 0.78 + 0.25 * (fit(pair) - 0.6) - 0.03 * pair.inconvenience))
        var random = generator(pair.key, "held", String(index))
        return random.chance(chance)
    }

    /// A participant's session rating, 1–5.
    func rating(_ pair: DemoPair, meeting index: Int, by role: DemoRole) -> Int {
        var random = generator(pair.key, "rating", String(index), role.rawValue)
        let noise = Double.random(in: -1...1, using: &random) + Double.random(in: -1...1, using: &random)
        return min(5, max(1, Int((2.9 + 1.9 * fit(pair) + 0.45 * noise).rounded())))
    }

    /// How the first held meeting felt. Never "not a good fit": that ends the match and offers
    /// the mentee a re-match, a story the demo does not tell.
    func pairingFit(rating: Int) -> PairingFit {
        rating >= 3 ? .goodFit : .unsure
    }

    /// The answers to a survey, or nil when the participant leaves it unanswered.
    func answers(
        _ pair: DemoPair, role: DemoRole, kind: SurveyKind, round: Int, template: SurveyTemplate, experience: DemoExperience
    ) -> [SurveyAnswer]? {
        var random = generator(pair.key, role.rawValue, kind.rawValue, String(round))
        let fit = fit(pair)
        let engagement = experience.engagement
        let rating = experience.averageRating - 3.5
        guard random.chance(0.65 + 0.3 * engagement) else { return nil }
        func positive(_ x: Double) -> Bool { random.chance(1 / (1 + exp(-x))) }
        var positives = 0
        var answers: [SurveyAnswer] = []
        for question in template.questions {
            let agrees: Bool
            switch question.measures {
            case .competency: agrees = positive(-2.6 + 3.2 * fit + 2.2 * engagement + 0.8 * rating)
            case .relationship: agrees = positive(-2.4 + 2.6 * fit + 2.3 * engagement + 1.1 * rating)
            case .retention: agrees = positive(-2.6 + 2.4 * fit + 1.9 * engagement + 0.7 * rating)
            case nil: agrees = positive(-1 + 2 * engagement + rating)
            }
            if question.measures != nil && agrees { positives += 1 }
            switch question.type {
            case .likert:
                let value = agrees ? (random.chance(0.45) ? 5 : 4) : (random.chance(0.2) ? 2 : 3)
                answers.append(SurveyAnswer(questionID: question.id, value: value))
            case .yesNo:
                answers.append(SurveyAnswer(questionID: question.id, value: agrees ? 1 : 0))
            case .nps:
                let value = Int((4 + 1.6 * Double(positives) + Double.random(in: -1.5...1.5, using: &random)).rounded())
                answers.append(SurveyAnswer(questionID: question.id, value: min(10, max(0, value))))
            case .choice:
                let count = max(1, question.choices?.count ?? 1)
                let value = Int((Double(count) * (0.3 * fit + 0.5 * engagement + Double.random(in: 0...0.3, using: &random))).rounded(.down))
                answers.append(SurveyAnswer(questionID: question.id, value: min(count - 1, max(0, value))))
            case .freeText:
                if question.required {
                    answers.append(SurveyAnswer(questionID: question.id, text: agrees ? "Worth the time." : "Hard to find the time."))
                }
            }
        }
        return answers
    }
}

/// What the participants did over the weeks, as the demo counts it (the figures the report
/// prints come from the feedback service; these say what was sent to it).
struct DemoLedger: Sendable {
    var experience: [String: DemoExperience] = [:]
    /// The index of each pair's first held meeting (its feedback carries `pairingFit`).
    var firstHeld: [UUID: Int] = [:]
    /// Survey invitations already decided (answered or left unanswered).
    var decided: Set<String> = []
    var held = 0
    var noShows = 0
    var sessionFeedback = 0
    var pulseShown = 0
    var pulseAnswered = 0
    var closingShown = 0
    var closingAnswered = 0

    static func key(_ pair: DemoPair, _ role: DemoRole) -> String { pair.matchID.uuidString + "/" + role.rawValue }
}

/// How the program ended: what the participants did and the feedback service's report.
struct ProgramOutcome: Sendable {
    var weeks: Int
    /// The dev clock's offset and the cluster's time when the report was read.
    var offset: TimeInterval
    var clusterTime: Date
    var booked: Int
    var completed: Int
    var ledger: DemoLedger
    var report: ProgramReport
    var reportEndpoint: String
}

/// The weeks after the first meetings, lived through the services: the dev clock moves to the
/// end of each week of the program, then everyone whose meetings took place that week marks
/// them held or missed, rates them and answers the surveys that `feedback.ListDueSurveys` shows
/// due, each with their own token, through the gateway.
final class DemoProgramRun: Sendable {
    let run: DemoRun
    let clock: DevClock
    let programID: UUID
    let pairs: [DemoPair]
    let sessions: DemoSessions
    let admin: UUID
    let behaviour: DemoBehaviour
    private let ledger = Mutex(DemoLedger())
    private let byMatch: [UUID: DemoPair]

    init(run: DemoRun, clock: DevClock, programID: UUID, pairs: [DemoPair], sessions: DemoSessions, admin: UUID, behaviour: DemoBehaviour) {
        self.run = run
        self.clock = clock
        self.programID = programID
        self.pairs = pairs
        self.sessions = sessions
        self.admin = admin
        self.behaviour = behaviour
        byMatch = Dictionary(uniqueKeysWithValues: pairs.map { ($0.matchID, $0) })
    }

    static let week: TimeInterval = 7 * 86_400

    var progress: ProgressDisplay { run.progress }

    /// Every participant once, in a stable order.
    var participants: [UUID] {
        var seen = Set<UUID>()
        return pairs.flatMap { [$0.menteeID, $0.mentorID] }.filter { seen.insert($0).inserted }
    }

    /// Step 9: week by week from `from` (the Monday the first meetings start) until the last
    /// booked meeting has ended. Returns the number of weeks.
    func runWeeks(from: Date) async throws -> Int {
        let lastEnd = pairs.flatMap(\.meetings).map(\.end).max() ?? from
        let count = max(1, Int((lastEnd.timeIntervalSince(from) / Self.week).rounded(.up)))
        let pulse = try await template(.pulse)
        progress.begin("Running \(count) weeks on the dev clock: meetings, ratings, pulse surveys", total: pairs.map(\.meetings.count).reduce(0, +))
        var previous = Date.distantPast
        for number in 1...count {
            let end = from.addingTimeInterval(Double(number) * Self.week)
            try await moveClock(to: end)
            // The meetings that ended this week, by pair (by their ends, not the clock, so a run
            // that takes longer puts no meeting in another week).
            let due = pairs.compactMap { pair -> (DemoPair, [Int])? in
                let indices = pair.meetings.indices.filter { pair.meetings[$0].end > previous && pair.meetings[$0].end <= end }
                return indices.isEmpty ? nil : (pair, indices)
            }
            previous = end
            var seen = Set<UUID>()
            let actors = due.flatMap { [$0.0.menteeID, $0.0.mentorID] }.filter { seen.insert($0).inserted }
            // Whoever acts this week needs a fresh access token; the others' app keeps their
            // session alive before the refresh token would lapse (30 days unused).
            let idle = participants.filter { !seen.contains($0) && sessions.refreshExpires($0) <= end.addingTimeInterval(Self.week) }
            _ = try await concurrently(actors + idle, limit: 8) { try await self.refresh($0) }
            _ = try await concurrently(due, limit: 8) { try await self.mark($0.0, $0.1) }
            _ = try await concurrently(due, limit: 8) { try await self.giveFeedback($0.0, $0.1) }
            _ = try await concurrently(actors, limit: 8) { try await self.answerDueSurveys(of: $0, kind: .pulse, template: pulse) }
        }
        let counts = ledger.withLock { $0 }
        progress.done(
            "cluster now \(DevClock.describe(offset: clock.offset)); \(counts.held) meetings held, \(counts.noShows) missed, \(counts.sessionFeedback) session ratings, \(counts.pulseAnswered) of \(counts.pulseShown) pulse surveys answered"
        )
        return count
    }

    /// Step 10: the admin completes every match; both sides answer the closing survey once the
    /// feedback service lists it; the report is read when feedback has every held meeting.
    func finish(weeks: Int) async throws -> ProgramOutcome {
        let people = participants
        progress.begin("Completing the matches; closing survey; the feedback report", total: pairs.count + people.count)
        let closing = try await template(.closing)
        _ = try await concurrently(people, limit: 8) { try await self.refresh($0) }
        let adminToken = sessions.accessToken(admin)
        let completed = try await concurrently(pairs, limit: 8) { pair -> Bool in
            let match = try await self.run.call(
                Matching.endMatch, EndMatchRequest(matchID: pair.matchID, outcome: .completed, reason: "the program's \(weeks) weeks are over"), token: adminToken
            )
            self.progress.tick()
            return match.status == .completed
        }.filter { $0 }.count
        // Feedback copies matching's changes every few seconds: the closing survey is due once
        // its copy shows the match completed, i.e. no active pair is left.
        try await waitFor("feedback to see the completed matches", seconds: 30) {
            try await self.run.call(Feedback.matchHealth, MatchHealthRequest(programID: self.programID), token: adminToken).pairs.isEmpty
        }
        _ = try await concurrently(people, limit: 8) { person -> Bool in
            try await self.answerDueSurveys(of: person, kind: .closing, template: closing)
            self.progress.tick()
            return true
        }
        let counts = ledger.withLock { $0 }
        var report = try await run.call(Feedback.programReport, ReportRequest(programID: programID), token: adminToken)
        let deadline = Date().addingTimeInterval(20)
        while (report.overall.meetingsHeld ?? 0) < counts.held && Date() < deadline {
            try await Task.sleep(for: .milliseconds(500))
            report = try await run.call(Feedback.programReport, ReportRequest(programID: programID), token: adminToken)
        }
        progress.done("\(completed) matches completed, \(counts.closingAnswered) of \(counts.closingShown) closing surveys answered")
        return ProgramOutcome(
            weeks: weeks, offset: clock.offset, clusterTime: clock.now(), booked: pairs.map(\.meetings.count).reduce(0, +), completed: completed,
            ledger: counts, report: report, reportEndpoint: run.endpoint
        )
    }

    // MARK: Steps of a week

    /// Moves the dev clock so that the cluster's time is `instant` now, then waits until the
    /// services follow: identity's next access token expires after `instant`.
    func moveClock(to instant: Date) async throws {
        do {
            try DevClock.moveForward(clock.path, to: instant.timeIntervalSince(Date()))
        } catch {
            throw CLIError("\(error)")
        }
        // Each service re-reads the file at most 0.1 s after a change.
        try await Task.sleep(for: .milliseconds(250))
        var expires = try await refresh(admin).accessExpiresAt
        let deadline = Date().addingTimeInterval(5)
        while expires <= instant {
            guard Date() < deadline else {
                throw CLIError(
                    "identity at \(run.endpoint) does not follow the dev clock \(clock.path): its tokens expire at \(DevClockText.isoSeconds(expires)), before the clock's \(DevClockText.isoSeconds(instant)); restart the cluster with this `tandem dev up`"
                )
            }
            try await Task.sleep(for: .milliseconds(200))
            expires = try await refresh(admin).accessExpiresAt
        }
    }

    /// A new access token for `person` (and a new refresh token: the one used stops working).
    @discardableResult
    func refresh(_ person: UUID) async throws -> Tokens {
        guard let refreshToken = sessions.refreshToken(person) else { throw CLIError("no refresh token for \(person): the demo signed them in without one") }
        let tokens = try await run.call(Identity.refresh, RefreshRequest(refreshToken: refreshToken), token: nil, retryUnavailable: false)
        sessions.store(tokens)
        return tokens
    }

    /// The mentee marks each of the pair's meetings that ended this week held or no-show.
    func mark(_ pair: DemoPair, _ indices: [Int]) async throws -> Bool {
        let token = sessions.accessToken(pair.menteeID)
        for index in indices {
            let held = behaviour.held(pair, meeting: index)
            _ = try await run.call(
                Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: pair.meetings[index].id, status: held ? .held : .noShow), token: token
            )
            ledger.withLock { ledger in
                if held {
                    ledger.held += 1
                    if ledger.firstHeld[pair.matchID] == nil { ledger.firstHeld[pair.matchID] = index }
                } else {
                    ledger.noShows += 1
                }
                for role in [DemoRole.mentor, .mentee] {
                    ledger.experience[DemoLedger.key(pair, role), default: DemoExperience()].marked += 1
                    if held { ledger.experience[DemoLedger.key(pair, role), default: DemoExperience()].held += 1 }
                }
            }
            progress.tick()
        }
        return true
    }

    /// Both sides rate each held meeting; the first held one says how the pairing feels.
    func giveFeedback(_ pair: DemoPair, _ indices: [Int]) async throws -> Bool {
        let first = ledger.withLock { $0.firstHeld[pair.matchID] }
        for index in indices where behaviour.held(pair, meeting: index) {
            for role in [DemoRole.mentee, .mentor] {
                let rating = behaviour.rating(pair, meeting: index, by: role)
                let input = SessionFeedbackInput(
                    meetingID: pair.meetings[index].id, rating: rating, pairingFit: index == first ? behaviour.pairingFit(rating: rating) : nil
                )
                _ = try await run.call(Feedback.submitSessionFeedback, input, token: sessions.accessToken(pair.person(role)))
                ledger.withLock { ledger in
                    ledger.sessionFeedback += 1
                    ledger.experience[DemoLedger.key(pair, role), default: DemoExperience()].ratings.append(rating)
                }
            }
        }
        return true
    }

    /// `person` looks at their due surveys and answers those of `kind` they choose to, each
    /// decided the first time it is shown.
    @discardableResult
    func answerDueSurveys(of person: UUID, kind: SurveyKind, template: SurveyTemplate) async throws -> Bool {
        let token = sessions.accessToken(person)
        let due = try await run.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: token)
        // In the pairs' order, not by when each fell due (matches completed concurrently): a
        // report counts each person's latest answer, so the order must not change between runs.
        let invitations = due.invitations.compactMap { invitation in byMatch[invitation.matchID].map { (invitation, $0) } }
            .filter { $0.0.kind == kind }.sorted { ($0.1.key, $0.0.round) < ($1.1.key, $1.0.round) }
        for (invitation, pair) in invitations {
            guard let role = pair.role(of: person) else { continue }
            let (isNew, experience) = ledger.withLock { ledger in
                (ledger.decided.insert(invitation.id).inserted, ledger.experience[DemoLedger.key(pair, role)] ?? DemoExperience())
            }
            guard isNew else { continue }
            let answers = behaviour.answers(pair, role: role, kind: kind, round: invitation.round, template: template, experience: experience)
            if let answers {
                _ = try await run.call(
                    Feedback.submitSurvey, SurveyResponseInput(matchID: pair.matchID, kind: kind, round: invitation.round, answers: answers), token: token
                )
            }
            ledger.withLock { ledger in
                if kind == .pulse {
                    ledger.pulseShown += 1
                    if answers != nil { ledger.pulseAnswered += 1 }
                } else {
                    ledger.closingShown += 1
                    if answers != nil { ledger.closingAnswered += 1 }
                }
            }
        }
        return true
    }

    // MARK: Helpers

    func template(_ kind: SurveyKind) async throws -> SurveyTemplate {
        try await run.call(Feedback.getSurveyTemplate, SurveyTemplateRef(programID: programID, kind: kind), token: sessions.accessToken(admin))
    }

    /// Polls `condition` every 0.5 s; fails naming `what` after `seconds`.
    func waitFor(_ what: String, seconds: Double, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while try await !condition() {
            guard Date() < deadline else { throw CLIError("gave up waiting for \(what) after \(Int(seconds)) s") }
            try await Task.sleep(for: .milliseconds(500))
        }
    }
}
