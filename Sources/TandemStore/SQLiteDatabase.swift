public import Logging
import Metrics
import Synchronization
import CTandemSQLiteVFS
import Foundation

/// A schema change applied once, in order, at start-up.
public struct Migration: Sendable {
    public var version: Int
    public var sql: String

    public init(version: Int, _ sql: String) {
        self.version = version
        self.sql = sql
    }
}

/// A SQLite database in WAL mode with `synchronous=FULL`: a write that returned has survived
/// `kill -9`. Writes run on one writer thread and are committed in groups — every write waiting
/// when a transaction starts joins it, each in its own savepoint, so one fsync covers many
/// writes and a failing write rolls back only itself. Reads run on a pool of reader threads.
public final class SQLiteDatabase: Sendable {
    public let path: String
    private let writer: SQLiteWorker
    private let readers: SQLiteWorker
    /// Reader connections for `readNow`, each taken by one thread at a time.
    private let inlineReaders: [InlineReader]
    private let closed = Atomic(false)
    private let checkpointer: SQLiteCheckpointer?
    private let syncer: SQLiteLogSyncer?
    private let statistics = Mutex(Statistics())
    private let logger: Logger

    /// Counters for operators (and metrics).
    public struct Statistics: Sendable {
        public var transactions = 0
        public var writes = 0
        public var largestBatch = 0
        public var lastBatch = 0
        public var commitNanoseconds: UInt64 = 0
    }

