import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// A stored pair with the inconvenience each participant has carried so far.
struct StoredPair: Sendable, Equatable {
    var pair: Pair
    var burdenMentor: Double
    var burdenMentee: Double
}

/// What a booking writes.
struct NewMeeting: Sendable {
    var id: UUID
    var pair: Pair
    var start: Int64
    var end: Int64
    var timeZone: String
    var agenda: String?
    var videoURL: String
    var inconvenienceMentor: Double
    var inconvenienceMentee: Double
    var seriesID: UUID?
    var occurrence: Int?
}

/// An idempotency key and the digest of the request it was first used with.
struct IdempotencyKey: Sendable {
    var key: String
    var requestDigest: [UInt8]
}

extension SchedulingStore {
    // MARK: Availability and pairs

    func availability(organisation: UUID, person: UUID) async throws -> Availability? {
        try await database.quickRead { connection in
            guard let row = try connection.first("SELECT data, version, updated_at FROM availability WHERE org_id = ? AND person_id = ?", organisation, person),
                  let blob = row.blob(0) else { return nil }
            var availability = try CBORDecoder().decode(Availability.self, from: blob)
            availability.version = Int(row.int(1) ?? 1)
            availability.updatedAt = Date(timeIntervalSince1970: row.double(2) ?? 0)
            return availability
        }
    }

    func setAvailability(organisation: UUID, _ availability: Availability, now: Date) async throws -> Availability {
        try await database.write { connection in
            var stored = availability
            stored.version = nil
            stored.updatedAt = nil
            let current = try connection.first("SELECT version FROM availability WHERE org_id = ? AND person_id = ?", organisation, availability.personID)
            let currentVersion = current.flatMap { $0.int(0) }.map(Int.init)
            if let sent = availability.version, let currentVersion, sent != currentVersion {
                throw RPCError(code: .aborted, message: "availability changed: you sent version \(sent), the current version is \(currentVersion); read it again")
            }
            let version = (currentVersion ?? 0) + 1
            try connection.execute("""
                INSERT INTO availability (org_id, person_id, data, version, updated_at) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (org_id, person_id) DO UPDATE SET data = excluded.data, version = excluded.version, updated_at = excluded.updated_at
                """, organisation, availability.personID, Array(try CBOREncoder().encode(stored)), version, now.timeIntervalSince1970)
            stored.version = version
            stored.updatedAt = now
            return stored
        }
    }

    static func pair(_ row: SQLiteRow, organisation: UUID) throws -> StoredPair {
        guard let match = row.uuid(0), let program = row.uuid(1), let mentor = row.uuid(2), let mentee = row.uuid(3) else {
            throw SchedulingStoreError.corrupt("pair")
        }
        return StoredPair(
            pair: Pair(matchID: match, programID: program, mentorID: mentor, menteeID: mentee, active: row.int(4) == 1),
            burdenMentor: row.double(5) ?? 0, burdenMentee: row.double(6) ?? 0
        )
    }

    func pair(organisation: UUID, match: UUID) async throws -> StoredPair? {
        try await database.quickRead { connection in
            try connection.first(
                "SELECT match_id, program_id, mentor_id, mentee_id, active, burden_mentor, burden_mentee FROM pairs WHERE org_id = ? AND match_id = ?",
                organisation, match
            ).map { try Self.pair($0, organisation: organisation) }
        }
    }

    /// Registers a pair, or changes whether it is active. The people of a pair never change.
    func registerPair(organisation: UUID, _ pair: Pair, now: Date) async throws -> StoredPair {
        try await database.write { connection in
            if let row = try connection.first(
                "SELECT match_id, program_id, mentor_id, mentee_id, active, burden_mentor, burden_mentee FROM pairs WHERE org_id = ? AND match_id = ?",
                organisation, pair.matchID
            ) {
                var existing = try Self.pair(row, organisation: organisation)
                guard existing.pair.mentorID == pair.mentorID, existing.pair.menteeID == pair.menteeID, existing.pair.programID == pair.programID else {
                    throw RPCError(
                        code: .alreadyExists, message: "matchID: this match is registered with other people or another program",
                        details: [.badRequest([.init(field: "matchID", rule: "unique", description: "registered with other people or another program")])]
                    )
                }
                if existing.pair.active != pair.active {
                    try connection.execute("UPDATE pairs SET active = ? WHERE org_id = ? AND match_id = ?", pair.active, organisation, pair.matchID)
                    existing.pair.active = pair.active
                }
                return existing
            }
            try connection.execute("""
                INSERT INTO pairs (org_id, match_id, program_id, mentor_id, mentee_id, active, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                """, organisation, pair.matchID, pair.programID, pair.mentorID, pair.menteeID, pair.active, now.timeIntervalSince1970)
            return StoredPair(pair: pair, burdenMentor: 0, burdenMentee: 0)
        }
    }

