import Foundation
import Logging
import TandemProtocols
import TandemRandom
import TandemStore
import TandemWire

/// Scheduling's data in SQLite. Every table is keyed by organisation, so nothing one
/// organisation writes can touch another's — not even the "is this person free" check.
///
/// No double booking is enforced by the database itself: each meeting has one `attendances`
/// row per participant (inactive once cancelled, so a person's meetings are one index range),
/// and a trigger refuses an active attendance that overlaps another active one of the same
/// person. The check and the insert happen in the same transaction, so concurrent
/// bookings cannot both pass it, whatever the process or the lock.
final class SchedulingStore: Sendable {
    let database: SQLiteDatabase
    let logger: Logger

    /// The longest meeting (the overlap trigger's look-back depends on it).
    static let maxDurationSeconds: Int64 = 8 * 3600

    init(path: String, checkpointPages: Int, logger: Logger) throws {
        self.logger = logger
        // A long log between checkpoints: bookings touch random pages, and a page written many times
        // is copied into the database file once per checkpoint (8,192 pages instead of 1,000: about
        // +25% bookings/s). Copied on a thread of their own, so that bookings do not wait for the
        // copy: with the log's writes gathered (the "tandem" VFS), 16,384 pages copied in the
        // background gave 7% more bookings/s than 8,192 copied by the writer (BENCHMARKS.md). Each
        // group commit's sync runs on a thread of its own while the writer runs the next group
        // (pipelined syncs: about 6% more bookings/s; a booking is still answered only once durable).
        //
        // 65,536 pages (256 MiB) by default (`--checkpoint-pages`): under a booking storm the log
        // grows by ~300 MB/s, faster than a background pass can leave it nearly copied, so the writer
        // copies what is left (and every write waits) when the log reaches four times this (1 GiB,
        // `CheckpointPolicy`). With 16,384 pages that wait came about every second; now every few
        // seconds: in alternating runs +27–31% bookings/s and a p99 of 19–23 ms instead of 34–37 ms
        // (20 s), 38 instead of 52 ms (60 s). The price: up to 1 GiB of log on disk (the file is
        // written over when the log starts over, not cut back: `SQLiteDatabase.logSizeLimit`), and
        // up to 1 GiB to read after a crash (a kill -9 run restarted within a second).
        database = try SQLiteDatabase(
            path: path, migrations: Self.migrations, readers: 2, inlineReaders: 2, maxBatch: 256, checkpointPages: checkpointPages, backgroundCheckpoints: true,
            pipelinedSyncs: true, logger: logger
        )
    }

    func close() {
        database.close()
    }