    /// Opens (creating if needed) the database at `path` and applies `migrations`.
    /// - Parameters:
    ///   - secureDelete: overwrite deleted content with zeros (for personal data that must be
    ///     gone from the file once erased; costs some write speed).
    ///   - writerCacheMiB, readerCacheMiB: page cache of the writer and of each reader; pages
    ///     not in it are read from the operating system's cache with a system call each.
    ///   - checkpointPages: log size (pages) at which the log is copied into the database file.
    ///     Larger means fewer copies of pages written again and again (faster writes under
    ///     load) and a longer log. With background checkpoints the log may grow to four times
    ///     this while the copies catch up with the writes (`CheckpointPolicy`).
    ///   - backgroundCheckpoints: copy the log on a thread of its own while the writer goes on;
    ///     the writer then only copies what was appended meanwhile, so that the log can start
    ///     over. Without it the writer copies the whole log after the commit that filled it, and
    ///     the writes waiting behind that commit wait for the copy.
    ///   - pipelinedSyncs: sync the log of each group commit on a thread of its own while the
    ///     writer runs the next group (needs `backgroundCheckpoints`). A write still returns only
    ///     once it is durable; readers may see a group's changes up to one sync before that.
    ///   - inlineReaders: reader connections for `readNow` (reads run on the caller's thread).
    public init(
        path: String, migrations: [Migration], readers: Int = 2, inlineReaders: Int = 0, maxBatch: Int = 512, secureDelete: Bool = false,
        writerCacheMiB: Int = 32, readerCacheMiB: Int = 8, checkpointPages: Int = 1000, backgroundCheckpoints: Bool = false,
        pipelinedSyncs: Bool = false, logger: Logger = Logger(label: "tandem.store")
    ) throws {
        precondition(!pipelinedSyncs || backgroundCheckpoints, "pipelined syncs need background checkpoints (no checkpoint inside a commit)")
        self.path = path
        self.logger = logger
        // The metrics' "database" dimension.
        let database = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        let writerConnection = try SQLiteConnection(path: path, readOnly: false)
        try Self.enableWAL(writerConnection)
        let pageSize = Int(try writerConnection.first("PRAGMA page_size")?.int(0) ?? 4096)
        // Every write runs in a savepoint, whose journal keeps a copy of each page it changes.
        // With `temp_store=FILE` and the 120 KiB set in `tandem_sqlite_configure`, that journal is
        // one 120 KiB block in memory (a booking needs ~40 KiB), and a temporary file for a write
        // that changes more; `temp_store=MEMORY` would keep it in 1 KiB pieces, about 35
        // allocations and frees per booking: 5% of the writer's time.
        try writerConnection.executeScript("""
            PRAGMA synchronous=FULL;
            PRAGMA temp_store=FILE;
            PRAGMA foreign_keys=ON;
            PRAGMA secure_delete=\(secureDelete ? "ON" : "OFF");
            PRAGMA cache_size=-\(writerCacheMiB * 1024);
            PRAGMA wal_autocheckpoint=\(checkpointPages);
            PRAGMA journal_size_limit=\(Self.logSizeLimit(checkpointPages: checkpointPages, backgroundCheckpoints: backgroundCheckpoints, pageSize: pageSize));
            """)
        try Self.migrate(writerConnection, migrations, logger: logger)
        func reader() throws -> SQLiteConnection {
            let connection = try SQLiteConnection(path: path, readOnly: true)
            try connection.executeScript("PRAGMA query_only=ON; PRAGMA cache_size=-\(readerCacheMiB * 1024);")
            return connection
        }
        let readerConnections = try (0..<max(readers, 1)).map { _ in try reader() }
        self.inlineReaders = try (0..<max(inlineReaders, 0)).map { _ in InlineReader(try reader()) }
        self.writer = SQLiteWorker(name: "sqlite-writer", connections: [writerConnection], mode: .groupCommit(maxBatch: maxBatch))
        if backgroundCheckpoints {
            // Automatic checkpoints are off from here (the checkpointer and the writer's own
            // copy below sync the log before they copy it), so commits may leave their sync to
            // a thread of their own.
            writerConnection.recordWALPages()
            let syncer = pipelinedSyncs ? SQLiteLogSyncer(logger: logger) : nil
            self.syncer = syncer
            self.writer.syncer = syncer
            let checkpointer = SQLiteCheckpointer(connection: try SQLiteConnection(path: path, readOnly: false), logger: logger)
            // How long each copy of the log takes, by the checkpointer and by the writer.
            func checkpointTimer(by: String) -> Metrics.Timer {
                Metrics.Timer(label: "tandem_store_checkpoint_duration", dimensions: [("database", database), ("by", by)])
            }
            let backgroundTimer = checkpointTimer(by: "background")
            checkpointer.onPass = { backgroundTimer.recordNanoseconds(Int64(clamping: $0)) }
            self.checkpointer = checkpointer
            let writerCheckpointTimer = checkpointTimer(by: "writer")
            // The log's length (pages) after each commit: how far it runs ahead of the copies, and
            // when it starts over.
            let logPagesGauge = Gauge(label: "tandem_store_log_pages", dimensions: [("database", database)])
            let policy = CheckpointPolicy(checkpointPages: checkpointPages)
            self.writer.afterCommit = { connection in
                let logPages = connection.walPages
                logPagesGauge.record(logPages)
                guard logPages >= checkpointPages else { return }
                switch checkpointer.poll() {
                case .running:
                    break
                case .idle(let copiedSinceWriterCheckpoint):
                    if copiedSinceWriterCheckpoint && policy.writerShouldCopy(logPages: logPages) {
                        // Nearly all of the log is in the database file: copy the rest here (the
                        // writes behind this commit wait for it), so that the next write
                        // transaction starts the log over.
                        let started = DispatchTime.now().uptimeNanoseconds
                        defer { writerCheckpointTimer.recordNanoseconds(Int64(clamping: DispatchTime.now().uptimeNanoseconds &- started)) }
                        do {
                            try connection.executeScript("PRAGMA wal_checkpoint(PASSIVE)")
                        } catch {
                            logger.warning("checkpoint failed", metadata: ["error": "\(error)"])
                        }
                        checkpointer.writerCheckpointed()
                    } else {
                        policy.passRequested(logPages: logPages)
                        checkpointer.request()
                    }
                }
            }
        } else {
            self.checkpointer = nil
            self.syncer = nil
        }
        self.readers = SQLiteWorker(name: "sqlite-reader", connections: readerConnections, mode: .read)
        // For operators (swift-metrics): how long group commits take and how many writes each carries.
        let commitTimer = Metrics.Timer(label: "tandem_store_commit_duration", dimensions: [("database", database)])
        let batchSize = Recorder(label: "tandem_store_batch_size", dimensions: [("database", database)])
        let writeCounter = Counter(label: "tandem_store_writes_total", dimensions: [("database", database)])
        // How long writes wait for the writer (the commit in progress, then their own group's turn)
        // and reads for a reader thread: queueing, apart from the work itself.
        let writeWait = Metrics.Timer(label: "tandem_store_wait_duration", dimensions: [("database", database), ("kind", "write")])
        let readWait = Metrics.Timer(label: "tandem_store_wait_duration", dimensions: [("database", database), ("kind", "read")])
        self.writer.onStart = { writeWait.recordNanoseconds(Int64(clamping: $0)) }
        self.readers.onStart = { readWait.recordNanoseconds(Int64(clamping: $0)) }
        self.writer.onBatch = { [weak self] size, nanoseconds in
            commitTimer.recordNanoseconds(Int64(nanoseconds))
            batchSize.record(size)
            writeCounter.increment(by: size)
            self?.statistics.withLock { stats in
                stats.transactions += 1
                stats.writes += size
                stats.lastBatch = size
                stats.largestBatch = max(stats.largestBatch, size)
                stats.commitNanoseconds += nanoseconds
            }
        }
        if let syncer {
            let syncTimer = Metrics.Timer(label: "tandem_store_sync_duration", dimensions: [("database", database)])
            syncer.onSync = { nanoseconds in syncTimer.recordNanoseconds(Int64(clamping: nanoseconds)) }
            syncer.start()
        }
        self.writer.start()
        self.readers.start()
        checkpointer?.start()
    }