    /// What finding slots reads, in one snapshot: both people's meetings and the pair's burden.
    func slotInputs(organisation: UUID, match: UUID, mentor: UUID, mentee: UUID, from: Int64, to: Int64) async throws
        -> (mentorBusy: [Interval], menteeBusy: [Interval], burdenMentor: Double, burdenMentee: Double) {
        // Three indexed lookups.
        try await database.quickRead { connection in
            let burden = try connection.first("SELECT burden_mentor, burden_mentee FROM pairs WHERE org_id = ? AND match_id = ?", organisation, match)
            return (
                try Self.busy(connection, organisation: organisation, person: mentor, from: from, to: to),
                try Self.busy(connection, organisation: organisation, person: mentee, from: from, to: to),
                burden?.double(0) ?? 0, burden?.double(1) ?? 0
            )
        }
    }

    static func busy(_ connection: SQLiteConnection, organisation: UUID, person: UUID, from: Int64, to: Int64) throws -> [Interval] {
        try connection.query(
            "SELECT start, end FROM attendances WHERE org_id = ? AND person_id = ? AND start > ? AND start < ? AND end > ? AND active = 1",
            organisation, person, from - maxDurationSeconds, to, from
        ).map { Interval(start: $0.int(0) ?? 0, end: $0.int(1) ?? 0) }
    }

    // MARK: Booking

    /// Inserts the attendances of a meeting; an overlap is FAILED_PRECONDITION naming the
    /// meeting it collides with.
    static func attend(_ connection: SQLiteConnection, organisation: UUID, meeting: UUID, people: [UUID], start: Int64, end: Int64) throws {
        for person in people {
            do {
                try connection.execute(
                    "INSERT INTO attendances (org_id, person_id, start, end, meeting_id) VALUES (?, ?, ?, ?, ?)", organisation, person, start, end, meeting
                )
            } catch let error as SQLiteError where error.isConstraintViolation {
                let conflict = try connection.first("""
                    SELECT meeting_id, start, end FROM attendances
                    WHERE org_id = ? AND person_id = ? AND start > ? AND start < ? AND end > ? AND meeting_id != ? AND active = 1 LIMIT 1
                    """, organisation, person, start - maxDurationSeconds, end, start, meeting)
                let conflictID = conflict?.uuid(0)?.uuidString.lowercased() ?? "unknown"
                throw RPCError(
                    code: .failedPrecondition,
                    message: "person \(person.uuidString.lowercased()) already has meeting \(conflictID) at that time",
                    details: [.preconditionFailure([.init(type: "conflict", subject: "meeting/" + conflictID, description: "overlaps an existing meeting of \(person.uuidString.lowercased())")])]
                )
            }
        }
    }

    static func removeAttendances(_ connection: SQLiteConnection, organisation: UUID, meeting: Meeting) throws {
        for person in meeting.participantIDs {
            try connection.execute(
                "DELETE FROM attendances WHERE org_id = ? AND person_id = ? AND start = ? AND meeting_id = ?",
                organisation, person, Int64(meeting.start.timeIntervalSince1970), meeting.id
            )
        }
    }

    /// Built once: statements are looked up by their text, and this one is long.
    static let insertMeetingSQL = """
        INSERT INTO meetings (id, org_id, match_id, program_id, mentor_id, mentee_id, start, end, time_zone, status, agenda, video_url,
                              series_id, occurrence, original_start, sequence, version, created_at, updated_at, inc_mentor, inc_mentee,
                              scheduled_at, change_seq)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'scheduled', ?, ?, ?, ?, ?, 0, 1, ?, ?, ?, ?, ?, \(nextChange))
        """

