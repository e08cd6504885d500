import Foundation
import MatchingService
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import Testing

@Suite("Matching: people erased in identity")
struct ErasureTests {
    static let swift = [SkillLevel(name: "Swift", level: 4)]

    @Test("identity's erasure feed ends the person's open matches, strips what came from them, matches them no more, and re-matches the mentee")
    func erasureReachesMatching() async throws {
        let directory = matchingTemporaryDirectory()
        try await withMatchingCluster(directory: directory) { cluster in
            let program = try await cluster.program()
            let best = try await cluster.person("Best Mentor", division: "Sales", seniority: 7)
            let second = try await cluster.person("Second Mentor", division: "Engineering", seniority: 7)
            let mia = try await cluster.person("Mia Mentee")
            let noah = try await cluster.person("Noah Mentee")
            try await cluster.enrol(best.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(second.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(mia.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.enrol(noah.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program)

            // Mia and Best: an active match with an agreement. Noah: a proposal to Second.
            let proposed = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: best.id), token: mia.token)
            #expect(proposed.parts.contains { !$0.detail.isEmpty })
            let active = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposed.id, accept: true), token: best.token)
            let agreed = try await cluster.call(Matching.setAgreement, SetAgreementRequest(
                matchID: active.id, topics: ["career"], boundaries: ["compensation"], cadence: .fortnightly, notes: "Best's notes", version: active.version
            ), token: mia.token)
            let noahs = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: second.id), token: noah.token)

            _ = try await cluster.call(Identity.erasePerson, PersonRef(personID: best.id), token: cluster.admin)
            _ = try await cluster.call(Identity.erasePerson, PersonRef(personID: noah.id), token: cluster.admin)
            // Matching reads the feed with its own certificate, as deployed.
            let feed = RPCErasureFeed(client: cluster.upstream)
            #expect(try await cluster.server.syncErasures(feed) == 2)
            #expect(try await cluster.server.syncErasures(feed) == 0, "the cursor moved with the erasures")
            // Best's profile is in neither the database file (secure delete) nor an old page of the log.
            for file in ["matching.sqlite", "matching.sqlite-wal"] {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/matching/" + file))) ?? Data()
                #expect(bytes.range(of: Data("Best Mentor".utf8)) == nil, "the erased mentor's profile is still in \(file)")
            }

            let ended = try await cluster.call(Matching.getMatch, MatchRef(matchID: active.id), token: cluster.admin)
            #expect(ended.status == .ended && ended.endReason?.contains("erased") == true && ended.endedAt == cluster.clock.now())
            #expect(ended.version == agreed.version + 2, "ended, then linked to the re-match")
            #expect(ended.agreement == nil, "the pair's agreement is gone")
            #expect(ended.parts.allSatisfy { $0.detail.isEmpty } && ended.parts.map(\.points) == agreed.parts.map(\.points) && ended.score == agreed.score,
                    "the score stays, its explanations (from the profiles) go")
            // Mia is offered the mentor left; Best is recommended to nobody.
            let rematch = try await cluster.call(Matching.getMatch, MatchRef(matchID: try #require(ended.rematchID)), token: mia.token)
            #expect(rematch.mentorID == second.id && rematch.source == .rematch && rematch.rematchOf == active.id && rematch.status == .proposed)
            let recommendations = try await cluster.call(Matching.recommend, RecommendRequest(programID: program), token: mia.token)
            #expect(!recommendations.recommendations.contains { $0.mentorID == best.id })
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, menteeID: mia.id, mentorID: best.id), token: cluster.admin)
            }
            // Noah's proposal ends and nobody is offered in his place; Second's place is free again.
            let withdrawn = try await cluster.call(Matching.getMatch, MatchRef(matchID: noahs.id), token: cluster.admin)
            #expect(withdrawn.status == .ended && withdrawn.rematchID == nil)
            // The program's other people are untouched, and the ended matches still count.
            let all = try await cluster.call(Matching.listMatches, ListMatchesRequest(programID: program), token: cluster.admin)
            #expect(Set(all.matches.map(\.id)) == [active.id, noahs.id, rematch.id])

            // Applying the same erasures again (a restart before the cursor was stored) changes nothing.
            let again = try await cluster.server.syncErasures(ReplayedErasures(inner: feed))
            #expect(again == 2)
            #expect(try await cluster.call(Matching.getMatch, MatchRef(matchID: active.id), token: cluster.admin) == ended)
        }
    }
}

/// Identity's feed read from the start, whatever the cursor (a replay).
private struct ReplayedErasures: ErasureFeed {
    let inner: RPCErasureFeed
    func erasures(after: Int, limit: Int) async throws -> ErasurePage {
        try await inner.erasures(after: 0, limit: limit)
    }
}
