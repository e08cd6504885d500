import Foundation
import Logging
import TandemStore
import Testing
@testable import SchedulingService

@Suite("Scheduling store: statements that must use their indexes")
struct SchedulingStorePlanTests {
    /// SQLite's plan for a statement on a new scheduling database.
    static func plan(_ sql: String) async throws -> [String] {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SchedulingStore(path: directory + "/scheduling.sqlite", checkpointPages: 1000, logger: Logger(label: "test"))
        defer { store.close() }
        return try await store.database.plan(sql)
    }

    @Test("cancelling a series from a date reads the series' occurrences, not the organisation's upcoming meetings, inside the write transaction")
    func seriesOccurrences() async throws {
        let plan = try await Self.plan(SchedulingStore.seriesOccurrencesFromSQL)
        #expect(plan.contains { $0.contains("meetings_by_series (series_id=?)") }, "plan: \(plan)")
        #expect(!plan.contains { $0.contains("meetings_by_start") || $0.hasPrefix("SCAN") }, "plan: \(plan)")
    }

    @Test("an erased person's pairs are found through the pair indexes, as mentor and as mentee, not by reading the organisation's pairs in the writer")
    func erasedPersonPairs() async throws {
        let plan = try await Self.plan(SchedulingStore.personPairsSQL)
        #expect(plan.contains { $0.contains("pairs_by_mentor (org_id=? AND mentor_id=?)") }, "plan: \(plan)")
        #expect(plan.contains { $0.contains("pairs_by_mentee (org_id=? AND mentee_id=?)") }, "plan: \(plan)")
    }
}
