import Foundation
import Logging
import Synchronization
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import FeedbackService

/// Identity's erasure feed held in memory.
final class MemoryErasures: ErasureFeed {
    struct State {
        var erasures: [Erasure] = []
        var asked: [Int] = []
        var down = false
    }

    let state = Mutex(State())

    func erase(_ person: UUID, organisation: UUID, at: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        state.withLock { state in
            state.erasures.append(Erasure(sequence: state.erasures.count + 1, organisationID: organisation, personID: person, erasedAt: at))
        }
    }

    func erasures(after: Int, limit: Int) async throws -> ErasurePage {
        try state.withLock { state in
            if state.down { throw RPCError(code: .unavailable, message: "identity is down") }
            state.asked.append(after)
            let page = Array(state.erasures.filter { $0.sequence > after }.prefix(limit))
            return ErasurePage(erasures: page, last: page.last?.sequence ?? after)
        }
    }
}

@Suite("Feedback: following identity's erasures")
struct ErasureSyncTests {
    let organisation = UUID()
    let start = Date(timeIntervalSince1970: 1_800_000_000)

    /// What the store holds of a person: their feedback (with its note), survey answers, and the
    /// match's goals (a mentee's).
    struct Traces: Equatable {
        var sessionFeedback: Bool
        var surveys: Int
        var goals: Int
    }

    func traces(_ server: FeedbackServer, person: UUID, match: MatchFacts, meeting: UUID) async throws -> Traces {
        Traces(
            sessionFeedback: try await server.store.sessionFeedback(organisation: organisation, meeting: meeting, person: person) != nil,
            surveys: try await server.store.answeredSurveys(organisation: organisation, person: person).count,
            goals: try await server.store.goals(organisation: organisation, match: match.matchID).count
        )
    }

