import Foundation
import Logging
import TandemStore
import TandemProtocols
import Testing
@testable import IdentityService

@Suite("Identity store: a person's participations are found by the person")
struct IdentityStorePlanTests {
    @Test("the roles read at every sign-in and token refresh, and the skills deleted at erasure, use indexes instead of reading every organisation's rows")
    func participationsByPerson() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try IdentityStore(path: directory + "/identity.sqlite", logger: Logger(label: "test"))
        defer { store.close() }
        for sql in [IdentityStore.participationRolesSQL, IdentityStore.eraseSkillsSQL] {
            let plan = try await store.database.read { connection in
                try connection.query("EXPLAIN QUERY PLAN " + sql, SQLiteValue.blob(Array(repeating: 1, count: 16))).compactMap { $0.text(3) }
            }
            #expect(plan.contains { $0.contains("participations_by_person (person_id=?)") }, "\(sql): \(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(sql): \(plan)")
        }
    }
}

extension IdentityStorePlanTests {
    @Test("a page of a program's participants is one index range in page order, not all of the program's participants sorted", arguments: [nil, ParticipantRole.mentor, .both])
    func participantPages(role: ParticipantRole?) async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try IdentityStore(path: directory + "/identity.sqlite", logger: Logger(label: "test"))
        defer { store.close() }
        for after in [nil, UUID()] {
            let query = IdentityStore.participantsQuery(organisation: UUID(), program: UUID(), role: role, after: after, limit: 100)
            let plan = try await store.database.read { connection in
                try connection.query("EXPLAIN QUERY PLAN " + query.sql, query.values).compactMap { $0.text(3) }
            }
            #expect(plan.first?.contains("participations_by_program (program_id=?") == true, "plan: \(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN") || $0.contains("TEMP B-TREE") }, "plan: \(plan)")
        }
    }
}