    static func insertMeeting(_ connection: SQLiteConnection, organisation: UUID, _ meeting: NewMeeting, now: Date) throws {
        try connection.execute(
            insertMeetingSQL,
            meeting.id, organisation, meeting.pair.matchID, meeting.pair.programID, meeting.pair.mentorID, meeting.pair.menteeID,
            meeting.start, meeting.end, meeting.timeZone, meeting.agenda, meeting.videoURL, meeting.seriesID, meeting.occurrence,
            meeting.seriesID == nil ? nil : meeting.start, now.timeIntervalSince1970, now.timeIntervalSince1970,
            meeting.inconvenienceMentor, meeting.inconvenienceMentee, Int64(now.timeIntervalSince1970)
        )
        try attend(connection, organisation: organisation, meeting: meeting.id, people: [meeting.pair.mentorID, meeting.pair.menteeID], start: meeting.start, end: meeting.end)
        try addBurden(connection, organisation: organisation, match: meeting.pair.matchID, mentor: meeting.inconvenienceMentor, mentee: meeting.inconvenienceMentee)
    }

    static func addBurden(_ connection: SQLiteConnection, organisation: UUID, match: UUID, mentor: Double, mentee: Double) throws {
        guard mentor != 0 || mentee != 0 else { return }
        try connection.execute(
            "UPDATE pairs SET burden_mentor = burden_mentor + ?, burden_mentee = burden_mentee + ? WHERE org_id = ? AND match_id = ?",
            mentor, mentee, organisation, match
        )
    }

    /// FAILED_PRECONDITION unless the pair is active. Checked again in the booking's transaction
    /// (one primary-key lookup): the caller's copy of the pair may be up to 30 seconds old, and a
    /// match that ended or an erasure committed since must not be followed by a new meeting.
    static func requireActive(_ connection: SQLiteConnection, organisation: UUID, match: UUID) throws {
        guard try connection.first("SELECT active FROM pairs WHERE org_id = ? AND match_id = ?", organisation, match)?.int(0) == 1 else {
            throw RPCError.failedPrecondition(type: "state", subject: "pair/" + match.uuidString.lowercased(), "this pair's match has ended; no new meetings")
        }
    }

    /// Books a meeting in one transaction. With an idempotency key already used for the same
    /// request, returns the meeting it booked then; for another request, INVALID_ARGUMENT.
    func book(organisation: UUID, _ meeting: NewMeeting, idempotency: IdempotencyKey?, now: Date) async throws -> Meeting {
        try await database.write { connection in
            // The key is claimed first (one statement for a new key, the usual case); a key already
            // used is read back and answered with its meeting.
            if let idempotency, try connection.execute(
                "INSERT INTO idempotency (org_id, key, request_hash, meeting_id, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (org_id, key) DO NOTHING",
                organisation, idempotency.key, idempotency.requestDigest, meeting.id, now.timeIntervalSince1970
            ) == 0 {
                guard let row = try connection.first(
                    "SELECT request_hash, meeting_id FROM idempotency WHERE org_id = ? AND key = ?", organisation, idempotency.key
                ) else { throw SchedulingStoreError.corrupt("idempotency key") }
                guard row.blob(0) == idempotency.requestDigest, let original = row.uuid(1) else {
                    throw RPCError.invalidArgument(field: "idempotency-key", rule: "reuse", "this key was already used for a different request")
                }
                guard let meeting = try Self.fetchMeeting(connection, organisation: organisation, id: original) else {
                    throw SchedulingStoreError.corrupt("idempotent meeting")
                }
                return meeting
            }
            try Self.requireActive(connection, organisation: organisation, match: meeting.pair.matchID)
            try Self.insertMeeting(connection, organisation: organisation, meeting, now: now)
            return Meeting(
                id: meeting.id, matchID: meeting.pair.matchID, programID: meeting.pair.programID,
                participantIDs: [meeting.pair.mentorID, meeting.pair.menteeID],
                start: Date(timeIntervalSince1970: TimeInterval(meeting.start)), end: Date(timeIntervalSince1970: TimeInterval(meeting.end)),
                timeZone: meeting.timeZone, status: .scheduled, agenda: meeting.agenda, videoURL: meeting.videoURL, seriesID: meeting.seriesID,
                occurrence: meeting.occurrence, sequence: 0, cancelReason: nil, version: 1, createdAt: now, updatedAt: now
            )
        }
    }

