import Foundation
import TandemRandom
import TandemTestSupport
import Testing
@testable import TandemStore

private func temporaryPath() -> String {
    Scratch.path("store", suffix: ".sqlite")
}

private let schema = [
    Migration(version: 1, "CREATE TABLE items (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, amount INTEGER NOT NULL CHECK (amount >= 0))"),
    Migration(version: 2, "ALTER TABLE items ADD COLUMN note TEXT"),
]

/// Inserts `writes` rows at once, a write each (so that they share group commits): named
/// `item-<round>-<index>`, with the index as amount and `note`.
private func insertRound(_ database: SQLiteDatabase, round: Int, writes: Int, note: String) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        for index in 0..<writes {
            group.addTask {
                _ = try await database.write { try $0.execute("INSERT INTO items (name, amount, note) VALUES (?, ?, ?)", "item-\(round)-\(index)", index, note) }
            }
        }
        try await group.waitForAll()
    }
}

@Suite("SQLite database")
struct SQLiteDatabaseTests {
    @Test func writesAreReadBackAndSurviveReopening() async throws {
        let path = temporaryPath()
        let database = try SQLiteDatabase(path: path, migrations: schema)
        _ = try await database.write { try $0.execute("INSERT INTO items (name, amount, note) VALUES (?, ?, ?)", "a", 1, "first") }
        let rows = try await database.read { try $0.query("SELECT name, amount, note FROM items") }
        #expect(rows.count == 1)
        #expect(rows[0].text(0) == "a" && rows[0].int(1) == 1 && rows[0].text(2) == "first")
        database.close()
        // Reopening applies no migration twice and keeps the data.
        let reopened = try SQLiteDatabase(path: path, migrations: schema)
        defer { reopened.close() }
        #expect(try await reopened.read { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 1)
        #expect(try await reopened.read { try $0.query("SELECT version FROM schema_migrations ORDER BY version").compactMap { $0.int(0) } } == [1, 2])
        let mode = try await reopened.read { try $0.query("PRAGMA journal_mode")[0].text(0) }
        #expect(mode == "wal")
    }

    @Test("instances opening a new database at the same moment apply each migration once, and all open")
    func concurrentOpeningAppliesEachMigrationOnce() async throws {
        // Twenty migrations and eight openers (as replicas starting together on one volume):
        // each opener reads which migrations are applied, then takes the write lock; without
        // looking again under the lock, a migration another opener applied meanwhile would run
        // twice and fail ("table already exists").
        let migrations = (1...20).map { Migration(version: $0, "CREATE TABLE t\($0) (id INTEGER PRIMARY KEY)") }
        for _ in 0..<3 {
            let path = temporaryPath()
            let opened = try await withThrowingTaskGroup(of: SQLiteDatabase.self) { group in
                for _ in 0..<8 {
                    group.addTask { try SQLiteDatabase(path: path, migrations: migrations, readers: 1) }
                }
                return try await group.reduce(into: []) { $0.append($1) }
            }
            #expect(opened.count == 8)
            let versions = try await opened[0].read { try $0.query("SELECT version FROM schema_migrations ORDER BY version").compactMap { $0.int(0) } }
            #expect(versions == Array(1...20).map(Int64.init))
            for database in opened { database.close() }
        }
    }

