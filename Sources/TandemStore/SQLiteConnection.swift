import CTandemSQLite
import CTandemSQLiteVFS
import Glibc
#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif

/// A value stored in or read from SQLite.
public enum SQLiteValue: Sendable, Hashable {
    case null
    case integer(Int64)
    case real(Double)
    case text(String)
    case blob([UInt8])
}

/// A failed SQLite operation: the result code, SQLite's message, and the statement.
public struct SQLiteError: Error, CustomStringConvertible, Sendable {
    public var code: Int32
    public var message: String
    public var sql: String?

    /// A constraint (UNIQUE, CHECK, trigger RAISE) stopped the statement.
    public var isConstraintViolation: Bool { code & 0xFF == SQLITE_CONSTRAINT }
    public var isBusy: Bool { code & 0xFF == SQLITE_BUSY }

    public var description: String {
        "SQLite error \(code): \(message)" + (sql.map { " [\($0.prefix(120))]" } ?? "")
    }
}

/// Types that bind to a statement parameter.
public protocol SQLiteBindable {
    var sqliteValue: SQLiteValue { get }
    /// Binds the value to parameter `position` (1-based) of `statement`; SQLite's result code.
    /// By default through `sqliteValue`; the common types bind themselves without building one
    /// (a UUID's or an array's bytes are not copied into a new array first).
    func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32
}

extension SQLiteBindable {
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 {
        sqliteValue.bindSQLite(statement, position)
    }
}

extension SQLiteValue: SQLiteBindable {
    public var sqliteValue: SQLiteValue { self }

    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 {
        switch self {
        case .null: return sqlite3_bind_null(statement, position)
        case .integer(let int): return sqlite3_bind_int64(statement, position, int)
        case .real(let double): return sqlite3_bind_double(statement, position, double)
        case .text(let text): return text.bindSQLite(statement, position)
        case .blob(let bytes): return bytes.bindSQLite(statement, position)
        }
    }
}
extension Int: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .integer(Int64(self)) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { sqlite3_bind_int64(statement, position, Int64(self)) }
}
extension Int64: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .integer(self) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { sqlite3_bind_int64(statement, position, self) }
}
extension Bool: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .integer(self ? 1 : 0) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { sqlite3_bind_int64(statement, position, self ? 1 : 0) }
}
extension Double: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .real(self) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { sqlite3_bind_double(statement, position, self) }
}
extension String: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .text(self) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 {
        sqlite3_bind_text(statement, position, self, -1, tandem_sqlite_transient())
    }
}
extension [UInt8]: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .blob(self) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { withUnsafeBytes { bindBlob($0, statement, position) } }
}
extension Data: SQLiteBindable {
    public var sqliteValue: SQLiteValue { .blob(Array(self)) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { withUnsafeBytes { bindBlob($0, statement, position) } }
}
extension UUID: SQLiteBindable {
    /// UUIDs are stored as 16-byte blobs.
    public var sqliteValue: SQLiteValue { .blob(withUnsafeBytes(of: uuid) { Array($0) }) }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 { withUnsafeBytes(of: uuid) { bindBlob($0, statement, position) } }
}

/// Binds bytes as a blob (SQLite copies them).
private func bindBlob(_ bytes: UnsafeRawBufferPointer, _ statement: OpaquePointer, _ position: Int32) -> Int32 {
    sqlite3_bind_blob(statement, position, bytes.baseAddress, Int32(bytes.count), tandem_sqlite_transient())
}
extension Optional: SQLiteBindable where Wrapped: SQLiteBindable {
    public var sqliteValue: SQLiteValue { self?.sqliteValue ?? .null }
    public func bindSQLite(_ statement: OpaquePointer, _ position: Int32) -> Int32 {
        switch self {
        case .some(let value): return value.bindSQLite(statement, position)
        case .none: return sqlite3_bind_null(statement, position)
        }
    }
}

/// One result row; columns are read by index.
public struct SQLiteRow: Sendable {
    public let values: [SQLiteValue]

    public init(values: [SQLiteValue]) {
        self.values = values
    }

    public subscript(index: Int) -> SQLiteValue { values[index] }

    public func int(_ index: Int) -> Int64? {
        if case .integer(let value) = values[index] { return value }
        return nil
    }

    public func double(_ index: Int) -> Double? {
        switch values[index] {
        case .real(let value): return value
        case .integer(let value): return Double(value)
        default: return nil
        }
    }

    public func text(_ index: Int) -> String? {
        if case .text(let value) = values[index] { return value }
        return nil
    }

    public func blob(_ index: Int) -> [UInt8]? {
        if case .blob(let value) = values[index] { return value }
        return nil
    }

