import Foundation
import Logging
import TandemStore
import Testing
@testable import SchedulingService

@Suite("Scheduling store: a series' occurrences are found through the series")
struct SchedulingStorePlanTests {
    @Test("cancelling a series from a date reads the series' occurrences, not the organisation's upcoming meetings, inside the write transaction")
    func seriesOccurrences() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SchedulingStore(path: directory + "/scheduling.sqlite", checkpointPages: 1000, logger: Logger(label: "test"))
        defer { store.close() }
        let plan = try await store.database.read { try $0.plan(SchedulingStore.seriesOccurrencesFromSQL) }
        #expect(plan.contains { $0.contains("meetings_by_series (series_id=?)") }, "plan: \(plan)")
        #expect(!plan.contains { $0.contains("meetings_by_start") || $0.hasPrefix("SCAN") }, "plan: \(plan)")
    }
}

extension SchedulingStorePlanTests {
    @Test("an erased person's pairs are found through the pair indexes, as mentor and as mentee, not by reading the organisation's pairs in the writer")
    func erasedPersonPairs() async throws {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try SchedulingStore(path: directory + "/scheduling.sqlite", checkpointPages: 1000, logger: Logger(label: "test"))
        defer { store.close() }
        let plan = try await store.database.read { try $0.plan(SchedulingStore.personPairsSQL) }
        #expect(plan.contains { $0.contains("pairs_by_mentor (org_id=? AND mentor_id=?)") }, "plan: \(plan)")
        #expect(plan.contains { $0.contains("pairs_by_mentee (org_id=? AND mentee_id=?)") }, "plan: \(plan)")
    }
}
