import Foundation
import Logging
import MatchingService
@testable import SchedulingService
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// Scheduling follows matching's change feed: an accepted match can book without anyone calling
/// `RegisterPair`, an ended one cannot book any more, and a restart resumes from the stored cursor.
@Suite("Scheduling follows matching")
struct PairFollowingTests {
    @Test("an active match becomes a pair; an ended one stops booking; nothing is applied twice after a restart")
    func follow() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let mentor = try await cluster.person("Follow Mentor", division: "Sales", seniority: 7)
            let mentee = try await cluster.person("Follow Mentee")
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: MatchingServiceTests.swift, capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: MatchingServiceTests.swift)
            try await cluster.prepare(program)
            let proposal = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: mentor.id), token: mentee.token)

            let directory = matchingTemporaryDirectory()
            let asScheduling = try cluster.client(as: "scheduling")
            defer { asScheduling.close() }
            let source = RPCMatchChangeFeed(client: asScheduling)
            var scheduling = try SchedulingServer.open(dataDirectory: directory, logger: Logger(label: "test.scheduling"))
            // A proposal is not a pair yet.
            #expect(try await scheduling.syncMatches(source) == 1)
            #expect(try await scheduling.pair(organisation: proposal.organisationID, match: proposal.id) == nil)
            let active = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposal.id, accept: true), token: mentor.token)
            #expect(try await scheduling.syncMatches(source) == 1)
            let pair = try #require(try await scheduling.pair(organisation: active.organisationID, match: active.id))
            #expect(pair.pair == Pair(matchID: active.id, programID: program, mentorID: mentor.id, menteeID: mentee.id, active: true))
            #expect(try await scheduling.syncMatches(source) == 0, "nothing new")

            // A restart resumes from the stored cursor.
            scheduling.close()
            scheduling = try SchedulingServer.open(dataDirectory: directory, logger: Logger(label: "test.scheduling"))
            #expect(try await scheduling.syncMatches(source) == 0)
            _ = try await cluster.call(Matching.endMatch, EndMatchRequest(matchID: active.id, outcome: .completed), token: mentee.token)
            #expect(try await scheduling.syncMatches(source) == 1)
            #expect(try await scheduling.pair(organisation: active.organisationID, match: active.id)?.pair.active == false)
            scheduling.close()
        }
    }
}