    @Test("readNow: reads on the caller's thread in one snapshot, or runs nothing and says so when no inline reader is free; quickRead falls back to a reader thread")
    func readNowRunsInlineOrNotAtAll() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema, inlineReaders: 1)
        _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('a', 1)") }
        #expect(try database.readNow { try $0.query("SELECT amount FROM items WHERE name = 'a'")[0].int(0) } == 1)
        // The body sees one snapshot: a write committed while it runs is not in its second look.
        let (before, after) = try #require(try database.readNow { connection in
            let before = try connection.query("SELECT count(*) FROM items")[0].int(0)
            let writer = try SQLiteConnection(path: database.path, readOnly: false)
            _ = try writer.execute("INSERT INTO items (name, amount) VALUES ('b', 2)")
            return (before, try connection.query("SELECT count(*) FROM items")[0].int(0))
        })
        #expect(before == 1 && after == 1)
        #expect(try database.readNow { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 2, "a new read sees it")
        // The only inline reader is busy (the outer body holds it): the inner call runs nothing.
        var innerRan = false
        let inner: Int64?? = try database.readNow { _ in try database.readNow { _ in innerRan = true; return Int64(1) } }
        #expect(inner == .some(.none) && !innerRan)
        // An error inside is thrown to the caller, and the reader is free again afterwards.
        #expect(throws: SQLiteError.self) { try database.readNow { try $0.query("SELECT nothing FROM nowhere") } }
        #expect(try database.readNow { _ in 7 } == 7)
        // Without inline readers, and once closed, nothing runs.
        let plain = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        #expect(try plain.readNow { _ in 1 } == nil)
        // quickRead reads either way: inline, or on a reader thread.
        #expect(try await plain.quickRead { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 0)
        #expect(try await database.quickRead { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 2)
        plain.close()
        database.close()
        #expect(try database.readNow { _ in 1 } == nil)
    }

    @Test func concurrentWritesAreCommittedInGroups() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        defer { database.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<500 {
                group.addTask {
                    _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES (?, ?)", "item-\(index)", index) }
                }
            }
            try await group.waitForAll()
        }
        let statistics = database.currentStatistics
        #expect(statistics.writes == 500)
        // Fewer transactions (fsyncs) than writes: writes waiting together share a commit.
        #expect(statistics.transactions < 500)
        #expect(statistics.largestBatch > 1)
        #expect(try await database.read { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 500)
    }

    @Test("the log's writes reach the file gathered: a few system calls per commit, not two per page")
    func logWritesAreGathered() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        defer { database.close() }
        let filler = String(repeating: "y", count: 3000)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<400 {
                group.addTask {
                    _ = try await database.write { try $0.execute("INSERT INTO items (name, amount, note) VALUES (?, ?, ?)", "item-\(index)", index, filler) }
                }
            }
            try await group.waitForAll()
        }
        // The writer's log: SQLite writes each frame as two writes, and a commit of many frames
        // here becomes a few.
        let (logWrites, systemWrites) = try await database.write { $0.logWriteCounters }
        #expect(logWrites >= 800, "at least a header and a page per row: \(logWrites)")
        #expect(systemWrites * 4 < logWrites, "\(systemWrites) system calls for \(logWrites) writes")
        #expect(try await database.read { try $0.query("SELECT count(*), sum(length(note)) FROM items")[0].int(1) } == 400 * 3000)
    }

    @Test("a transaction larger than the page cache reads back what it spilled to the log, and commits it intact")
    func aTransactionLargerThanTheCacheIsIntact() async throws {
        let path = temporaryPath()
        let database = try SQLiteDatabase(path: path, migrations: schema, writerCacheMiB: 1)
        // 6,000 rows of 2–4 KB (about 18 MB) in one write: the 1 MiB cache spills pages to the
        // log before the commit, and the transaction reads them back (the UNIQUE index is checked
        // on every insert and the sum at the end reads every row).
        @Sendable func note(_ index: Int) -> String { String(repeating: String(UnicodeScalar(UInt8(97 + index % 26))), count: 2000 + index % 2000) }
        let expected = (0..<6000).reduce(0) { $0 + 2000 + $1 % 2000 }
        let total = try await database.write { connection in
            for index in 0..<6000 {
                try connection.execute("INSERT INTO items (name, amount, note) VALUES (?, ?, ?)", "big-\(index)", index, note(index))
            }
            return try connection.query("SELECT sum(length(note)) FROM items")[0].int(0)
        }
        #expect(total == Int64(expected))
        let rows = try await database.read { try $0.query("SELECT amount, note FROM items ORDER BY amount") }
        #expect(rows.count == 6000)
        #expect(rows.allSatisfy { $0.text(1) == note(Int($0.int(0) ?? -1)) })
        database.close()
        let reopened = try SQLiteDatabase(path: path, migrations: schema)
        defer { reopened.close() }
        #expect(try await reopened.read { try $0.query("PRAGMA integrity_check")[0].text(0) } == "ok")
        #expect(try await reopened.read { try $0.query("SELECT sum(length(note)) FROM items")[0].int(0) } == Int64(expected))
    }

    @Test("background checkpoints copy the log into the database file and the log starts over, with readers busy (syncs in the commit or pipelined)", arguments: [false, true])
    func backgroundCheckpointsKeepTheLogShort(pipelinedSyncs: Bool) async throws {
        let path = temporaryPath()
        let database = try SQLiteDatabase(path: path, migrations: schema, checkpointPages: 64, backgroundCheckpoints: true, pipelinedSyncs: pipelinedSyncs)
        let filler = String(repeating: "x", count: 2000)
        // 4,000 rows of ~2 KB (about 2,000 pages of log in all), written 8 at a time while
        // readers keep reading.
        let reading = Task {
            var reads = 0
            while !Task.isCancelled {
                _ = try await database.read { try $0.query("SELECT count(*) FROM items")[0].int(0) }
                reads += 1
            }
            return reads
        }
        var largestLog: Int64 = 0
        for round in 0..<500 {
            try await insertRound(database, round: round, writes: 8, note: filler)
            let log = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int64) ?? 0
            largestLog = max(largestLog, log)
        }
        reading.cancel()
        #expect(try await reading.value > 0)
        // Without the log starting over it would pass 8 MB; it stays within a few checkpoints' worth.
        #expect(largestLog < 4 << 20, "log grew to \(largestLog) bytes")
        // Pipelined, the commits left their syncs to the sync thread (all but a new log's first).
        let deferred = try await database.write { $0.deferredLogSyncs }
        if pipelinedSyncs { #expect(deferred > 400, "\(deferred) syncs left to the sync thread") } else { #expect(deferred == 0) }
        #expect(try await database.read { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 4000)
        database.close()
        let reopened = try SQLiteDatabase(path: path, migrations: schema)
        defer { reopened.close() }
        #expect(try await reopened.read { try $0.query("SELECT count(*), sum(length(note)) FROM items")[0].int(1) } == 4000 * 2000)
        #expect(try await reopened.read { try $0.query("PRAGMA integrity_check")[0].text(0) } == "ok")
    }

    @Test("a log that starts over is written over as it is, not cut back (cutting a large log back stalled every write): the limit is twice the log's cap, at least 64 MiB")
    func aLogThatStartsOverIsReused() async throws {
        // The limit reaches SQLite: scheduling's default (1 GiB cap) and a small store.
        for (pages, background, limit) in [(65_536, true, Int64(2) << 30), (1000, false, Int64(64) << 20), (20_000, true, Int64(20_000 * 4 * 2 * 4096))] {
            let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema, checkpointPages: pages, backgroundCheckpoints: background)
            #expect(try await database.write { try $0.first("PRAGMA journal_size_limit")?.int(0) } == limit)
            database.close()
        }
        // A log of ~100 MB (past the old 64 MiB limit) that starts over: the file keeps its size.
        let path = temporaryPath()
        let database = try SQLiteDatabase(path: path, migrations: schema, checkpointPages: 20_000, backgroundCheckpoints: true, pipelinedSyncs: true)
        defer { database.close() }
        /// The log file's size and its header's checkpoint sequence (bytes 12–15, one more each time the log starts over).
        func log() throws -> (size: Int64, restarts: UInt32) {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path + "-wal"))
            defer { try? handle.close() }
            let header = [UInt8](try handle.read(upToCount: 16) ?? Data())
            let size = try handle.seekToEnd()
            guard header.count == 16 else { return (Int64(size), 0) }
            return (Int64(size), header[12...15].reduce(0) { $0 << 8 | UInt32($1) })
        }
        let note = String(repeating: "n", count: 16_000)
        var largest: Int64 = 0
        var cutBack: (from: Int64, to: Int64)?
        var restartedAfterPeak = false
        let first = try log().restarts
        for round in 0..<1000 {
            try await insertRound(database, round: round, writes: 16, note: note)
            let now = try log()
            if now.size < largest && cutBack == nil { cutBack = (largest, now.size) }
            largest = max(largest, now.size)
            // Written over after a start past 64 MiB: the first commit after the start is where SQLite cut it back.
            if now.restarts != first && largest > 70 << 20 {
                restartedAfterPeak = true
                if round % 16 == 15 { break }
            }
        }
        #expect(cutBack == nil, "the log was cut back from \(cutBack?.from ?? 0) to \(cutBack?.to ?? 0) bytes")
        #expect(restartedAfterPeak, "the log never started over past 64 MiB (largest \(largest) bytes)")
        #expect(largest < 20_000 * 5 * 4120, "the log grew to \(largest) bytes")
        #expect(try await database.read { try $0.query("PRAGMA integrity_check")[0].text(0) } == "ok")
    }

    #if os(Linux)
    @Test("the store's threads carry their names in the operating system (top -H, perf)")
    func threadNames() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema, backgroundCheckpoints: true, pipelinedSyncs: true)
        defer { database.close() }
        // Every thread has started once each has run something (the writer, a reader); the
        // background threads name themselves as they start.
        _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('a', 1)") }
        _ = try await database.read { try $0.query("SELECT count(*) FROM items") }
        var names: Set<String> = []
        for _ in 0..<100 {
            let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
            names = Set(tasks.compactMap { try? String(contentsOfFile: "/proc/self/task/\($0)/comm", encoding: .utf8).trimmingCharacters(in: .newlines) })
            if names.isSuperset(of: ["sqlite-writer-0", "sqlite-reader-0", "sqlite-checkpoi", "sqlite-sync"]) { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(names.isSuperset(of: ["sqlite-writer-0", "sqlite-reader-0", "sqlite-checkpoi", "sqlite-sync"]), "\(names.sorted())")
    }
    #endif

    @Test("the writer copies the end of the log itself only once a background pass left little behind, or once the log is four times the checkpoint size")
    func checkpointPolicy() {
        let policy = CheckpointPolicy(checkpointPages: 1000)
        #expect(policy.largestLog == 4000)
        policy.passRequested(logPages: 1000)
        // 1,500 pages appended while the pass ran: one more pass.
        #expect(!policy.writerShouldCopy(logPages: 2500))
        policy.passRequested(logPages: 2500)
        #expect(!policy.writerShouldCopy(logPages: 2500 + CheckpointPolicy.smallRemainder + 1))
        policy.passRequested(logPages: 2800)
        // Little appended meanwhile: the writer's copy is short.
        #expect(policy.writerShouldCopy(logPages: 2800 + CheckpointPolicy.smallRemainder))
        // Writes outrunning the passes: the writer copies at the cap, whatever is left.
        policy.passRequested(logPages: 3000)
        #expect(!policy.writerShouldCopy(logPages: 3999))
        #expect(policy.writerShouldCopy(logPages: 4000))
    }

    @Test("the sync thread answers groups in commit order, a group that left no sync after the sync before it; a failed sync fails its group and every later one, and stays")
    func logSyncerOrderAndFailure() async throws {
        let path = temporaryPath()
        _ = FileManager.default.createFile(atPath: path, contents: Data("log".utf8))
        let syncer = SQLiteLogSyncer(logger: .init(label: "test"))
        syncer.start()
        let answers = Answers()
        func group(_ name: String, descriptor: Int32?, outcome: Result<Void, any Error> = .success(())) -> SQLiteLogSyncer.Group {
            .init(descriptor: descriptor, completions: [{ result in answers.append(name, result) }], outcome: outcome)
        }
        struct CommitFailed: Error {}
        syncer.enqueue(group("synced", descriptor: open(path, O_RDONLY)))
        syncer.enqueue(group("read only", descriptor: nil))
        syncer.enqueue(group("rolled back", descriptor: nil, outcome: .failure(CommitFailed())))
        // A failed sync fails every group it was to cover: let these be answered first.
        for _ in 0..<500 where answers.all.count < 3 { try await Task.sleep(for: .milliseconds(10)) }
        // A descriptor that is not open: fdatasync fails (EBADF), as on a disk error.
        syncer.enqueue(group("failed", descriptor: 1_000_000))
        syncer.enqueue(group("after the failure", descriptor: nil))
        syncer.stop()
        let results = answers.all
        #expect(results.map(\.0) == ["synced", "read only", "rolled back", "failed", "after the failure"])
        #expect(results.map(\.1) == [true, true, false, false, false])
        // The writer refuses every write once the sync thread has failed.
        #expect(String(describing: syncer.failed.map { "\($0)" } ?? "none").contains("cannot sync the write-ahead log"))
    }

    @Test("a write whose savepoint journal outgrows its block in memory (and goes to a file) still rolls back whole, beside writes that commit")
    func largeWritesRollBackWhole() async throws {
        let path = temporaryPath()
        let database = try SQLiteDatabase(path: path, migrations: schema)
        let note = String(repeating: "n", count: 1000)
        // ~12 MB of rows: every page of the table is changed by the writes below.
        for round in 0..<4 { try await insertRound(database, round: round, writes: 3000, note: note) }
        struct Refused: Error {}
        // Both in one group commit, most likely; in any case each alone decides its outcome.
        let failing = Task {
            try await database.write { connection in
                try connection.execute("UPDATE items SET note = upper(note), amount = amount + 1")
                throw Refused()
            }
        }
        let small = Task { try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('beside', 1)") } }
        await #expect(throws: Refused.self) { try await failing.value }
        #expect(try await small.value == 1)
        let unchanged = try await database.read { try $0.first("SELECT count(*), sum(amount), sum(note = ?) FROM items", note) }
        #expect(unchanged?.int(0) == 12_001 && unchanged?.int(1) == 4 * (2999 * 3000 / 2) + 1 && unchanged?.int(2) == 12_000)
        // The same change, committed.
        try await database.write { _ = try $0.execute("UPDATE items SET amount = amount + 1 WHERE name != 'beside'") }
        #expect(try await database.read { try $0.first("SELECT sum(amount) FROM items") }?.int(0) == 4 * (2999 * 3000 / 2) + 12_000 + 1)
        database.close()
        for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: path + suffix) }
    }

    @Test("every bindable type binds as its SQLite value and reads back the same, each way of binding alike")
    func bindingRoundTrips() throws {
        let path = temporaryPath()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let connection = try SQLiteConnection(path: path, readOnly: false)
        try connection.executeScript("CREATE TABLE t (n INTEGER, v)")
        let id = UUID()
        let text = "é 夜 \u{1F600} " + String(repeating: "long ", count: 20)
        let values: [(any SQLiteBindable, SQLiteValue)] = [
            (42, .integer(42)), (Int64.min, .integer(.min)), (true, .integer(1)), (false, .integer(0)), (2.5, .real(2.5)),
            (text, .text(text)), ("", .text("")), ([UInt8]([0, 1, 255]), .blob([0, 1, 255])), (Data([7, 0, 9]), .blob([7, 0, 9])),
            (id, .blob(withUnsafeBytes(of: id.uuid) { Array($0) })), (UUID?.none, .null), (Optional(id), .blob(withUnsafeBytes(of: id.uuid) { Array($0) })),
            (String?.none, .null), (Optional("x"), .text("x")), (SQLiteValue.null, .null), (SQLiteValue.blob([]), .blob([])),
            (SQLiteValue.integer(-3), .integer(-3)), (SQLiteValue.real(-0.5), .real(-0.5)), (SQLiteValue.text("t"), .text("t")),
        ]
        for (index, (value, expected)) in values.enumerated() {
            // Bound as itself, and through its `sqliteValue`: both store the same thing.
            try connection.execute("INSERT INTO t (n, v) VALUES (?, ?)", index * 2, value)
            try connection.execute("INSERT INTO t (n, v) VALUES (?, ?)", index * 2 + 1, value.sqliteValue)
            #expect(value.sqliteValue == expected, "\(index)")
        }
        let rows = try connection.query("SELECT v FROM t ORDER BY n")
        #expect(rows.count == values.count * 2)
        for (index, (_, expected)) in values.enumerated() {
            // An empty blob reads back as an empty blob or NULL depending on SQLite; compare what was stored.
            #expect(rows[index * 2][0] == rows[index * 2 + 1][0], "\(index)")
            if case .blob(let bytes) = expected, bytes.isEmpty { continue }
            #expect(rows[index * 2][0] == expected, "\(index)")
        }
        #expect(try connection.first("SELECT v FROM t WHERE v = ?", id)?.uuid(0) == id)
    }

    @Test("prepared statements are kept up to a limit; past it the idle ones go, and one in the middle of its rows stays usable")
    func statementCacheIsBounded() throws {
        let connection = try SQLiteConnection(path: temporaryPath(), readOnly: false)
        try connection.executeScript("CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (1), (2), (3)")
        let limit = SQLiteConnection.maxCachedStatements
        for index in 0..<(limit + 50) {
            #expect(try connection.first("SELECT x + \(index) FROM t WHERE x = ?", 1)?.int(0) == Int64(1 + index))
            #expect(connection.cachedStatements <= limit)
        }
        // The outer statement is stepping through its rows while its body fills the cache again.
        var seen: [Int64] = []
        var next = limit + 50
        try connection.forEachRow("SELECT x FROM t ORDER BY x", []) { row in
            seen.append(row.int(0) ?? 0)
            for _ in 0..<limit {
                _ = try connection.first("SELECT \(next)")
                next += 1
            }
        }
        #expect(seen == [1, 2, 3])
        #expect(connection.cachedStatements <= limit + 1)
    }

    @Test("after a failed sync the writer runs no more writes: each fails with the sync's error and changes nothing")
    func aFailedSyncStopsTheWriter() async throws {
        let connection = try SQLiteConnection(path: temporaryPath(), readOnly: false)
        try connection.executeScript("PRAGMA journal_mode=WAL; CREATE TABLE t (x INTEGER)")
        let syncer = SQLiteLogSyncer(logger: .init(label: "test"))
        syncer.start()
        // A descriptor that is not open: fdatasync fails (EBADF), as on a disk error.
        syncer.enqueue(.init(descriptor: 1_000_000, completions: [], outcome: .success(()), ticket: 1))
        for _ in 0..<500 where syncer.failed == nil { try await Task.sleep(for: .milliseconds(10)) }
        #expect(syncer.failed != nil)
        let worker = SQLiteWorker(name: "test-writer", connections: [connection], mode: .groupCommit(maxBatch: 8))
        worker.syncer = syncer
        worker.start()
        let outcome = await withCheckedContinuation { (continuation: CheckedContinuation<Result<Void, any Error>, Never>) in
            worker.enqueue(SQLiteJob(run: { connection in
                let inserted = (try? connection.execute("INSERT INTO t (x) VALUES (1)")) != nil
                return (inserted, { continuation.resume(returning: $0) })
            }, fail: { continuation.resume(returning: .failure($0)) }))
        }
        worker.stop()
        syncer.stop()
        guard case .failure(let error) = outcome else {
            Issue.record("a write was acknowledged after the log could not be synced")
            return
        }
        #expect("\(error)".contains("cannot sync the write-ahead log"))
        #expect(try connection.query("SELECT count(*) FROM t")[0].int(0) == 0)
    }

    @Test("a durable read answers only after the groups it may have seen are answered; with pipelined syncs it reads what was written")
    func durableReadsWaitForTheSync() async throws {
        let syncer = SQLiteLogSyncer(logger: .init(label: "test"))
        syncer.start()
        let answers = Answers()
        // A reader that saw group 2 waits for it; group 1 alone does not release it.
        let reader = Task {
            await syncer.waitUntilDurable(2)
            answers.append("read", .success(()))
        }
        syncer.enqueue(.init(descriptor: nil, completions: [{ answers.append("group 1", $0) }], outcome: .success(()), ticket: 1))
        for _ in 0..<500 where answers.all.count < 1 { try await Task.sleep(for: .milliseconds(10)) }
        syncer.enqueue(.init(descriptor: nil, completions: [{ answers.append("group 2", $0) }], outcome: .success(()), ticket: 2))
        await reader.value
        #expect(answers.all.map(\.0) == ["group 1", "group 2", "read"])
        // Already durable: no wait.
        await syncer.waitUntilDurable(1)
        syncer.stop()

        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema, checkpointPages: 64, backgroundCheckpoints: true, pipelinedSyncs: true)
        defer { database.close() }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                group.addTask { _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES (?, ?)", "item-\(index)", index) } }
            }
            try await group.waitForAll()
        }
        #expect(try await database.durableRead { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 200)
    }

    @Test("the page cache: commits truncate it without walking it, and a small cache under growth, failed writes and rollbacks keeps every row right")
    func pageCacheTruncationKeepsTheDataRight() async throws {
        let path = temporaryPath()
        // A 1 MiB writer cache (256 pages) under a table that grows to thousands of pages: pages
        // are evicted and fetched again all the time.
        let database = try SQLiteDatabase(path: path, migrations: schema, writerCacheMiB: 1)
        let before = SQLiteConnection.pageCacheTruncations
        var generator = SplitMix64(seed: 99)
        var expected: [String: Int] = [:]
        for round in 0..<60 {
            let rows = (0..<40).map { index in ("r\(round)-\(index)-\(generator.next() % 1_000_000)", Int(generator.next() % 500)) }
            // Every fifth write fails after inserting: its savepoint rolls back, the others stay.
            try await withThrowingTaskGroup(of: Bool.self) { group in
                for (offset, row) in rows.enumerated() {
                    let fails = offset % 5 == 0
                    group.addTask {
                        do {
                            try await database.write { connection in
                                try connection.execute("INSERT INTO items (name, amount, note) VALUES (?, ?, ?)", row.0, row.1, String(repeating: "n", count: 300 + row.1))
                                if fails { throw CancellationError() }
                            }
                            return true
                        } catch is CancellationError {
                            return false
                        }
                    }
                }
                for try await _ in group {}
            }
            for (offset, row) in rows.enumerated() where offset % 5 != 0 { expected[row.0] = row.1 }
            if round % 10 == 9 {
                // A batch of deletes, in one write.
                let gone = Array(expected.keys.sorted().prefix(50))
                try await database.write { connection in
                    for name in gone { try connection.execute("DELETE FROM items WHERE name = ?", name) }
                }
                for name in gone { expected[name] = nil }
            }
        }
        let stored = try await database.read { try $0.query("SELECT name, amount FROM items") }
        #expect(stored.count == expected.count)
        #expect(Dictionary(uniqueKeysWithValues: stored.map { ($0.text(0) ?? "", Int($0.int(1) ?? -1)) }) == expected)
        #expect(try await database.read { try $0.query("PRAGMA integrity_check")[0].text(0) } == "ok")
        let after = SQLiteConnection.pageCacheTruncations
        #expect(after.fast > before.fast, "commits truncated the cache without walking it")
        database.close()
        let reopened = try SQLiteDatabase(path: path, migrations: schema)
        defer { reopened.close() }
        #expect(try await reopened.read { try $0.query("SELECT count(*), sum(amount) FROM items")[0].int(1) } == Int64(expected.values.reduce(0, +)))
    }

    @Test func aFailingWriteRollsBackOnlyItself() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        defer { database.close() }
        struct Refused: Error {}
        let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<200 {
                group.addTask {
                    do {
                        try await database.write { connection in
                            try connection.execute("INSERT INTO items (name, amount) VALUES (?, ?)", "n\(index)", index)
                            if index % 2 == 1 {
                                // Half the writes change something, then fail: their change must vanish.
                                try connection.execute("UPDATE items SET amount = amount + 1000 WHERE name = ?", "n\(index)")
                                throw Refused()
                            }
                        }
                        return true
                    } catch is Refused {
                        return false
                    }
                }
            }
            return try await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 100)
        let rows = try await database.read { try $0.query("SELECT name, amount FROM items ORDER BY amount") }
        #expect(rows.count == 100)
        #expect(rows.allSatisfy { ($0.int(1) ?? 0) % 2 == 0 && ($0.int(1) ?? 0) < 1000 })
    }

    @Test func constraintViolationsAreReportedAsSuch() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        defer { database.close() }
        _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('x', 1)") }
        await #expect {
            _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('x', 2)") }
        } throws: { ($0 as? SQLiteError)?.isConstraintViolation == true }
        await #expect {
            _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('y', -1)") }
        } throws: { ($0 as? SQLiteError)?.isConstraintViolation == true }
        #expect(try await database.read { try $0.query("SELECT count(*) FROM items")[0].int(0) } == 1)
    }

    @Test func valuesOfEveryTypeRoundTrip() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: [
            Migration(version: 1, "CREATE TABLE v (i INTEGER, r REAL, t TEXT, b BLOB, u BLOB, n TEXT)"),
        ])
        defer { database.close() }
        let id = UUID()
        _ = try await database.write {
            try $0.execute("INSERT INTO v VALUES (?, ?, ?, ?, ?, ?)", Int64.min, 2.5, "héllo", [UInt8](arrayLiteral: 0, 255), id, String?.none)
        }
        let row = try #require(try await database.read { try $0.first("SELECT i, r, t, b, u, n FROM v") })
        #expect(row.int(0) == Int64.min && row.double(1) == 2.5 && row.text(2) == "héllo")
        #expect(row.blob(3) == [0, 255] && row.uuid(4) == id && row[5] == .null)
    }

    @Test("secure delete and a truncating checkpoint leave no trace of deleted data in the files")
    func secureDeleteAndCheckpoint() async throws {
        func contains(_ path: String, _ secret: String) -> Bool {
            ["", "-wal"].contains { FileManager.default.contents(atPath: path + $0)?.range(of: Data(secret.utf8)) != nil }
        }
        for secure in [false, true] {
            let path = temporaryPath()
            let database = try SQLiteDatabase(path: path, migrations: schema, secureDelete: secure)
            defer { database.close() }
            _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES (?, 1), ('other', 2)", "Quetzalcoatl-\(secure)") }
            #expect(contains(path, "Quetzalcoatl-\(secure)"))
            _ = try await database.write { try $0.execute("DELETE FROM items WHERE name LIKE 'Quetzalcoatl%'") }
            #expect(try await database.checkpoint())
            #expect(FileManager.default.contents(atPath: path + "-wal")?.count ?? 0 == 0, "the log is truncated")
            // Without secure delete the deleted row can still be read from the file; with it, not.
            #expect(contains(path, "Quetzalcoatl-\(secure)") == !secure)
        }
    }

    @Test func aClosedDatabaseRefusesWork() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        database.close()
        await #expect(throws: SQLiteError.self) { _ = try await database.write { try $0.execute("SELECT 1") } }
    }

    @Test func anUnwritablePathIsAClearError() {
        #expect(throws: SQLiteError.self) { try SQLiteDatabase(path: "/nonexistent/dir/db.sqlite", migrations: schema) }
    }
}