    /// What an idempotency key was first used for, when it was used for this same request: the
    /// id it stored (a meeting's, or a series'). Nil for a key not used yet, or used for another
    /// request. Read once durable, as the first call's answer was.
    func idempotentOriginal(organisation: UUID, _ idempotency: IdempotencyKey) async throws -> UUID? {
        try await database.durableRead { connection in
            guard let row = try connection.first(
                "SELECT request_hash, meeting_id FROM idempotency WHERE org_id = ? AND key = ?", organisation, idempotency.key
            ), row.blob(0) == idempotency.requestDigest else { return nil }
            return row.uuid(1)
        }
    }

    /// Whether the caller may change a meeting (`AuthenticatedCaller.mayUse`).
    typealias MeetingAccess = @Sendable (Meeting) -> Bool

    /// Runs `change` on a meeting of the organisation inside a write transaction. `authorized`
    /// decides, in the same transaction (no read before it), whether the caller may change the
    /// meeting; one they may not is NOT_FOUND, as if it did not exist.
    private func change(
        organisation: UUID, meeting id: UUID, authorized: @escaping MeetingAccess,
        _ change: @escaping @Sendable (SQLiteConnection, Meeting, SQLiteRow) throws -> Void
    ) async throws -> Meeting {
        try await database.write { connection in
            guard let row = try connection.first("SELECT \(Self.meetingColumns) FROM meetings WHERE id = ? AND org_id = ?", id, organisation),
                  case let meeting = try Self.meeting(row), authorized(meeting) else {
                throw RPCError.notFound("meeting", id.uuidString.lowercased())
            }
            try change(connection, meeting, row)
            guard let updated = try Self.fetchMeeting(connection, organisation: organisation, id: id) else { throw SchedulingStoreError.corrupt("meeting") }
            return updated
        }
    }

    func reschedule(
        organisation: UUID, meeting id: UUID, start: Int64, end: Int64, version: Int?, inconvenience: (Double, Double), now: Date,
        authorized: @escaping MeetingAccess
    ) async throws -> Meeting {
        try await change(organisation: organisation, meeting: id, authorized: authorized) { connection, meeting, row in
            if let version, version != meeting.version {
                throw RPCError(code: .aborted, message: "meeting changed: you sent version \(version), the current version is \(meeting.version); read it again")
            }
            guard meeting.status == .scheduled else {
                throw RPCError.failedPrecondition(type: "state", subject: "meeting/" + id.uuidString.lowercased(), "only a scheduled meeting can be rescheduled; this one is \(meeting.status.rawValue)")
            }
            try Self.removeAttendances(connection, organisation: organisation, meeting: meeting)
            try Self.attend(connection, organisation: organisation, meeting: id, people: meeting.participantIDs, start: start, end: end)
            try Self.addBurden(connection, organisation: organisation, match: meeting.matchID,
                               mentor: inconvenience.0 - (row.double(19) ?? 0), mentee: inconvenience.1 - (row.double(20) ?? 0))
            try connection.execute("""
                UPDATE meetings SET start = ?, end = ?, sequence = sequence + 1, version = version + 1, updated_at = ?, inc_mentor = ?, inc_mentee = ?,
                                    scheduled_at = ?, change_seq = \(Self.nextChange)
                WHERE id = ?
                """, start, end, now.timeIntervalSince1970, inconvenience.0, inconvenience.1, Int64(now.timeIntervalSince1970), id)
            // Reminders for the new time are due afresh.
            try connection.execute("DELETE FROM reminder_acks WHERE meeting_id = ?", id)
        }
    }