    /// The size (bytes) the log file is cut back to when it starts over, if it grew past it
    /// (`journal_size_limit`): twice the largest log the checkpoints let grow, and at least 64 MiB.
    ///
    /// A log of normal size is reused as it is, never cut back. SQLite cuts the file in the commit
    /// that starts the log over, on the writer's thread, and cutting a large file back is slow:
    /// with a 64 MiB limit, cutting scheduling's ~280 MB log back made that commit take 0.25–1 s,
    /// 14 times in a 20 s booking storm — every write waited (p99.9 340–590 ms, 2026-11-27).
    /// Writing over a file already there also allocates nothing. Only a log grown past twice its
    /// cap (a long read held the checkpoints back) is cut back.
    static func logSizeLimit(checkpointPages: Int, backgroundCheckpoints: Bool, pageSize: Int) -> Int {
        let largestLog = backgroundCheckpoints ? CheckpointPolicy.largestLog(checkpointPages: checkpointPages) : checkpointPages
        return max(64 << 20, 2 * largestLog * pageSize)
    }

    /// Switches a new database to WAL mode. The switch needs the file to itself, and SQLite
    /// answers SQLITE_BUSY at once — without waiting the busy timeout — while another process
    /// or connection has it open in the middle of the same switch (replicas starting together on
    /// one volume): try again for up to 10 s.
    private static func enableWAL(_ connection: SQLiteConnection) throws {
        let deadline = ContinuousClock.now + .seconds(10)
        var pause = Duration.milliseconds(2)
        while true {
            do {
                return try connection.executeScript("PRAGMA journal_mode=WAL;")
            } catch let error as SQLiteError where error.isBusy && ContinuousClock.now < deadline {
                Thread.sleep(forTimeInterval: Double(pause.components.attoseconds) / 1e18)
                pause = min(pause * 2, .milliseconds(100))
            }
        }
    }

