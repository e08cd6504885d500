import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// A series as booked.
struct StoredSeries: Sendable {
    var id: UUID
    var matchID: UUID
    var timeZone: String
    var everyWeeks: Int
    var count: Int?
    var until: Int64?
    var firstStart: Int64
    var durationMinutes: Int
    var agenda: String?
    var sequence: Int
    var cancelled: Bool
}

/// A reminder that is due.
struct DueReminder: Sendable {
    var meeting: Meeting
    var kind: ReminderKind
    var dueAt: Int64
}

enum ReminderKind: String, Sendable, CaseIterable {
    case dayBefore = "24h"
    case quarterHour = "15m"

    var lead: Int64 {
        switch self {
        case .dayBefore: return 24 * 3600
        case .quarterHour: return 15 * 60
        }
    }
}

extension SchedulingStore {
    // MARK: Series

    /// Books every occurrence or none: the first conflict fails the whole series, naming the
    /// occurrence and the meeting it collides with.
    func bookSeries(
        organisation: UUID, series: StoredSeries, occurrences: [NewMeeting], idempotency: IdempotencyKey?, now: Date
    ) async throws -> (StoredSeries, [Meeting]) {
        try await database.write { connection in
            if let idempotency {
                if let row = try connection.first(
                    "SELECT request_hash, meeting_id FROM idempotency WHERE org_id = ? AND key = ?", organisation, idempotency.key
                ) {
                    guard row.blob(0) == idempotency.requestDigest, let original = row.uuid(1),
                          let stored = try connection.first("SELECT \(Self.seriesColumns) FROM series WHERE id = ? AND org_id = ?", original, organisation) else {
                        throw RPCError.invalidArgument(field: "idempotency-key", rule: "reuse", "this key was already used for a different request")
                    }
                    return (try Self.series(stored), try Self.seriesMeetings(connection, organisation: organisation, series: original))
                }
                try connection.execute(
                    "INSERT INTO idempotency (org_id, key, request_hash, meeting_id, created_at) VALUES (?, ?, ?, ?, ?)",
                    organisation, idempotency.key, idempotency.requestDigest, series.id, now.timeIntervalSince1970
                )
            }
            try Self.requireActive(connection, organisation: organisation, match: series.matchID)
            try connection.execute("""
                INSERT INTO series (id, org_id, match_id, time_zone, every_weeks, count, until, first_start, duration, agenda, sequence, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                """, series.id, organisation, series.matchID, series.timeZone, series.everyWeeks, series.count, series.until, series.firstStart,
                series.durationMinutes, series.agenda, now.timeIntervalSince1970)
            for occurrence in occurrences {
                do {
                    try Self.insertMeeting(connection, organisation: organisation, occurrence, now: now)
                } catch var error as RPCError where error.code == .failedPrecondition {
                    error.message = "occurrence \((occurrence.occurrence ?? 0) + 1) of \(occurrences.count) (\(Date(timeIntervalSince1970: TimeInterval(occurrence.start)))): " + error.message
                    throw error
                }
            }
            return (series, try Self.seriesMeetings(connection, organisation: organisation, series: series.id))
        }
    }

    static func seriesMeetings(_ connection: SQLiteConnection, organisation: UUID, series: UUID) throws -> [Meeting] {
        try connection.query(
            "SELECT \(meetingColumns) FROM meetings WHERE series_id = ? AND org_id = ? ORDER BY occurrence", series, organisation
        ).map(meeting)
    }

    static func series(_ row: SQLiteRow) throws -> StoredSeries {
        guard let id = row.uuid(0), let match = row.uuid(1) else { throw SchedulingStoreError.corrupt("series") }
        return StoredSeries(
            id: id, matchID: match, timeZone: row.text(2) ?? "UTC", everyWeeks: Int(row.int(3) ?? 1), count: row.int(4).map(Int.init),
            until: row.int(5), firstStart: row.int(6) ?? 0, durationMinutes: Int(row.int(7) ?? 0), agenda: row.text(8),
            sequence: Int(row.int(9) ?? 0), cancelled: row.int(10) == 1
        )
    }

    static let seriesColumns = "id, match_id, time_zone, every_weeks, count, until, first_start, duration, agenda, sequence, cancelled"

    func series(organisation: UUID, id: UUID) async throws -> (StoredSeries, [Meeting])? {
        try await database.read { connection in
            guard let row = try connection.first("SELECT \(Self.seriesColumns) FROM series WHERE id = ? AND org_id = ?", id, organisation) else { return nil }
            return (try Self.series(row), try Self.seriesMeetings(connection, organisation: organisation, series: id))
        }
    }

