import Foundation
import Logging
import Synchronization
import TandemProtocols
import Testing
@testable import FeedbackService

@Suite("Feedback: the survey invitation stream's passes")
struct InvitationPollTests {
    let organisation = UUID()
    let program = UUID()
    let start = Date(timeIntervalSince1970: 1_800_000_000)
    let day = 86_400.0

    func facts(_ match: Match) -> MatchFacts {
        MatchFacts(
            organisationID: organisation, matchID: match.id, programID: program, mentorID: match.mentorID, menteeID: match.menteeID,
            status: "active", startedAt: match.startedAt, endedAt: nil
        )
    }

    func answer(_ server: FeedbackServer, _ match: Match, person: UUID, round: Int, at: Date) async throws {
        let facts = facts(match)
        _ = try await server.store.submitSurvey(
            SurveyResponseInput(matchID: match.id, kind: .pulse, round: round, answers: [SurveyAnswer(questionID: "competency", value: 5)]),
            match: facts, respondent: Respondent(organisationID: organisation, personID: person, role: try #require(facts.role(of: person)), division: nil),
            measures: [.competency: 1], sharedText: nil, now: at
        )
    }

    @Test("each pass sends what fell due and is unanswered, once; a match learnt late still gets its recent ones; an erased person gets none; what is remembered stays in the window")
    func passes() async throws {
        let feeds = MemoryFeeds(organisation: organisation)
        let erasures = MemoryErasures()
        let clock = Mutex(start.addingTimeInterval(31 * day))
        var configuration = FeedbackConfiguration()
        configuration.now = { clock.withLock { $0 } }
        let a = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: UUID(), startedAt: start)
        let b = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: UUID(), startedAt: start.addingTimeInterval(60))
        feeds.put(a)
        feeds.put(b)
        let server = try FeedbackServer.open(
            dataDirectory: temporaryDirectory(), configuration: configuration, peers: FeedbackPeers(meetings: feeds, matches: feeds, erasures: erasures),
            logger: Logger(label: "test")
        )
        defer { server.close() }
        try await server.syncNow()
        func names(_ invitations: [SurveyInvitation]) -> [String] {
            invitations.map { invitation in
                let who = [a.mentorID: "a-mentor", a.menteeID: "a-mentee", b.mentorID: "b-mentor", b.menteeID: "b-mentee"][invitation.personID] ?? "c"
                return "\(who)/\(invitation.round)"
            }
        }

        // Pulse round 1 fell due at day 30; a's mentee answered it already.
        try await answer(server, a, person: a.menteeID, round: 1, at: start.addingTimeInterval(30.5 * day))
        var poll = InvitationPoll(organisation: organisation, since: start)
        let first = try await poll.next(server)
        #expect(names(first).sorted() == ["a-mentor/1", "b-mentee/1", "b-mentor/1"])
        #expect(first.map(\.dueAt) == first.map(\.dueAt).sorted(), "oldest first")
        #expect(first.allSatisfy { $0.id == SurveySchedule.invitationID(match: $0.matchID, person: $0.personID, kind: .pulse, round: 1) })
        #expect(try await poll.next(server).isEmpty, "each invitation once per stream")
        try await answer(server, b, person: b.mentorID, round: 1, at: start.addingTimeInterval(32 * day))
        #expect(try await poll.next(server).isEmpty)

        // Round 2 falls due at day 90. From the second pass the window starts 30 days back, so
        // round 1 is forgotten.
        clock.withLock { $0 = start.addingTimeInterval(91 * day) }
        #expect(names(try await poll.next(server)).sorted() == ["a-mentee/2", "a-mentor/2", "b-mentee/2", "b-mentor/2"])
        #expect(poll.remembered == 4)
        #expect(poll.since == start.addingTimeInterval(61 * day))

        // A match learnt only now, whose round 1 fell due at day 70, before the last pass.
        let c = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: UUID(), startedAt: start.addingTimeInterval(40 * day))
        feeds.put(c)
        try await server.syncNow()
        #expect(names(try await poll.next(server)) == ["c/1", "c/1"])

        // b's mentee is erased; at day 151, round 3 of a and b and round 2 of c (day 130) are due.
        erasures.erase(b.menteeID, organisation: organisation)
        try await server.syncNow()
        clock.withLock { $0 = start.addingTimeInterval(151 * day) }
        let later = try await poll.next(server)
        #expect(names(later).sorted() == ["a-mentee/3", "a-mentor/3", "b-mentor/3", "c/2", "c/2"])
        #expect(later.first?.matchID == c.id, "c's round 2 fell due first")
        #expect(try await poll.next(server).isEmpty)

        // The pass as it used to be (every answer read again) finds the same unanswered ones, and
        // would also offer the erased mentee's.
        #expect(try await server.baselineInvitationPass(organisation: organisation, since: poll.since) == later.count + 1)
    }
}