    private static func migrate(_ connection: SQLiteConnection, _ migrations: [Migration], logger: Logger) throws {
        try connection.executeScript("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)")
        let applied = Set(try connection.query("SELECT version FROM schema_migrations").compactMap { $0.int(0) })
        for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(Int64(migration.version)) {
            try connection.execute("BEGIN IMMEDIATE")
            do {
                // Another process on the same database (a second instance starting at the same
                // moment) may have applied it while this one waited for the write lock.
                if try connection.first("SELECT 1 FROM schema_migrations WHERE version = ?", migration.version) != nil {
                    try connection.executeScript("COMMIT")
                    continue
                }
                try connection.executeScript(migration.sql)
                try connection.execute("INSERT INTO schema_migrations (version, applied_at) VALUES (?, datetime('now'))", migration.version)
                try connection.executeScript("COMMIT")
                logger.info("applied migration", metadata: ["version": "\(migration.version)"])
            } catch {
                try? connection.executeScript("ROLLBACK")
                throw error
            }
        }
    }

    /// Runs `body` atomically (in its own savepoint within a group commit) and returns once the
    /// transaction is durable. If `body` throws, its changes are rolled back and the error rethrown.
    public func write<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            writer.enqueue(SQLiteJob(run: { connection in
                let result = Result { try body(connection) }
                let succeeded: Bool
                if case .success = result { succeeded = true } else { succeeded = false }
                return (succeeded, { commit in
                    switch commit {
                    case .failure(let error): continuation.resume(throwing: error)
                    case .success: continuation.resume(with: result)
                    }
                })
            }, fail: { continuation.resume(throwing: $0) }))
        }
    }

    /// SQLite's plan for a statement (`SQLiteConnection.plan`), read on a reader connection.
    public func plan(_ sql: String) async throws -> [String] {
        try await read { try $0.plan(sql) }
    }

    /// Runs `body` on a reader connection, in one read transaction (a consistent snapshot).
    public func read<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            readers.enqueue(SQLiteJob(run: { connection in
                let result = Result { try body(connection) }
                return (true, { _ in continuation.resume(with: result) })
            }, fail: { continuation.resume(throwing: $0) }))
        }
    }

    /// `read`, answered only once every commit it saw is durable: with pipelined syncs a reader
    /// can see a group commit up to one sync before its writers are answered. For what leaves the
    /// service as a record others keep (change feeds): after a power loss the service could
    /// otherwise have lost a change that a follower already holds. Without pipelined syncs it is
    /// `read`.
    public func durableRead<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        guard let syncer else { return try await read(body) }
        let writer = self.writer
        let (value, ticket) = try await read { connection in
            // Counted after the body's reads fixed the snapshot: every group it saw is counted.
            let value = try body(connection)
            return (value, writer.commitTicket.load(ordering: .sequentiallyConsistent))
        }
        await syncer.waitUntilDurable(ticket)
        return value
    }

    /// Runs `body` at once on the calling thread, in one read transaction, on an inline reader
    /// connection — or returns nil, running nothing, when every one is in use (or there are
    /// none); the caller then uses `read`. For short indexed reads on a thread that answers
    /// calls: the call goes on without waiting for a reader thread and then for its own thread
    /// to take it back (two thread switches, and a place at the back of that thread's queue).
    /// A read never waits for the writer (WAL).
    public func readNow<T>(_ body: (SQLiteConnection) throws -> T) throws -> T? {
        guard !closed.load(ordering: .relaxed) else { return nil }
        for reader in inlineReaders where reader.lock.try() {
            defer { reader.lock.unlock() }
            // Prepared once per connection (`execute`), not parsed each time: this runs per call.
            _ = try reader.connection.execute("BEGIN DEFERRED")
            defer { _ = try? reader.connection.execute("COMMIT") }
            return try body(reader.connection)
        }
        return nil
    }

    /// A short indexed read: at once on the calling thread when an inline reader is free
    /// (`readNow`), otherwise on a reader thread (`read`).
    public func quickRead<T: Sendable>(_ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        if let value = try readNow(body) { return value }
        return try await read(body)
    }

    public var currentStatistics: Statistics { statistics.withLock { $0 } }

    /// Reads through a reader connection and writes through the writer (an empty group commit):
    /// both threads answer and the file is writable. For readiness probes.
    public func check() async throws {
        _ = try await read { try $0.first("SELECT count(*) FROM schema_migrations") }
        _ = try await write { _ in () }
    }

    /// Copies everything in the write-ahead log into the database file and truncates the log
    /// to zero bytes, so no old version of any page is left in it (after erasing personal data,
    /// or before a backup). Returns false when readers kept it from completing.
    public func checkpoint() async throws -> Bool {
        let path = self.path
        return try await read { _ in
            let connection = try SQLiteConnection(path: path, readOnly: false)
            for attempt in 0..<50 {
                let row = try connection.first("PRAGMA wal_checkpoint(TRUNCATE)")
                if row?.int(0) == 0 { return true }
                usleep(UInt32(2_000 * (attempt + 1)))
            }
            return false
        }
    }

    /// `checkpoint()` after erasing personal data, so that old versions of the erased rows' pages
    /// leave the write-ahead log now. When readers keep the truncation from completing, a warning
    /// says so (the log's pages are reused after the next checkpoints anyway).
    public func truncateLogAfterErasure() async {
        do {
            if try await checkpoint() { return }
            logger.warning("erasure: the write-ahead log could not be truncated yet; it will be at the next checkpoint")
        } catch {
            logger.warning("erasure: the write-ahead log could not be truncated", metadata: ["error": "\(error)"])
        }
    }

    /// Finishes queued work and closes the connections.
    public func close() {
        closed.store(true, ordering: .relaxed)
        writer.stop()
        syncer?.stop()
        readers.stop()
        checkpointer?.stop()
    }
}