    /// Series by id, for a calendar export, with every occurrence (however long ago it started:
    /// the rule expands from the first) and each occurrence's original start.
    func seriesDetails(organisation: UUID, ids: Set<UUID>) async throws -> (series: [StoredSeries], occurrences: [UUID: [Meeting]], originals: [UUID: Int64]) {
        try await database.read { connection in
            var result: [StoredSeries] = []
            var occurrences: [UUID: [Meeting]] = [:]
            var originals: [UUID: Int64] = [:]
            for id in ids {
                guard let row = try connection.first("SELECT \(Self.seriesColumns) FROM series WHERE id = ? AND org_id = ?", id, organisation) else { continue }
                result.append(try Self.series(row))
                // Through meetings_by_series (series_id, occurrence).
                for occurrence in try connection.query("SELECT \(Self.meetingColumns) FROM meetings WHERE series_id = ? AND org_id = ? ORDER BY occurrence", id, organisation) {
                    let meeting = try Self.meeting(occurrence)
                    occurrences[id, default: []].append(meeting)
                    if let start = occurrence.int(18) { originals[meeting.id] = start }
                }
            }
            return (result, occurrences, originals)
        }
    }

    /// A series' scheduled occurrences from a time on, through the series index: left to itself,
    /// SQLite walked the organisation's upcoming meetings by start (`meetings_by_start`) — inside
    /// the write transaction every booking waits for.
    static let seriesOccurrencesFromSQL = """
        SELECT \(meetingColumns) FROM meetings INDEXED BY meetings_by_series
        WHERE series_id = ? AND org_id = ? AND status = 'scheduled' AND start >= ?
        """

    /// Cancels the scheduled occurrences starting at or after `from`.
    func cancelSeries(organisation: UUID, id: UUID, from: Int64, reason: String, now: Date) async throws -> (StoredSeries, [Meeting]) {
        try await database.write { connection in
            guard let row = try connection.first("SELECT \(Self.seriesColumns) FROM series WHERE id = ? AND org_id = ?", id, organisation) else {
                throw RPCError.notFound("series", id.uuidString.lowercased())
            }
            var series = try Self.series(row)
            var cancelledAny = false
            for meetingRow in try connection.query(
                Self.seriesOccurrencesFromSQL, id, organisation, from
            ) {
                try Self.cancelRow(connection, organisation: organisation, meeting: try Self.meeting(meetingRow), row: meetingRow, reason: reason, now: now)
                cancelledAny = true
            }
            if cancelledAny {
                let remaining = try connection.first("SELECT count(*) FROM meetings WHERE series_id = ? AND status != 'cancelled'", id)?.int(0) ?? 0
                try connection.execute("UPDATE series SET sequence = sequence + 1, cancelled = ? WHERE id = ?", remaining == 0, id)
                series.sequence += 1
                series.cancelled = remaining == 0
            }
            return (series, try Self.seriesMeetings(connection, organisation: organisation, series: id))
        }
    }

    // MARK: Reminders

    /// Reminders of the organisation due at `now` (and not before `since`), whose meeting has
    /// not started and that nobody acknowledged; earliest first.
    func dueReminders(organisation: UUID, now: Int64, since: Int64, limit: Int) async throws -> [DueReminder] {
        // Durable meetings only: a notification sent is not taken back.
        try await database.durableRead { connection in
            var due: [DueReminder] = []
            for kind in ReminderKind.allCases {
                // Due when start - lead <= now, i.e. start <= now + lead, and not before `since`
                // (start >= since + lead); dropped once the meeting starts. A meeting (re)scheduled
                // later than its reminder's due time skips it (a meeting booked 10 hours ahead gets
                // no 24-hour reminder, only the 15-minute one).
                let rows = try connection.query("""
                    SELECT \(Self.meetingColumns) FROM meetings
                    WHERE org_id = ? AND status = 'scheduled' AND start > ? AND start <= ? AND start >= ? AND scheduled_at <= start - ?
                      AND NOT EXISTS (SELECT 1 FROM reminder_acks a WHERE a.meeting_id = meetings.id AND a.kind = ?)
                    ORDER BY start LIMIT ?
                    """, organisation, now, now + kind.lead, since + kind.lead, kind.lead, kind.rawValue, limit)
                for row in rows {
                    let meeting = try Self.meeting(row)
                    due.append(DueReminder(meeting: meeting, kind: kind, dueAt: Int64(meeting.start.timeIntervalSince1970) - kind.lead))
                }
            }
            return Array(due.sorted { $0.dueAt < $1.dueAt }.prefix(limit))
        }
    }

    /// Records acknowledgements (of the organisation's meetings only; others are ignored).
    func acknowledge(organisation: UUID, _ reminders: [(UUID, ReminderKind)], now: Date) async throws {
        try await database.write { connection in
            for (meeting, kind) in reminders {
                guard try connection.first("SELECT 1 FROM meetings WHERE id = ? AND org_id = ?", meeting, organisation) != nil else { continue }
                try connection.execute(
                    "INSERT OR IGNORE INTO reminder_acks (meeting_id, kind, acked_at) VALUES (?, ?, ?)", meeting, kind.rawValue, now.timeIntervalSince1970
                )
            }
        }
    }

    /// Forgets idempotency keys older than `age` seconds.
    func expireIdempotencyKeys(olderThan cutoff: Date) async throws -> Int {
        try await database.write { connection in
            try connection.execute("DELETE FROM idempotency WHERE created_at < ?", cutoff.timeIntervalSince1970)
        }
    }
}