/// What the sync thread answered, in order (written from that thread, read after it stopped).
private final class Answers: @unchecked Sendable {
    private let lock = NSLock()
    private var answers: [(String, Bool)] = []

    func append(_ name: String, _ result: Result<Void, any Error>) {
        lock.withLock {
            if case .success = result { answers.append((name, true)) } else { answers.append((name, false)) }
        }
    }

    var all: [(String, Bool)] { lock.withLock { answers } }
}

@Suite("SQLite plans")
struct SQLitePlanTests {
    @Test("a statement's plan is read without running it, and a whole-table read or a sort is told apart from an index search")
    func plans() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: schema)
        defer { database.close() }
        _ = try await database.write { try $0.execute("INSERT INTO items (name, amount) VALUES ('kept', 1)") }
        let (byName, byAmount, sorted) = try await database.read { connection in
            _ = try connection.plan("DELETE FROM items")
            return (
                try connection.plan("SELECT amount FROM items WHERE name = ?"),
                try connection.plan("SELECT name FROM items WHERE amount = ?"),
                try connection.plan("SELECT name FROM items WHERE id > ? ORDER BY amount")
            )
        }
        #expect(byName.contains { $0.contains("SEARCH items USING") && $0.contains("(name=?)") } && !SQLiteConnection.readsWholeTableOrSorts(byName))
        #expect(byAmount == ["SCAN items"] && SQLiteConnection.readsWholeTableOrSorts(byAmount))
        #expect(sorted.contains { $0.contains("TEMP B-TREE") } && SQLiteConnection.readsWholeTableOrSorts(sorted))
        // Planning the DELETE ran nothing.
        #expect(try await database.read { try $0.first("SELECT count(*) FROM items")?.int(0) } == 1)
        #expect(!SQLiteConnection.readsWholeTableOrSorts(["SCAN CONSTANT ROW"]) && !SQLiteConnection.readsWholeTableOrSorts(["SCAN 2 CONSTANT ROWS"]))
    }
}