    /// Cancels a meeting (idempotent: cancelling a cancelled meeting changes nothing).
    func cancel(organisation: UUID, meeting id: UUID, reason: String, now: Date, authorized: @escaping MeetingAccess) async throws -> Meeting {
        try await change(organisation: organisation, meeting: id, authorized: authorized) { connection, meeting, row in
            switch meeting.status {
            case .cancelled: return
            case .held, .noShow:
                throw RPCError.failedPrecondition(type: "state", subject: "meeting/" + id.uuidString.lowercased(), "the meeting is already \(meeting.status.rawValue)")
            case .scheduled:
                try Self.cancelRow(connection, organisation: organisation, meeting: meeting, row: row, reason: reason, now: now)
            }
        }
    }

    /// Cancels a meeting row and stamps it with the next change (one write of the row).
    static let cancelSQL = """
        UPDATE meetings SET status = 'cancelled', cancel_reason = ?, sequence = sequence + 1, version = version + 1, updated_at = ?,
                            change_seq = \(nextChange)
        WHERE id = ?
        """

    static func cancelRow(_ connection: SQLiteConnection, organisation: UUID, meeting: Meeting, row: SQLiteRow, reason: String, now: Date) throws {
        for person in meeting.participantIDs {
            try connection.execute(
                "UPDATE attendances SET active = 0 WHERE org_id = ? AND person_id = ? AND start = ? AND meeting_id = ?",
                organisation, person, Int64(meeting.start.timeIntervalSince1970), meeting.id
            )
        }
        try addBurden(connection, organisation: organisation, match: meeting.matchID, mentor: -(row.double(19) ?? 0), mentee: -(row.double(20) ?? 0))
        try connection.execute(cancelSQL, reason, now.timeIntervalSince1970, meeting.id)
    }

    func setStatus(organisation: UUID, meeting id: UUID, status: MeetingStatus, now: Date, authorized: @escaping MeetingAccess) async throws -> Meeting {
        try await change(organisation: organisation, meeting: id, authorized: authorized) { connection, meeting, _ in
            if meeting.status == status { return }
            guard meeting.status == .scheduled || meeting.status == .held || meeting.status == .noShow else {
                throw RPCError.failedPrecondition(type: "state", subject: "meeting/" + id.uuidString.lowercased(), "a cancelled meeting cannot become \(status.rawValue)")
            }
            guard meeting.start <= now else {
                throw RPCError.failedPrecondition(type: "state", subject: "meeting/" + id.uuidString.lowercased(), "the meeting has not started yet")
            }
            try connection.execute("UPDATE meetings SET status = ?, version = version + 1, updated_at = ? WHERE id = ?", status.rawValue, now.timeIntervalSince1970, id)
            try Self.recordChange(connection, meeting: id)
        }
    }

    func updateAgenda(
        organisation: UUID, meeting id: UUID, agenda: String?, version: Int?, now: Date, authorized: @escaping MeetingAccess
    ) async throws -> Meeting {
        try await change(organisation: organisation, meeting: id, authorized: authorized) { connection, meeting, _ in
            if let version, version != meeting.version {
                throw RPCError(code: .aborted, message: "meeting changed: you sent version \(version), the current version is \(meeting.version); read it again")
            }
            guard meeting.status != .cancelled else {
                throw RPCError.failedPrecondition(type: "state", subject: "meeting/" + id.uuidString.lowercased(), "the meeting is cancelled; its agenda is kept as it was")
            }
            try connection.execute(
                "UPDATE meetings SET agenda = ?, sequence = sequence + 1, version = version + 1, updated_at = ? WHERE id = ?", agenda, now.timeIntervalSince1970, id
            )
            try Self.recordChange(connection, meeting: id)
        }
    }

    func meeting(organisation: UUID, id: UUID) async throws -> Meeting? {
        try await database.read { try Self.fetchMeeting($0, organisation: organisation, id: id) }
    }