/// A reader connection for `SQLiteDatabase.readNow`, used by one thread at a time.
private final class InlineReader: @unchecked Sendable {
    // Safe: `connection` is only used by the thread holding `lock`.
    let lock = NSLock()
    let connection: SQLiteConnection

    init(_ connection: SQLiteConnection) {
        self.connection = connection
    }
}

/// A thread of its own, woken through `condition`, that ends when `stop()` is called once it has
/// finished what it was given: the base of the checkpointer and the log syncer.
class SQLiteBackgroundThread: @unchecked Sendable {
    // Safe: `stopping` and `finished` are only touched under `condition`.
    let condition = NSCondition()
    var stopping = false
    /// Set by `run()`, under `condition` (with a broadcast), as it returns.
    var finished = false
    private let name: String

    init(name: String) {
        self.name = name
    }

    func start() {
        let thread = Thread { [self] in
            tandem_name_current_thread(name)
            self.run()
        }
        thread.name = name
        thread.start()
    }

    /// The thread's body.
    func run() {}

    /// Asks the thread to end and waits until it has.
    func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}

/// When the writer copies the end of the log itself (so that the log can start over) instead of
/// asking the checkpointer for one more pass. Used only on the writer thread.
///
/// The writer's copy makes the writes behind it wait, and it takes about as long as syncing the
/// pages appended to the log during the checkpointer's last pass. Under a steady stream of writes
/// each pass copies what was appended during the one before, so passes grow shorter — the more so
/// as pages written again and again are copied once — until one leaves little behind: only then
/// does the writer copy the rest. A log that keeps growing (writes faster than the disk takes
/// the passes) is copied by the writer at four times `checkpointPages`, whatever is left.
final class CheckpointPolicy {
    /// The writer copies the rest once the last pass left at most this many pages behind.
    static let smallRemainder = 256
    let largestLog: Int
    /// The log's size when the last pass was asked for.
    private var pagesAtRequest = 0

    init(checkpointPages: Int) {
        largestLog = Self.largestLog(checkpointPages: checkpointPages)
    }

    /// The log's size (pages) at which the writer copies what is left, whatever it is.
    static func largestLog(checkpointPages: Int) -> Int {
        checkpointPages * 4
    }

    func passRequested(logPages: Int) {
        pagesAtRequest = logPages
    }

