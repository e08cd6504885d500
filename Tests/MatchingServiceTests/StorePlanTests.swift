import Foundation
import Logging
import TandemProtocols
import TandemStore
import Testing
@testable import MatchingService

@Suite("Matching store: listings read only what they return")
struct MatchingStorePlanTests {
    static func store() throws -> (MatchingStore, String) {
        let directory = matchingTemporaryDirectory()
        return (try MatchingStore(path: directory + "/matching.sqlite", logger: Logger(label: "test")), directory)
    }

    @Test(
        "every ListMatches page is index ranges in seq order: the organisation's (organisation, seq), a program's (program, seq), a person's (as mentor, as mentee) merged — never all of the organisation's matches sorted",
        arguments: [false, true], [false, true]
    )
    func listingPlans(program: Bool, person: Bool) async throws {
        let (store, directory) = try Self.store()
        defer { store.close(); try? FileManager.default.removeItem(atPath: directory) }
        for statuses in [[], [MatchStatus.active, .proposed]] as [Set<MatchStatus>] {
            let query = MatchingStore.listMatchesQuery(
                organisation: UUID(), program: program ? UUID() : nil, person: person ? UUID() : nil, statuses: statuses, after: 0, limit: 100
            )
            let plan = try await store.database.plan(query.sql)
            let expected = person
                ? ["matches_by_person_mentor (org_id=? AND mentor_id=? AND seq>?)", "matches_by_person_mentee (org_id=? AND mentee_id=? AND seq>?)"]
                : program ? ["matches_by_program (org_id=? AND program_id=? AND seq>?)"] : ["matches_by_org (org_id=? AND seq>?)"]
            for index in expected {
                #expect(plan.contains { $0.contains(index) }, "plan: \(plan)")
            }
            #expect(!SQLiteConnection.readsWholeTableOrSorts(plan), "plan: \(plan)")
        }
    }

    @Test("a person's listing returns their matches as mentor and as mentee, in seq order, once each, filtered by program and status, from the cursor on")
    func personListing() async throws {
        let (store, directory) = try Self.store()
        defer { store.close(); try? FileManager.default.removeItem(atPath: directory) }
        let organisation = UUID(), other = UUID(), person = UUID(), program = UUID(), otherProgram = UUID()
        // seq 1…8: the person as mentor and as mentee, in two programs and states, among others' matches
        // and another organisation's.
        let rows: [(UUID, UUID, UUID, UUID, MatchStatus)] = [
            (organisation, program, person, UUID(), .active),       // 1 ✓ as mentor
            (organisation, program, UUID(), UUID(), .active),       // 2 someone else's
            (organisation, program, UUID(), person, .proposed),     // 3 ✓ as mentee
            (other, program, person, UUID(), .active),              // 4 another organisation
            (organisation, otherProgram, UUID(), person, .active),  // 5 ✓ other program
            (organisation, program, person, UUID(), .ended),        // 6 ✓ ended
            (organisation, program, UUID(), person, .active),       // 7 ✓
            (organisation, program, person, UUID(), .active),       // 8 ✓
        ]
        try await store.database.write { connection in
            for (index, row) in rows.enumerated() {
                try connection.execute(
                    "INSERT INTO matches (id, org_id, program_id, mentor_id, mentee_id, status, seq, data) VALUES (?, ?, ?, ?, ?, ?, ?, x'00')",
                    UUID(), row.0, row.1, row.2, row.3, row.4.rawValue, index + 1
                )
            }
        }
        func sequences(program: UUID? = nil, statuses: Set<MatchStatus> = [], after: Int64 = 0, limit: Int = 100) async throws -> [Int64] {
            let query = MatchingStore.listMatchesQuery(organisation: organisation, program: program, person: person, statuses: statuses, after: after, limit: limit)
            return try await store.database.read { connection in try connection.query(query.sql, query.values).compactMap { $0.int(0) } }
        }
        #expect(try await sequences() == [1, 3, 5, 6, 7, 8])
        #expect(try await sequences(program: program) == [1, 3, 6, 7, 8])
        #expect(try await sequences(statuses: [.active]) == [1, 5, 7, 8])
        #expect(try await sequences(program: program, statuses: [.active, .proposed]) == [1, 3, 7, 8])
        #expect(try await sequences(after: 3, limit: 2) == [5, 6])
    }
}

