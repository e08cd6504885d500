import CTandemSQLite
import Foundation
import Synchronization

/// A read-only connection for reports, stepping rows straight from SQLite's C API: a report
/// reads a few hundred thousand small integer rows, and TandemStore's row objects (an array per
/// row) cost more than the scan itself. It reads in its own transaction (a consistent snapshot of
/// the WAL database) and is used by one report at a time.
///
/// This belongs in TandemStore as a column-at-a-time read API; it lives here until it moves.
final class ColumnReader: Sendable {
    private let connection: Mutex<RawConnection>

    init(path: String) throws {
        connection = Mutex(try RawConnection(path: path))
    }

    /// Runs `body` in one read transaction.
    func read<T: Sendable>(_ body: (borrowing RawConnection) throws -> T) throws -> T {
        try connection.withLock { connection in
            try connection.execute("BEGIN")
            defer { try? connection.execute("COMMIT") }
            return try body(connection)
        }
    }
}

/// A value bound to a statement.
enum RawValue {
    case uuid(UUID)
    case integer(Int64)
}

/// The current row of a statement; valid inside the callback only.
struct RawRow {
    let statement: OpaquePointer

    init(_ statement: OpaquePointer) {
        self.statement = statement
    }

    /// A NOT NULL integer column (no type check: NULL reads as 0).
    func integer(_ index: Int) -> Int64 { sqlite3_column_int64(statement, Int32(index)) }

    /// A NOT NULL real column.
    func real(_ index: Int) -> Double { sqlite3_column_double(statement, Int32(index)) }

    func isNull(_ index: Int) -> Bool { sqlite3_column_type(statement, Int32(index)) == SQLITE_NULL }

    func int(_ index: Int) -> Int64? {
        isNull(index) ? nil : sqlite3_column_int64(statement, Int32(index))
    }

    func double(_ index: Int) -> Double? {
        isNull(index) ? nil : sqlite3_column_double(statement, Int32(index))
    }

    func text(_ index: Int) -> String? {
        guard let pointer = sqlite3_column_text(statement, Int32(index)) else { return nil }
        return String(cString: pointer)
    }

    func uuid(_ index: Int) -> UUID? {
        guard sqlite3_column_bytes(statement, Int32(index)) == 16, let pointer = sqlite3_column_blob(statement, Int32(index)) else { return nil }
        let bytes = pointer.assumingMemoryBound(to: UInt8.self)
        return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                           bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
    }
}

/// A raw SQLite connection, confined to the `ColumnReader`'s lock.
struct RawConnection: ~Copyable {
    let handle: OpaquePointer

    init(path: String) throws {
        var handle: OpaquePointer?
        let result = sqlite3_open_v2(path, &handle, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nil)
        guard result == SQLITE_OK, let handle else {
            if let handle { sqlite3_close_v2(handle) }
            throw ColumnReaderError(code: result, message: "cannot open \(path) for reports", sql: nil)
        }
        self.handle = handle
        sqlite3_busy_timeout(handle, 10_000)
        // Memory-mapped pages: a report scans whole index ranges, which then need no copy per page.
        sqlite3_exec(handle, "PRAGMA query_only=ON; PRAGMA cache_size=-65536; PRAGMA mmap_size=1073741824;", nil, nil, nil)
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    func execute(_ sql: String) throws {
        let result = sqlite3_exec(handle, sql, nil, nil, nil)
        guard result == SQLITE_OK else { throw ColumnReaderError(code: result, message: String(cString: sqlite3_errmsg(handle)), sql: sql) }
    }

    /// Calls `body` with each row of `sql`.
    func each(_ sql: String, _ values: [RawValue], _ body: (RawRow) throws -> Void) throws {
        var statement: OpaquePointer?
        var result = sqlite3_prepare_v2(handle, sql, -1, &statement, nil)
        guard result == SQLITE_OK, let statement else {
            throw ColumnReaderError(code: result, message: String(cString: sqlite3_errmsg(handle)), sql: sql)
        }
        defer { sqlite3_finalize(statement) }
        for (index, value) in values.enumerated() {
            let position = Int32(index + 1)
            switch value {
            case .integer(let integer):
                result = sqlite3_bind_int64(statement, position, integer)
            case .uuid(let uuid):
                result = withUnsafeBytes(of: uuid.uuid) { sqlite3_bind_blob(statement, position, $0.baseAddress, 16, tandem_sqlite_transient()) }
            }
            guard result == SQLITE_OK else { throw ColumnReaderError(code: result, message: String(cString: sqlite3_errmsg(handle)), sql: sql) }
        }
        while true {
            result = sqlite3_step(statement)
            if result == SQLITE_DONE { return }
            guard result == SQLITE_ROW else { throw ColumnReaderError(code: result, message: String(cString: sqlite3_errmsg(handle)), sql: sql) }
            try body(RawRow(statement))
        }
    }
}

struct ColumnReaderError: Error, CustomStringConvertible {
    var code: Int32
    var message: String
    var sql: String?

    var description: String { "SQLite error \(code): \(message)" + (sql.map { " in \($0.prefix(200))" } ?? "") }
}