    /// After a pass: whether the writer copies the rest now (what was appended since the pass
    /// began, at most `logPages - pagesAtRequest`).
    func writerShouldCopy(logPages: Int) -> Bool {
        logPages - pagesAtRequest <= Self.smallRemainder || logPages >= largestLog
    }
}

/// Copies the write-ahead log into the database file when asked, on a thread of its own. A
/// PASSIVE checkpoint never blocks the writer or the readers.
final class SQLiteCheckpointer: SQLiteBackgroundThread, @unchecked Sendable {
    // Safe: the state is only touched under `condition`; the connection only on the thread.
    enum Poll {
        case running
        /// Whether a background copy finished since the writer last finished one itself.
        case idle(copiedSinceWriterCheckpoint: Bool)
    }

    private var requested = false
    private var running = false
    private var copied = false
    private let connection: SQLiteConnection
    private let logger: Logger
    /// Called after each pass with its duration (nanoseconds), on the checkpoint thread.
    var onPass: (@Sendable (UInt64) -> Void)?

    init(connection: SQLiteConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
        super.init(name: "sqlite-checkpoint")
    }

    func poll() -> Poll {
        condition.lock()
        defer { condition.unlock() }
        return requested || running ? .running : .idle(copiedSinceWriterCheckpoint: copied)
    }

    func request() {
        condition.lock()
        requested = true
        condition.signal()
        condition.unlock()
    }

    func writerCheckpointed() {
        condition.lock()
        copied = false
        condition.unlock()
    }

    override func run() {
        while true {
            condition.lock()
            while !requested && !stopping { condition.wait() }
            if stopping {
                finished = true
                condition.broadcast()
                condition.unlock()
                return
            }
            requested = false
            running = true
            condition.unlock()
            let started = DispatchTime.now().uptimeNanoseconds
            do {
                try connection.executeScript("PRAGMA wal_checkpoint(PASSIVE)")
            } catch {
                logger.warning("background checkpoint failed", metadata: ["error": "\(error)"])
            }
            onPass?(DispatchTime.now().uptimeNanoseconds &- started)
            condition.lock()
            running = false
            copied = true
            condition.unlock()
        }
    }
}

/// A unit of work for a worker thread: runs against the connection, says whether it
/// succeeded, and returns what to do once the transaction's outcome is known. `fail` reports
/// an error when the job could not run at all.
struct SQLiteJob: Sendable {
    let run: @Sendable (SQLiteConnection) -> (succeeded: Bool, complete: @Sendable (Result<Void, any Error>) -> Void)
    let fail: @Sendable (any Error) -> Void
    /// When it was queued (uptime nanoseconds), for the time it waited for a thread.
    let queued = DispatchTime.now().uptimeNanoseconds
}

/// Threads that own SQLite connections and run jobs on them.
final class SQLiteWorker: @unchecked Sendable {
    // Safe: `queue`, `running` and `onBatch` are only touched under `condition`; each connection
    // is used only by the one thread it was given to.
    enum Mode {
        case read
        case groupCommit(maxBatch: Int)
    }

    private let condition = NSCondition()
    private var queue: [SQLiteJob] = []
    private var running = true
    private var threads: [Thread] = []
    private var finished = 0
    private let connections: [SQLiteConnection]
    private let mode: Mode
    private let name: String
    var onBatch: (@Sendable (Int, UInt64) -> Void)?
    /// Called as each job starts, with how long it waited in the queue (nanoseconds).
    var onStart: (@Sendable (UInt64) -> Void)?
    /// Runs on the writer thread after each transaction, once its writers have been answered
    /// (or handed to `syncer`).
    var afterCommit: ((SQLiteConnection) -> Void)?
    /// Syncs the log and answers the writers of each group commit, while the writer goes on
    /// with the next. Only with automatic checkpoints off: a checkpoint in a commit must sync the
    /// log itself before it copies frames into the database file.
    var syncer: SQLiteLogSyncer?
    /// Group commits begun (counted before each COMMIT, so that a read that sees a group's
    /// changes reads a count that includes it).
    let commitTicket = Atomic<UInt64>(0)