extension MatchingStorePlanTests {
    @Test("erasures and withdrawals find a person's matches and participations through the person's indexes")
    func personPlans() async throws {
        let (store, directory) = try Self.store()
        defer { store.close(); try? FileManager.default.removeItem(atPath: directory) }
        for (sql, expected) in [
            (MatchingStore.personMatchesSQL(""), ["matches_by_person_mentor (org_id=? AND mentor_id=?)", "matches_by_person_mentee (org_id=? AND mentee_id=?)"]),
            (MatchingStore.personMatchesSQL(" AND program_id = ?3 AND status = ?4"),
             ["matches_by_mentor (org_id=? AND program_id=? AND mentor_id=? AND status=?)", "matches_by_mentee (org_id=? AND program_id=? AND mentee_id=? AND status=?)"]),
            ("SELECT program_id FROM participants WHERE org_id = ?1 AND person_id = ?2", ["participants_by_person (org_id=? AND person_id=?)"]),
            ("DELETE FROM participants WHERE org_id = ?1 AND person_id = ?2", ["participants_by_person (org_id=? AND person_id=?)"]),
        ] {
            let plan = try await store.database.plan(sql)
            for index in expected { #expect(plan.contains { $0.contains(index) }, "\(sql): \(plan)") }
            #expect(!SQLiteConnection.readsWholeTableOrSorts(plan), "\(sql): \(plan)")
        }
    }
}

extension MatchingStorePlanTests {
    static func match(_ organisation: UUID, _ program: UUID, mentor: UUID, mentee: UUID, status: MatchStatus) -> Match {
        let at = Date(timeIntervalSince1970: 1_800_000_000)
        return Match(
            id: UUID(), organisationID: organisation, programID: program, mentorID: mentor, menteeID: mentee, groupID: nil, status: status, source: .cohort,
            score: 80, parts: [], mentorAccepted: false, menteeAccepted: false, proposedAt: at, expiresAt: nil,
            startedAt: status == .active ? at : nil, endedAt: nil, endReason: nil, notAGoodFit: false, declinedBy: nil, rematchOf: nil, rematchID: nil,
            agreement: nil, version: 1, updatedAt: at
        )
    }

    static func profile(_ person: UUID, _ program: UUID, _ role: ParticipantRole) -> ParticipantProfile {
        ParticipantProfile(
            id: UUID(), personID: person, programID: program, role: role, displayName: "P", division: "D", jobTitle: "J", seniority: 3,
            timeZone: "UTC", languages: ["en"], skillsOffered: [], skillsWanted: [], updatedAt: Date(timeIntervalSince1970: 1_800_000_000), version: 1
        )
    }

    @Test("a participant who leaves the program has their proposals withdrawn — as mentor and as mentee, in that program only; active matches and others' proposals stay")
    func leavingWithdrawsProposals() async throws {
        let (store, directory) = try Self.store()
        defer { store.close(); try? FileManager.default.removeItem(atPath: directory) }
        let organisation = UUID(), program = UUID(), otherProgram = UUID()
        let ada = UUID(), bea = UUID(), cai = UUID(), dan = UUID()
        _ = try await store.replaceParticipants(
            organisation: organisation, program: program,
            [Self.profile(ada, program, .mentor), Self.profile(bea, program, .mentor), Self.profile(cai, program, .both), Self.profile(dan, program, .mentee)],
            now: Date()
        )
        let asMentee = Self.match(organisation, program, mentor: ada, mentee: cai, status: .proposed)
        let asMentor = Self.match(organisation, program, mentor: cai, mentee: dan, status: .proposed)
        let active = Self.match(organisation, program, mentor: bea, mentee: cai, status: .active)
        let others = Self.match(organisation, program, mentor: ada, mentee: dan, status: .proposed)
        let elsewhere = Self.match(organisation, otherProgram, mentor: cai, mentee: UUID(), status: .proposed)
        try await store.database.write { connection in
            for match in [asMentee, asMentor, active, others, elsewhere] { try MatchingStore.write(connection, match) }
        }
        let (removed, withdrawn) = try await store.replaceParticipants(
            organisation: organisation, program: program,
            [Self.profile(ada, program, .mentor), Self.profile(bea, program, .mentor), Self.profile(dan, program, .mentee)], now: Date()
        )
        #expect(removed == 1)
        #expect(Set(withdrawn.map(\.id)) == [asMentee.id, asMentor.id] && withdrawn.count == 2)
        #expect(withdrawn.allSatisfy { $0.status == .ended })
        for (match, status) in [(active, MatchStatus.active), (others, .proposed), (elsewhere, .proposed)] {
            #expect(try await store.match(organisation: organisation, id: match.id)?.status == status)
        }
    }
}