    /// The filters of `meetings` as SQL conditions (each starting with " AND"): the meeting's
    /// columns prefixed with `meeting` (a table alias and a dot, or nothing), its start and id
    /// named `start` and `id` (the attendance's in a join, which orders the rows).
    static func meetingFilters(
        person: UUID?, from: Int64?, to: Int64?, includeCancelled: Bool, programs: Set<UUID>?, after cursor: (Int64, UUID)?,
        meeting: String, start: String, id: String
    ) -> (sql: String, values: [any SQLiteBindable]) {
        var sql = ""
        var values: [any SQLiteBindable] = []
        if let person {
            sql += " AND (\(meeting)mentor_id = ? OR \(meeting)mentee_id = ?)"
            values += [person, person]
        }
        if let from {
            sql += " AND \(start) >= ?"
            values.append(from)
        }
        if let to {
            sql += " AND \(start) < ?"
            values.append(to)
        }
        if !includeCancelled { sql += " AND \(meeting)status != 'cancelled'" }
        if let programs {
            sql += " AND \(meeting)program_id IN (\(programs.map { _ in "?" }.joined(separator: ", ")))"
            values += programs.map { $0 as any SQLiteBindable }
        }
        if let cursor {
            sql += " AND (\(start), \(id)) > (?, ?)"
            values += [cursor.0, cursor.1]
        }
        return (sql, values)
    }

    /// Meetings of a person or a pair by start, after `cursor` (start, id); `limit + 1` at most;
    /// only those of `programs` when given. One of `person` and `match` is required.
    func meetings(
        organisation: UUID, person: UUID?, match: UUID?, programs: Set<UUID>? = nil, from: Int64?, to: Int64?, includeCancelled: Bool,
        after cursor: (Int64, UUID)?, limit: Int
    ) async throws -> [Meeting] {
        if let match {
            let filters = Self.meetingFilters(
                person: person, from: from, to: to, includeCancelled: includeCancelled, programs: programs, after: cursor,
                meeting: "m.", start: "a.start", id: "a.meeting_id"
            )
            let conditions = filters.sql, bound = BoundValues(filters.values)
            return try await database.read {
                try Self.matchMeetingRows($0, organisation: organisation, match: match, conditions: conditions, values: bound.values, limit: limit + 1)
                    .map(Self.meeting)
            }
        }
        // A person's meetings: walk their attendances (one index range).
        if let person {
            return try await database.read { connection in
                var meetings: [Meeting] = []
                var sql = "SELECT meeting_id, start FROM attendances WHERE org_id = ? AND person_id = ?"
                var values: [any SQLiteBindable] = [organisation, person]
                if !includeCancelled { sql += " AND active = 1" }
                if let from { sql += " AND start >= ?"; values.append(from) }
                if let to { sql += " AND start < ?"; values.append(to) }
                if let cursor { sql += " AND (start, meeting_id) > (?, ?)"; values += [cursor.0, cursor.1] }
                sql += " ORDER BY start, meeting_id"
                // Filtered by program, a page may need more attendances than it shows.
                if programs == nil {
                    sql += " LIMIT ?"
                    values.append(limit + 1)
                }
                for row in try connection.query(sql, values) {
                    guard let id = row.uuid(0), let meeting = try Self.fetchMeeting(connection, organisation: organisation, id: id) else { continue }
                    if let programs, !programs.contains(meeting.programID) { continue }
                    meetings.append(meeting)
                    if meetings.count > limit { break }
                }
                return meetings
            }
        }
        // All of an organisation's meetings in start order: no index serves that (it would read and
        // sort every meeting), and no method asks for it, so it is refused.
        throw RPCError.invalidArgument(field: "personID", rule: "required", "give personID or matchID")
    }
}

extension SchedulingStore {
    // MARK: Change feed

    /// Meetings changed after `sequence`, in change order, with their organisation — durable
    /// changes only: a follower must never hold a change the service could lose.
    func meetingChanges(after sequence: Int, limit: Int) async throws -> [MeetingChange] {
        try await database.durableRead { connection in
            try connection.query(
                "SELECT \(Self.meetingColumns), change_seq, org_id FROM meetings WHERE change_seq > ? ORDER BY change_seq LIMIT ?", sequence, limit
            ).map { row in
                guard let organisation = row.uuid(22), let change = row.int(21) else { throw SchedulingStoreError.corrupt("meeting change") }
                return MeetingChange(sequence: Int(change), organisationID: organisation, meeting: try Self.meeting(row))
            }
        }
    }
}

/// Bound values carried into a database closure.
struct BoundValues: @unchecked Sendable {
    // Safe: the values are immutable strings, numbers, UUIDs and byte arrays.
    let values: [any SQLiteBindable]

    init(_ values: [any SQLiteBindable]) {
        self.values = values
    }
}