    static let migrations: [Migration] = [
        Migration(version: 1, """
            CREATE TABLE availability (
                org_id BLOB NOT NULL, person_id BLOB NOT NULL, data BLOB NOT NULL, version INTEGER NOT NULL, updated_at REAL NOT NULL,
                PRIMARY KEY (org_id, person_id)
            ) WITHOUT ROWID;
            CREATE TABLE pairs (
                org_id BLOB NOT NULL, match_id BLOB NOT NULL, program_id BLOB NOT NULL, mentor_id BLOB NOT NULL, mentee_id BLOB NOT NULL,
                active INTEGER NOT NULL, burden_mentor REAL NOT NULL DEFAULT 0, burden_mentee REAL NOT NULL DEFAULT 0, created_at REAL NOT NULL,
                PRIMARY KEY (org_id, match_id)
            ) WITHOUT ROWID;
            CREATE TABLE meetings (
                id BLOB PRIMARY KEY,
                org_id BLOB NOT NULL,
                match_id BLOB NOT NULL,
                program_id BLOB NOT NULL,
                mentor_id BLOB NOT NULL,
                mentee_id BLOB NOT NULL,
                start INTEGER NOT NULL,
                end INTEGER NOT NULL CHECK (end > start AND end - start <= 28800),
                time_zone TEXT NOT NULL,
                status TEXT NOT NULL,
                agenda TEXT,
                video_url TEXT NOT NULL,
                series_id BLOB,
                occurrence INTEGER,
                original_start INTEGER,
                sequence INTEGER NOT NULL,
                cancel_reason TEXT,
                version INTEGER NOT NULL,
                created_at REAL NOT NULL,
                updated_at REAL NOT NULL,
                inc_mentor REAL NOT NULL,
                inc_mentee REAL NOT NULL,
                scheduled_at INTEGER NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX meetings_by_match ON meetings (org_id, match_id, start);
            CREATE INDEX meetings_by_start ON meetings (org_id, start) WHERE status = 'scheduled';
            CREATE INDEX meetings_by_series ON meetings (series_id, occurrence) WHERE series_id IS NOT NULL;
            CREATE TABLE attendances (
                org_id BLOB NOT NULL, person_id BLOB NOT NULL, start INTEGER NOT NULL, end INTEGER NOT NULL, meeting_id BLOB NOT NULL,
                active INTEGER NOT NULL DEFAULT 1,
                PRIMARY KEY (org_id, person_id, start, meeting_id)
            ) WITHOUT ROWID;
            CREATE TRIGGER attendances_no_overlap BEFORE INSERT ON attendances
            WHEN NEW.active = 1
            BEGIN
                SELECT RAISE(ABORT, 'tandem: overlapping meeting')
                WHERE EXISTS (
                    SELECT 1 FROM attendances
                    WHERE org_id = NEW.org_id AND person_id = NEW.person_id
                      AND start > NEW.start - 28800 AND start < NEW.end AND end > NEW.start AND active = 1
                );
            END;
            CREATE TRIGGER attendances_no_overlap_on_reactivation BEFORE UPDATE OF active ON attendances
            WHEN NEW.active = 1 AND OLD.active = 0
            BEGIN
                SELECT RAISE(ABORT, 'tandem: overlapping meeting')
                WHERE EXISTS (
                    SELECT 1 FROM attendances
                    WHERE org_id = NEW.org_id AND person_id = NEW.person_id AND meeting_id != NEW.meeting_id
                      AND start > NEW.start - 28800 AND start < NEW.end AND end > NEW.start AND active = 1
                );
            END;
            CREATE TABLE series (
                id BLOB PRIMARY KEY, org_id BLOB NOT NULL, match_id BLOB NOT NULL, time_zone TEXT NOT NULL, every_weeks INTEGER NOT NULL,
                count INTEGER, until INTEGER, first_start INTEGER NOT NULL, duration INTEGER NOT NULL, agenda TEXT, sequence INTEGER NOT NULL,
                cancelled INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL
            ) WITHOUT ROWID;
            CREATE TABLE idempotency (
                org_id BLOB NOT NULL, key TEXT NOT NULL, request_hash BLOB NOT NULL, meeting_id BLOB NOT NULL, created_at REAL NOT NULL,
                PRIMARY KEY (org_id, key)
            ) WITHOUT ROWID;
            CREATE INDEX idempotency_by_age ON idempotency (created_at);
            CREATE TABLE reminder_acks (
                meeting_id BLOB NOT NULL, kind TEXT NOT NULL, acked_at REAL NOT NULL, PRIMARY KEY (meeting_id, kind)
            ) WITHOUT ROWID;
            """),
        // The change feed (scheduling.ListMeetingChanges): every meeting write stamps the meeting
        // with the next change sequence in the same transaction. One column and one index entry
        // per meeting, no log table: the feed is compacted (a meeting appears at its last change).
        Migration(version: 2, """
            ALTER TABLE meetings ADD COLUMN change_seq INTEGER;
            UPDATE meetings SET change_seq = ordered.seq
            FROM (SELECT id, row_number() OVER (ORDER BY updated_at, id) AS seq FROM meetings) AS ordered
            WHERE meetings.id = ordered.id;
            CREATE UNIQUE INDEX meetings_by_change ON meetings (change_seq);
            """),
        // Where scheduling is in the feeds it follows (matching's match changes).
        Migration(version: 3, FeedCursors.schema),
        // A pair's meetings are found through its mentor's attendances (`matchMeetingRows`): one
        // index fewer to write a random page of for every booking.
        Migration(version: 4, "DROP INDEX IF EXISTS meetings_by_match;"),
        // An erased person's pairs (identity's erasure feed, up to 500 people a page in the writer's
        // transaction): without them, each person read all of the organisation's pairs. Bookings
        // change only the pairs' burden, which these do not hold.
        Migration(version: 5, """
            CREATE INDEX pairs_by_mentor ON pairs (org_id, mentor_id, mentee_id, active);
            CREATE INDEX pairs_by_mentee ON pairs (org_id, mentee_id, mentor_id, active);
            """),
    ]

    /// The next change sequence, as an SQL expression (evaluated inside the write transaction,
    /// whose single writer makes sequences commit in order).
    static let nextChange = "(SELECT coalesce(max(change_seq), 0) + 1 FROM meetings)"

    /// Stamps a meeting with the next change sequence.
    static func recordChange(_ connection: SQLiteConnection, meeting id: UUID) throws {
        try connection.execute("UPDATE meetings SET change_seq = \(nextChange) WHERE id = ?", id)
    }

