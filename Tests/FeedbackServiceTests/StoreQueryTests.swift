import Foundation
import Logging
import TandemProtocols
import TandemStore
import Testing
@testable import FeedbackService

@Suite("Feedback store: per-match reads stay with the match")
struct FeedbackStoreQueryTests {
    @Test("match health reads each match's latest six ratings, in meeting order, through the match's meetings — not the organisation's feedback")
    func recentRatings() async throws {
        let organisation = UUID(), program = UUID()
        let feeds = MemoryFeeds(organisation: organisation)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let busy = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: UUID(), startedAt: start)
        let quiet = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: UUID(), startedAt: start)
        feeds.put(busy)
        feeds.put(quiet)
        // Eight held meetings for one match, booked out of order; two for the other.
        let days = [5, 1, 8, 3, 7, 2, 6, 4]
        var meetings: [(Meeting, rating: Int, match: Match)] = []
        for (index, day) in days.enumerated() {
            let meeting = FeedSyncTests().meeting(busy, start: start.addingTimeInterval(Double(day) * 86_400), status: .held)
            feeds.put(meeting)
            meetings.append((meeting, 1 + (index % 5), busy))
        }
        for day in [1, 2] {
            let meeting = FeedSyncTests().meeting(quiet, start: start.addingTimeInterval(Double(day) * 86_400), status: .held)
            feeds.put(meeting)
            meetings.append((meeting, 5, quiet))
        }
        let server = try FeedbackServer.open(dataDirectory: temporaryDirectory(), peers: FeedbackPeers(meetings: feeds, matches: feeds), logger: Logger(label: "test"))
        defer { server.close() }
        _ = try await server.syncNow()
        for (meeting, rating, match) in meetings {
            let stored = try #require(try await server.store.meeting(organisation: organisation, id: meeting.id))
            _ = try await server.store.submitSessionFeedback(
                SessionFeedbackInput(meetingID: meeting.id, rating: rating), meeting: stored,
                respondent: Respondent(organisationID: organisation, personID: match.menteeID, role: 1, division: nil), now: meeting.end
            )
        }
        let inputs = try await server.store.healthInputs(organisation: organisation, program: program)
        let byMatch = Dictionary(uniqueKeysWithValues: inputs.map { ($0.0.matchID, $0.1.recentRatings) })
        // The busy match's ratings by day: the last six days (3…8), oldest first.
        let byDay = Dictionary(uniqueKeysWithValues: days.enumerated().map { index, day in (day, 1 + (index % 5)) })
        #expect(byMatch[busy.id] == (3...8).map { byDay[$0]! })
        #expect(byMatch[quiet.id] == [5, 5])

        let plan = try await server.store.database.plan(FeedbackStore.recentRatingsSQL)
        #expect(plan.first?.contains("meetings_by_match (org_id=? AND match_id=?)") == true, "plan: \(plan)")
        #expect(!SQLiteConnection.readsWholeTableOrSorts(plan), "plan: \(plan)")
    }

    @Test("the pending fit-signal count reads the index of pending signals, not every signal ever delivered")
    func pendingCount() async throws {
        let server = try FeedbackServer.open(dataDirectory: temporaryDirectory(), peers: FeedbackPeers(meetings: MemoryFeeds(organisation: UUID()), matches: MemoryFeeds(organisation: UUID())), logger: Logger(label: "test"))
        defer { server.close() }
        let plan = try await server.store.database.plan(FeedbackStore.pendingFitSignalCountSQL)
        #expect(plan.contains { $0.contains("fit_outbox_pending") }, "plan: \(plan)")
        #expect(try await server.store.pendingFitSignalCount() == 0)
    }

    @Test("a person's matches are found as mentor and as mentee through the person indexes, once each, in their organisation only")
    func personMatches() async throws {
        let organisation = UUID(), program = UUID(), person = UUID()
        let feeds = MemoryFeeds(organisation: organisation)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let asMentor = makeMatch(organisation: organisation, program: program, mentor: person, mentee: UUID(), startedAt: start)
        let asMentee = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: person, startedAt: start)
        let others = makeMatch(organisation: organisation, program: program, mentor: UUID(), mentee: UUID(), startedAt: start)
        for match in [asMentor, asMentee, others] { feeds.put(match) }
        let elsewhere = MemoryFeeds(organisation: UUID())
        elsewhere.put(makeMatch(organisation: elsewhere.organisation, program: program, mentor: person, mentee: UUID(), startedAt: start))
        let server = try FeedbackServer.open(dataDirectory: temporaryDirectory(), peers: FeedbackPeers(meetings: feeds, matches: feeds), logger: Logger(label: "test"))
        defer { server.close() }
        _ = try await server.syncNow()
        try await server.store.applyMatchChanges(try await elsewhere.matchChanges(after: 0, limit: 10))
        let found = try await server.store.matches(organisation: organisation, person: person).map(\.matchID)
        #expect(found.count == 2 && Set(found) == [asMentor.id, asMentee.id])

        let plan = try await server.store.database.plan(FeedbackStore.personMatchesSQL)
        #expect(plan.contains { $0.contains("matches_by_mentor (org_id=? AND mentor_id=?)") }, "plan: \(plan)")
        #expect(plan.contains { $0.contains("matches_by_mentee (org_id=? AND mentee_id=?)") }, "plan: \(plan)")
    }

    @Test("erasing a person finds their goals and fit signals through indexes on the person")
    func erasurePlans() async throws {
        let server = try FeedbackServer.open(dataDirectory: temporaryDirectory(), peers: FeedbackPeers(meetings: MemoryFeeds(organisation: UUID()), matches: MemoryFeeds(organisation: UUID())), logger: Logger(label: "test"))
        defer { server.close() }
        for (sql, index) in [(FeedbackStore.eraseGoalsSQL, "goals_by_mentee (org_id=? AND mentee_id=?)"), (FeedbackStore.eraseFitCommentsSQL, "fit_outbox_by_person (org_id=? AND person_id=?)")] {
            let plan = try await server.store.database.plan(sql)
            #expect(plan.contains { $0.contains(index) }, "\(sql): \(plan)")
        }
    }
}