    /// Answers for `person` in `match`: feedback with a private note on the meeting, a pulse
    /// survey, and (for the mentee) a goal.
    func answer(_ server: FeedbackServer, person: UUID, match: MatchFacts, meeting: UUID) async throws {
        let stored = try #require(try await server.store.meeting(organisation: organisation, id: meeting))
        let respondent = Respondent(organisationID: organisation, personID: person, role: try #require(match.role(of: person)), division: "Sales")
        _ = try await server.store.submitSessionFeedback(
            SessionFeedbackInput(meetingID: meeting, rating: 4, useful: "useful", privateNote: "only mine"), meeting: stored, respondent: respondent,
            now: start.addingTimeInterval(2 * 86_400)
        )
        _ = try await server.store.submitSurvey(
            SurveyResponseInput(matchID: match.matchID, kind: .pulse, round: 1, answers: [SurveyAnswer(questionID: "competency", value: 5)]),
            match: match, respondent: respondent, measures: [.competency: 1], sharedText: nil, now: start.addingTimeInterval(31 * 86_400)
        )
        if person == match.menteeID {
            _ = try await server.store.setGoal(
                organisation: organisation, Goal(matchID: match.matchID, title: "Lead a design review"), mentee: person, now: start.addingTimeInterval(3 * 86_400)
            )
        }
    }

    @Test("an erasure in identity removes the person's answers, notes and goals; the cursor is stored with them, so a restart neither reapplies nor misses one")
    func erasesAndResumes() async throws {
        let directory = temporaryDirectory()
        let feeds = MemoryFeeds(organisation: organisation)
        let erasures = MemoryErasures()
        let mentor = UUID(), mentee = UUID()
        let match = makeMatch(organisation: organisation, program: UUID(), mentor: mentor, mentee: mentee, startedAt: start)
        feeds.put(match)
        let meeting = Meeting(
            id: UUID(), matchID: match.id, programID: match.programID, participantIDs: [mentor, mentee], start: start.addingTimeInterval(86_400),
            end: start.addingTimeInterval(86_400 + 3600), timeZone: "UTC", status: .held, agenda: nil, videoURL: "https://v.example/r", seriesID: nil,
            occurrence: nil, sequence: 0, cancelReason: nil, version: 1, createdAt: start, updatedAt: start
        )
        feeds.put(meeting)
        var configuration = FeedbackConfiguration()
        configuration.feedPageSize = 1                                  // a page per erasure
        let peers = FeedbackPeers(meetings: feeds, matches: feeds, erasures: erasures)
        let facts = MatchFacts(
            organisationID: organisation, matchID: match.id, programID: match.programID, mentorID: mentor, menteeID: mentee, status: "active", startedAt: start, endedAt: nil
        )
        let everything = Traces(sessionFeedback: true, surveys: 1, goals: 1)
        let nothing = Traces(sessionFeedback: false, surveys: 0, goals: 0)
        do {
            let server = try FeedbackServer.open(dataDirectory: directory, configuration: configuration, peers: peers, logger: Logger(label: "test"))
            defer { server.close() }
            try await server.syncNow()
            try await answer(server, person: mentee, match: facts, meeting: meeting.id)
            try await answer(server, person: mentor, match: facts, meeting: meeting.id)
            #expect(try await traces(server, person: mentee, match: facts, meeting: meeting.id) == everything)

            erasures.erase(UUID(), organisation: UUID())             // someone feedback never heard of
            erasures.erase(mentee, organisation: organisation)
            #expect(try await server.syncNow() == 2)
            #expect(try await traces(server, person: mentee, match: facts, meeting: meeting.id) == nothing)
            // Not in the database file (secure delete) nor in an old page of the write-ahead log.
            for file in ["feedback.sqlite", "feedback.sqlite-wal"] {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))) ?? Data()
                #expect(bytes.range(of: Data("Lead a design review".utf8)) == nil, "the erased mentee's goal is still in \(file)")
            }
            #expect(try await server.store.sessionFeedback(organisation: organisation, meeting: meeting.id, person: mentor)?.privateNote == "only mine")
            #expect(try await server.store.answeredSurveys(organisation: organisation, person: mentor).count == 1, "the mentor keeps theirs")
            #expect(try await server.store.cursor("erasures") == 2)
            #expect(try await server.syncNow() == 0)
            // Erasing again (feedback.ErasePerson after the feed did) is harmless.
            #expect(try await server.store.erase(organisation: organisation, person: mentee) == 0)
            // The erased mentee's token may outlive the erasure: what they send is refused.
            let refused = await expectRPCError(.unauthenticated) { try await answer(server, person: mentee, match: facts, meeting: meeting.id) }
            #expect(refused?.message.contains("was erased") == true)
            await expectRPCError(.unauthenticated) {
                _ = try await server.store.setGoal(organisation: organisation, Goal(matchID: match.id, title: "Again"), mentee: mentee, now: start)
            }
            #expect(try await traces(server, person: mentee, match: facts, meeting: meeting.id) == nothing)
        }
        // While feedback is down: the mentor is erased in identity.
        erasures.erase(mentor, organisation: organisation)
        erasures.state.withLock { $0.asked.removeAll() }
        let server = try FeedbackServer.open(dataDirectory: directory, configuration: configuration, peers: peers, logger: Logger(label: "test"))
        defer { server.close() }
        #expect(try await server.syncNow() == 1)
        #expect(erasures.state.withLock { $0.asked.first } == 2, "resumed from the stored cursor, not from 0")
        #expect(try await traces(server, person: mentor, match: facts, meeting: meeting.id) == nothing)
        #expect(try await server.store.cursor("erasures") == 3)
        // Both stay refused after the restart.
        for person in [mentor, mentee] {
            await expectRPCError(.unauthenticated) { try await answer(server, person: person, match: facts, meeting: meeting.id) }
        }
    }

    @Test("identity being down holds up neither the other feeds nor, later, the erasures")
    func identityDown() async throws {
        let feeds = MemoryFeeds(organisation: organisation)
        let erasures = MemoryErasures()
        let match = makeMatch(organisation: organisation, program: UUID(), mentor: UUID(), mentee: UUID(), startedAt: start)
        feeds.put(match)
        erasures.erase(match.menteeID, organisation: organisation)
        erasures.state.withLock { $0.down = true }
        let server = try FeedbackServer.open(
            dataDirectory: temporaryDirectory(), peers: FeedbackPeers(meetings: feeds, matches: feeds, erasures: erasures), logger: Logger(label: "test")
        )
        defer { server.close() }
        await #expect(throws: RPCError.self) { try await server.syncNow() }
        #expect(try await server.store.match(organisation: organisation, id: match.id)?.status == "active")
        #expect(try await server.store.cursor("erasures") == 0)
        erasures.state.withLock { $0.down = false }
        #expect(try await server.syncNow() == 1)
        #expect(try await server.store.cursor("erasures") == 1)
    }
}
