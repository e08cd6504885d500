import Foundation
import Logging
import Synchronization
import TandemAuth
import TandemProtocols
import TandemWire
import Testing
@testable import FeedbackService

/// A change feed held in memory, compacted like scheduling's: a changed item moves to the end.
final class MemoryFeeds: MeetingFeed, MatchChangeFeed {
    struct State {
        var meetings: [MeetingChange] = []
        var matches: [MatchChange] = []
        var sequence = 0
        var matchingDown = false
        var asked: [Int] = []
    }

    let state = Mutex(State())
    let organisation: UUID

    init(organisation: UUID) {
        self.organisation = organisation
    }

    func put(_ meeting: Meeting) {
        state.withLock { state in
            state.sequence += 1
            state.meetings.removeAll { $0.meeting.id == meeting.id }
            state.meetings.append(MeetingChange(sequence: state.sequence, organisationID: organisation, meeting: meeting))
        }
    }

    func put(_ match: Match) {
        state.withLock { state in
            state.sequence += 1
            state.matches.removeAll { $0.match.id == match.id }
            state.matches.append(MatchChange(sequence: state.sequence, match: match))
        }
    }

    func meetingChanges(after: Int, limit: Int) async throws -> MeetingChangePage {
        state.withLock { state in
            state.asked.append(after)
            let changes = Array(state.meetings.filter { $0.sequence > after }.prefix(limit))
            return MeetingChangePage(changes: changes, last: changes.last?.sequence ?? after)
        }
    }

    func matchChanges(after: Int, limit: Int) async throws -> MatchChangePage {
        try state.withLock { state in
            if state.matchingDown { throw RPCError(code: .unavailable, message: "matching is down") }
            let changes = Array(state.matches.filter { $0.sequence > after }.prefix(limit))
            return MatchChangePage(changes: changes, last: changes.last?.sequence ?? after)
        }
    }
}

@Suite("Feedback: copying match and meeting facts from the feeds")
struct FeedSyncTests {
    func meeting(_ match: Match, start: Date, status: MeetingStatus = .scheduled) -> Meeting {
        Meeting(
            id: UUID(), matchID: match.id, programID: match.programID, participantIDs: [match.mentorID, match.menteeID], start: start,
            end: start.addingTimeInterval(3600), timeZone: "UTC", status: status, agenda: nil, videoURL: "https://v.example/r", seriesID: nil, occurrence: nil,
            sequence: 0, cancelReason: nil, version: 1, createdAt: start, updatedAt: start
        )
    }

    @Test("the cursors are stored with the facts: after a restart the copy resumes where it stopped, and gets every change it missed")
    func resumesAfterRestart() async throws {
        let directory = temporaryDirectory()
        let organisation = UUID()
        let feeds = MemoryFeeds(organisation: organisation)
        let start = Date(timeIntervalSince1970: 1_800_000_000)
        let match = makeMatch(organisation: organisation, program: UUID(), mentor: UUID(), mentee: UUID(), startedAt: start)
        feeds.put(match)
        var first = meeting(match, start: start.addingTimeInterval(86_400))
        feeds.put(first)
        feeds.put(meeting(match, start: start.addingTimeInterval(8 * 86_400)))
        var configuration = FeedbackConfiguration()
        configuration.feedPageSize = 1                                  // several pages per sync
        let peers = FeedbackPeers(meetings: feeds, matches: feeds)
        do {
            let server = try FeedbackServer.open(dataDirectory: directory, configuration: configuration, peers: peers, logger: Logger(label: "test"))
            #expect(try await server.syncNow() == 3)
            #expect(try await server.syncNow() == 0)
            server.close()
        }
        // While feedback is down: the first meeting is held, a third is booked, the match ends.
        first.status = .held
        feeds.put(first)
        let third = meeting(match, start: start.addingTimeInterval(15 * 86_400))
        feeds.put(third)
        var ended = match
        ended.status = .ended
        ended.endedAt = start.addingTimeInterval(20 * 86_400)
        feeds.put(ended)
        feeds.state.withLock { $0.asked.removeAll() }
        let server = try FeedbackServer.open(dataDirectory: directory, configuration: configuration, peers: peers, logger: Logger(label: "test"))
        defer { server.close() }
        #expect(try await server.syncNow() == 3)
        #expect(feeds.state.withLock { $0.asked.first } == 3, "resumed from the stored cursor, not from 0")
        #expect(try await server.store.meeting(organisation: organisation, id: first.id)?.status == "held")
        #expect(try await server.store.meeting(organisation: organisation, id: third.id) != nil)
        #expect(try await server.store.match(organisation: organisation, id: match.id)?.status == "ended")
        #expect(try await server.store.firstHeldMeeting(organisation: organisation, match: match.id) == first.id)
    }

    @Test("one feed down does not hold up the other")
    func feedsAreIndependent() async throws {
        let organisation = UUID()
        let feeds = MemoryFeeds(organisation: organisation)
        let match = makeMatch(organisation: organisation, program: UUID(), mentor: UUID(), mentee: UUID(), startedAt: Date(timeIntervalSince1970: 1_800_000_000))
        let booked = meeting(match, start: Date(timeIntervalSince1970: 1_800_086_400))
        feeds.put(booked)
        feeds.state.withLock { $0.matchingDown = true }
        let server = try FeedbackServer.open(dataDirectory: temporaryDirectory(), peers: FeedbackPeers(meetings: feeds, matches: feeds), logger: Logger(label: "test"))
        defer { server.close() }
        await #expect(throws: RPCError.self) { try await server.syncNow() }
        #expect(try await server.store.meeting(organisation: organisation, id: booked.id) != nil)
        // The meeting's match is known (from the meeting) until matching's feed fills it in.
        #expect(try await server.store.match(organisation: organisation, id: match.id)?.status == "unknown")
        feeds.put(match)
        feeds.state.withLock { $0.matchingDown = false }
        #expect(try await server.syncNow() == 1)
        #expect(try await server.store.match(organisation: organisation, id: match.id)?.status == "active")
    }
}