@Suite("Pair SQL")
struct PairSQLTests {
    @Test("a person's rows come back once each, as mentor and as mentee (and once when both), through the two people indexes, with the shared conditions on both halves")
    func eitherSide() async throws {
        let database = try SQLiteDatabase(path: temporaryPath(), migrations: [Migration(version: 1, """
            CREATE TABLE pairs (id INTEGER PRIMARY KEY, org TEXT NOT NULL, mentor_id TEXT NOT NULL, mentee_id TEXT NOT NULL);
            CREATE INDEX pairs_by_mentor ON pairs (org, mentor_id);
            CREATE INDEX pairs_by_mentee ON pairs (org, mentee_id);
            """)])
        defer { database.close() }
        try await database.write { connection in
            for (id, org, mentor, mentee) in [(1, "a", "ann", "bob"), (2, "a", "cat", "ann"), (3, "a", "ann", "ann"), (4, "a", "cat", "bob"), (5, "b", "ann", "dan")] {
                try connection.execute("INSERT INTO pairs VALUES (?, ?, ?, ?)", id, org, mentor, mentee)
            }
        }
        let sql = PairSQL.eitherSide(select: "id", from: "pairs", where: "org = ?1", person: "?2")
        let ids = try await database.read { try $0.query(sql, "a", "ann").compactMap { $0.int(0) } }
        #expect(ids.sorted() == [1, 2, 3])
        let plan = try await database.plan(sql)
        #expect(plan.contains { $0.contains("pairs_by_mentor (org=? AND mentor_id=?)") } && plan.contains { $0.contains("pairs_by_mentee (org=? AND mentee_id=?)") }, "plan: \(plan)")
    }
}
