import Foundation
import Logging
import TandemProtocols
import TandemStore
import Testing
@testable import MatchingService

@Suite("Matching store: listings read only the caller's organisation")
struct MatchingStorePlanTests {
    /// SQLite's plan for a statement, one line per step.
    static func plan(_ store: MatchingStore, _ query: (sql: String, values: [SQLiteValue])) async throws -> [String] {
        try await store.database.read { connection in
            try connection.query("EXPLAIN QUERY PLAN " + query.sql, query.values).compactMap { $0.text(3) }
        }
    }

    @Test("an organisation's matches without a program are searched by (organisation, seq), not walked across every organisation")
    func organisationListingUsesItsIndex() async throws {
        let directory = matchingTemporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try MatchingStore(path: directory + "/matching.sqlite", logger: Logger(label: "test"))
        defer { store.close() }
        let organisation = UUID()
        for statuses in [[], [MatchStatus.active, .proposed]] as [Set<MatchStatus>] {
            let query = MatchingStore.listMatchesQuery(
                organisation: organisation, program: nil, person: nil, statuses: statuses, after: 0, limit: 100
            )
            let plan = try await Self.plan(store, query)
            #expect(plan.contains { $0.contains("matches_by_org (org_id=? AND seq>?)") }, "plan: \(plan)")
            #expect(!plan.contains { $0.contains("TEMP B-TREE") }, "plan: \(plan)")
        }
    }
}