    // MARK: Row mapping

    static let meetingColumns = """
        id, match_id, program_id, mentor_id, mentee_id, start, end, time_zone, status, agenda, video_url, series_id, occurrence, sequence,
        cancel_reason, version, created_at, updated_at, original_start, inc_mentor, inc_mentee
        """

    /// `meetingColumns` of the meetings table named `m` in a join.
    static let joinedMeetingColumns = meetingColumns.split(separator: ",").map { "m." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", ")

    /// A pair's meetings, in (start, id) order, as rows of `meetingColumns`: through its mentor's
    /// attendances (a meeting keeps its attendances when cancelled), for the pair's people never
    /// change. `conditions` are more SQL conditions on `a` (the attendance) and `m` (the
    /// meeting), with their `values`. CROSS JOIN keeps the attendances the outer loop: the
    /// planner could otherwise walk all of the organisation's meetings by start.
    static func matchMeetingRows(
        _ connection: SQLiteConnection, organisation: UUID, match: UUID, conditions: String = "", values: [any SQLiteBindable] = [], limit: Int? = nil
    ) throws -> [SQLiteRow] {
        guard let mentor = try connection.first("SELECT mentor_id FROM pairs WHERE org_id = ? AND match_id = ?", organisation, match)?.uuid(0) else {
            return []
        }
        var sql = """
            SELECT \(joinedMeetingColumns) FROM attendances a CROSS JOIN meetings m ON m.id = a.meeting_id
            WHERE a.org_id = ? AND a.person_id = ? AND m.org_id = ? AND m.match_id = ?\(conditions)
            ORDER BY a.start, a.meeting_id
            """
        var bound: [any SQLiteBindable] = [organisation, mentor, organisation, match] + values
        if let limit {
            sql += " LIMIT ?"
            bound.append(limit)
        }
        return try connection.query(sql, bound)
    }

    static func meeting(_ row: SQLiteRow) throws -> Meeting {
        guard let id = row.uuid(0), let match = row.uuid(1), let program = row.uuid(2), let mentor = row.uuid(3), let mentee = row.uuid(4),
              let status = MeetingStatus(rawValue: row.text(8) ?? "") else { throw SchedulingStoreError.corrupt("meeting") }
        return Meeting(
            id: id, matchID: match, programID: program, participantIDs: [mentor, mentee],
            start: Date(timeIntervalSince1970: TimeInterval(row.int(5) ?? 0)), end: Date(timeIntervalSince1970: TimeInterval(row.int(6) ?? 0)),
            timeZone: row.text(7) ?? "UTC", status: status, agenda: row.text(9), videoURL: row.text(10) ?? "", seriesID: row.uuid(11),
            occurrence: row.int(12).map(Int.init), sequence: Int(row.int(13) ?? 0), cancelReason: row.text(14), version: Int(row.int(15) ?? 1),
            createdAt: Date(timeIntervalSince1970: row.double(16) ?? 0), updatedAt: Date(timeIntervalSince1970: row.double(17) ?? 0)
        )
    }

    static func fetchMeeting(_ connection: SQLiteConnection, organisation: UUID, id: UUID) throws -> Meeting? {
        try connection.first("SELECT \(meetingColumns) FROM meetings WHERE id = ? AND org_id = ?", id, organisation).map(meeting)
    }
}

enum SchedulingStoreError: Error, CustomStringConvertible {
    case corrupt(String)

    var description: String {
        switch self {
        case .corrupt(let what): return "stored data is corrupt (\(what))"
        }
    }
}

/// Time-ordered UUIDs (version 7): new meetings land at the end of the primary-key index
/// instead of on a random page, which keeps inserts fast with millions of rows.
enum TimeOrderedID {
    static func make(now: Date = Date()) -> UUID {
        let milliseconds = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        var generator = SecureRandom()
        let random = generator.next() as UInt64
        let random2 = generator.next() as UInt64
        var uuid: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &uuid) { bytes in
            for index in 0..<6 { bytes[index] = UInt8((milliseconds >> (8 * (5 - UInt64(index)))) & 0xFF) }
            for index in 6..<16 { bytes[index] = UInt8(truncatingIfNeeded: (index < 14 ? random : random2) >> (8 * UInt64(index % 8))) }
            bytes[6] = 0x70 | (bytes[6] & 0x0F)
            bytes[8] = 0x80 | (bytes[8] & 0x3F)
        }
        return UUID(uuid: uuid)
    }
}