    public func uuid(_ index: Int) -> UUID? {
        guard let bytes = blob(index), bytes.count == 16 else { return nil }
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

/// A SQLite connection. Not thread-safe: a `SQLiteDatabase` confines each connection to its
/// own thread and hands it to closures that run there.
public final class SQLiteConnection {
    let handle: OpaquePointer
    private var statements: [String: OpaquePointer] = [:]

    /// Process-wide SQLite settings, applied once before the first connection opens (no memory
    /// statistics; the page cache whose truncation does not walk the whole cache); the VFS
    /// every connection uses ("tandem": the default one with the write-ahead log's writes
    /// gathered into a few large writes per sync), or nil for SQLite's default if it could not be
    /// registered.
    private static let vfs: String? = {
        _ = tandem_sqlite_configure()
        _ = tandem_page_cache_install()
        return tandem_vfs_register() == SQLITE_OK ? TANDEM_VFS_NAME : nil
    }()

    /// Writes SQLite made to this connection's write-ahead log, and the system calls they became
    /// (zeros before the connection wrote to it).
    public var logWriteCounters: (logWrites: UInt64, systemWrites: UInt64) {
        var counters = tandem_vfs_counters()
        guard tandem_vfs_log_counters(handle, &counters) == SQLITE_OK else { return (0, 0) }
        return (counters.logWrites, counters.systemWrites)
    }

    /// Page-cache truncations in this process: those that discarded only the pages past the
    /// database's end, and those that went to SQLite's default cache (see page_cache.c).
    static var pageCacheTruncations: (fast: UInt64, full: UInt64) {
        _ = vfs
        var fast: UInt64 = 0, full: UInt64 = 0
        tandem_page_cache_counters(&fast, &full)
        return (fast, full)
    }

    /// Syncs of the write-ahead log left to another thread since the connection opened it.
    var deferredLogSyncs: UInt64 {
        var counters = tandem_vfs_counters()
        guard tandem_vfs_log_counters(handle, &counters) == SQLITE_OK else { return 0 }
        return counters.deferredSyncs
    }

    /// While `on`, a commit writes its log frames but leaves the sync to the caller
    /// (`takeDeferredLogSync`). False when the log is not open through the "tandem" VFS: syncs
    /// then happen in the commit, as usual.
    func deferLogSyncs(_ on: Bool) -> Bool {
        tandem_vfs_defer_log_syncs(handle, on ? 1 : 0) == SQLITE_OK
    }

    /// After a commit with syncs deferred: a descriptor of the log to `fdatasync` (and close)
    /// before the commit's writers are answered, or nil when the commit left no sync.
    func takeDeferredLogSync() throws -> Int32? {
        switch tandem_vfs_take_deferred_sync(handle) {
        case -2: throw SQLiteError(code: 1034 /* SQLITE_IOERR_FSYNC */, message: "cannot sync the write-ahead log", sql: nil)
        case let descriptor where descriptor >= 0: return descriptor
        default: return nil
        }
    }

    init(path: String, readOnly: Bool) throws {
        var handle: OpaquePointer?
        let flags = (readOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX
        let result = sqlite3_open_v2(path, &handle, flags, Self.vfs)
        guard result == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "cannot open"
            if let handle { sqlite3_close_v2(handle) }
            throw SQLiteError(code: result, message: "\(message): \(path)", sql: nil)
        }
        self.handle = handle
        sqlite3_extended_result_codes(handle, 1)
        sqlite3_busy_timeout(handle, 10_000)
    }

    /// Pages in the write-ahead log after the last commit, once `recordWALPages()` was called.
    private var walPagesStorage: UnsafeMutablePointer<Int32>?

    /// Turns automatic checkpoints off and tracks the log's size instead (see `walPages`).
    func recordWALPages() {
        let storage = UnsafeMutablePointer<Int32>.allocate(capacity: 1)
        storage.initialize(to: 0)
        walPagesStorage = storage
        tandem_record_wal_pages(handle, storage)
    }

    /// Pages in the write-ahead log after the last commit on this connection.
    var walPages: Int { walPagesStorage.map { Int($0.pointee) } ?? 0 }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        sqlite3_close_v2(handle)
        walPagesStorage?.deallocate()
    }

    private func error(_ code: Int32, _ sql: String?) -> SQLiteError {
        SQLiteError(code: code, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
    }

    /// Runs one or more statements without parameters (schema, pragmas).
    public func executeScript(_ sql: String) throws {
        let result = sqlite3_exec(handle, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw error(result, sql) }
    }

    /// Statements kept prepared at most. SQL text built from a caller's values (a page size, a
    /// list) would otherwise add a statement per distinct value, for the connection's lifetime.
    static let maxCachedStatements = 256

    /// Statements cached now.
    var cachedStatements: Int { statements.count }

    /// A prepared statement, cached by its SQL text. When the cache is full, every statement not
    /// in the middle of its rows (an outer `forEachRow` whose body runs this one) is let go.
    private func statement(_ sql: String) throws -> OpaquePointer {
        if let cached = statements[sql] {
            sqlite3_reset(cached)
            sqlite3_clear_bindings(cached)
            return cached
        }
        var statement: OpaquePointer?
        let result = sqlite3_prepare_v3(handle, sql, -1, UInt32(SQLITE_PREPARE_PERSISTENT), &statement, nil)
        guard result == SQLITE_OK, let statement else { throw error(result, sql) }
        if let path = Self.planLogPath { logPlan(sql, to: path) }
        if statements.count >= Self.maxCachedStatements {
            statements = statements.filter { _, cached in
                guard sqlite3_stmt_busy(cached) == 0 else { return true }
                sqlite3_finalize(cached)
                return false
            }
        }
        statements[sql] = statement
        return statement
    }

    /// SQLite's plan for a statement, one line per step (`EXPLAIN QUERY PLAN`); nothing is run.
    public func plan(_ sql: String) throws -> [String] {
        var explain: OpaquePointer?
        let result = sqlite3_prepare_v2(handle, "EXPLAIN QUERY PLAN " + sql, -1, &explain, nil)
        guard result == SQLITE_OK, let explain else { throw error(result, sql) }
        defer { sqlite3_finalize(explain) }
        var lines: [String] = []
        while sqlite3_step(explain) == SQLITE_ROW {
            if let text = sqlite3_column_text(explain, 3) { lines.append(String(cString: text)) }
        }
        return lines
    }

    /// Whether a plan reads a whole table or sorts its rows: what a query audit looks at.
    public static func readsWholeTableOrSorts(_ plan: [String]) -> Bool {
        plan.contains { ($0.hasPrefix("SCAN ") && !$0.hasSuffix("CONSTANT ROW") && !$0.hasSuffix("CONSTANT ROWS")) || $0.contains("TEMP B-TREE") }
    }

    /// An audit aid: with `TANDEM_SQL_PLAN_LOG` set to a file, every statement prepared whose plan
    /// reads a whole table or sorts is appended to it with its plan (e.g. during `swift test`;
    /// `Benchmarks/sql/plan-log.py` summarises the file). Read once; unset, it costs nothing.
    static let planLogPath = ProcessInfo.processInfo.environment["TANDEM_SQL_PLAN_LOG"].flatMap { $0.isEmpty ? nil : $0 }

    private func logPlan(_ sql: String, to path: String) {
        guard let plan = try? plan(sql), Self.readsWholeTableOrSorts(plan), let file = fopen(path, "a") else { return }
        let entry = "SQL: " + sql.split(whereSeparator: \.isNewline).joined(separator: " ") + "\n" + plan.map { "    " + $0 + "\n" }.joined()
        fputs(entry, file)
        fclose(file)
    }

    private func bind(_ statement: OpaquePointer, _ values: [any SQLiteBindable], _ sql: String) throws {
        for (index, value) in values.enumerated() {
            let result = value.bindSQLite(statement, Int32(index + 1))
            guard result == SQLITE_OK else { throw error(result, sql) }
        }
    }

    /// Runs a statement that returns no rows; returns the number of rows it changed.
    @discardableResult
    public func execute(_ sql: String, _ values: any SQLiteBindable...) throws -> Int {
        try execute(sql, values)
    }

    @discardableResult
    public func execute(_ sql: String, _ values: [any SQLiteBindable]) throws -> Int {
        let statement = try statement(sql)
        try bind(statement, values, sql)
        var result = sqlite3_step(statement)
        while result == SQLITE_ROW { result = sqlite3_step(statement) }
        sqlite3_reset(statement)
        guard result == SQLITE_DONE else { throw error(result, sql) }
        return Int(sqlite3_changes(handle))
    }

    /// Runs a query and returns every row.
    public func query(_ sql: String, _ values: any SQLiteBindable...) throws -> [SQLiteRow] {
        try query(sql, values)
    }

    public func query(_ sql: String, _ values: [any SQLiteBindable]) throws -> [SQLiteRow] {
        var rows: [SQLiteRow] = []
        try forEachRow(sql, values) { rows.append($0) }
        return rows
    }

    /// Calls `body` with each row as it is read.
    public func forEachRow(_ sql: String, _ values: [any SQLiteBindable], _ body: (SQLiteRow) throws -> Void) throws {
        let statement = try statement(sql)
        try bind(statement, values, sql)
        defer { sqlite3_reset(statement) }
        let columns = sqlite3_column_count(statement)
        while true {
            let result = sqlite3_step(statement)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw error(result, sql) }
            var values: [SQLiteValue] = []
            values.reserveCapacity(Int(columns))
            for column in 0..<columns {
                switch sqlite3_column_type(statement, column) {
                case SQLITE_INTEGER:
                    values.append(.integer(sqlite3_column_int64(statement, column)))
                case SQLITE_FLOAT:
                    values.append(.real(sqlite3_column_double(statement, column)))
                case SQLITE_TEXT:
                    values.append(.text(String(cString: sqlite3_column_text(statement, column))))
                case SQLITE_BLOB:
                    let count = Int(sqlite3_column_bytes(statement, column))
                    let pointer = sqlite3_column_blob(statement, column)
                    values.append(.blob(count == 0 ? [] : Array(UnsafeRawBufferPointer(start: pointer, count: count))))
                default:
                    values.append(.null)
                }
            }
            try body(SQLiteRow(values: values))
        }
    }

    /// The first row of a query, if any (write `LIMIT 1` for large tables).
    public func first(_ sql: String, _ values: any SQLiteBindable...) throws -> SQLiteRow? {
        try query(sql, values).first
    }

    public var lastInsertRowID: Int64 { sqlite3_last_insert_rowid(handle) }
}