    init(name: String, connections: [SQLiteConnection], mode: Mode) {
        self.name = name
        self.connections = connections
        self.mode = mode
    }

    func start() {
        for index in connections.indices {
            let threadName = "\(name)-\(index)"
            let thread = Thread { [self] in
                tandem_name_current_thread(threadName)
                self.loop(self.connections[index])
            }
            thread.name = threadName
            threads.append(thread)
            thread.start()
        }
    }

    func enqueue(_ job: SQLiteJob) {
        condition.lock()
        guard running else {
            condition.unlock()
            job.fail(SQLiteError(code: 21, message: "database is closed", sql: nil))
            return
        }
        queue.append(job)
        condition.signal()
        condition.unlock()
    }

    /// Stops after the queued jobs and waits for the threads to end.
    func stop() {
        condition.lock()
        running = false
        condition.broadcast()
        while finished < threads.count { condition.wait() }
        condition.unlock()
    }

    private func takeJobs(max: Int) -> [SQLiteJob]? {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && running { condition.wait() }
        if queue.isEmpty { return nil }
        let count = Swift.min(max, queue.count)
        let jobs = Array(queue.prefix(count))
        queue.removeFirst(count)
        return jobs
    }

    private func loop(_ connection: SQLiteConnection) {
        defer {
            condition.lock()
            finished += 1
            condition.broadcast()
            condition.unlock()
        }
        switch mode {
        case .read:
            while let jobs = takeJobs(max: 1) {
                for job in jobs {
                    onStart?(DispatchTime.now().uptimeNanoseconds &- job.queued)
                    try? connection.executeScript("BEGIN DEFERRED")
                    let (_, complete) = job.run(connection)
                    try? connection.executeScript("COMMIT")
                    complete(.success(()))
                }
            }
        case .groupCommit(let maxBatch):
            while let jobs = takeJobs(max: maxBatch) {
                commit(jobs, on: connection)
            }
        }
    }

    private func commit(_ jobs: [SQLiteJob], on connection: SQLiteConnection) {
        let started = DispatchTime.now().uptimeNanoseconds
        if let onStart { for job in jobs { onStart(started &- job.queued) } }
        if let failed = syncer?.failed {
            for job in jobs { job.fail(failed) }
            return
        }
        do {
            try connection.execute("BEGIN IMMEDIATE")
        } catch {
            for job in jobs { job.fail(error) }
            return
        }
        var completions: [@Sendable (Result<Void, any Error>) -> Void] = []
        completions.reserveCapacity(jobs.count)
        for job in jobs {
            do {
                try connection.execute("SAVEPOINT job")
            } catch {
                job.fail(error)
                continue
            }
            let (succeeded, complete) = job.run(connection)
            do {
                if !succeeded { try connection.execute("ROLLBACK TO job") }
                try connection.execute("RELEASE job")
                completions.append(complete)
            } catch {
                try? connection.executeScript("ROLLBACK TO job; RELEASE job")
                complete(.failure(error))
            }
        }
        var outcome: Result<Void, any Error> = .success(())
        let deferring = syncer != nil && connection.deferLogSyncs(true)
        let ticket = commitTicket.add(1, ordering: .sequentiallyConsistent).newValue
        do {
            try connection.execute("COMMIT")
        } catch {
            try? connection.executeScript("ROLLBACK")
            outcome = .failure(error)
        }
        var descriptor: Int32?
        if deferring {
            _ = connection.deferLogSyncs(false)
            do {
                descriptor = try connection.takeDeferredLogSync()
            } catch {
                outcome = .failure(error)
            }
        }
        onBatch?(jobs.count, DispatchTime.now().uptimeNanoseconds - started)
        if let syncer {
            syncer.enqueue(.init(descriptor: descriptor, completions: completions, outcome: outcome, ticket: ticket))
        } else {
            for complete in completions { complete(outcome) }
        }
        afterCommit?(connection)
    }
}
