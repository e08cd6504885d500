import Foundation
import Logging
import TandemProtocols
import TandemStore
import TandemWire

/// Matching's data in SQLite: each program's settings, its participants as last read from
/// identity, and the matches. Every row is keyed by organisation.
///
/// Capacity is enforced inside the write transaction: a proposal or acceptance counts the
/// mentor's matches that hold a place (proposed or active) in the same transaction that writes
/// it, and SQLite runs one write transaction at a time, so concurrent accepts — in this process
/// or another on the same database — cannot both take the last place.
///
/// Every write of a match gives it the next change sequence (`seq`, unique), which is the
/// internal change feed (`matching.ListMatchChanges`) other services follow.
final class MatchingStore: Sendable {
    let database: SQLiteDatabase
    let logger: Logger

    init(path: String, logger: Logger) throws {
        self.logger = logger
        // Participants' profiles are personal data: what is deleted is overwritten (an erasure
        // leaves no copy in free pages).
        database = try SQLiteDatabase(path: path, migrations: Self.migrations, readers: 2, maxBatch: 64, secureDelete: true, logger: logger)
    }

    func close() {
        database.close()
    }

    static let migrations: [Migration] = [
        Migration(version: 1, """
            CREATE TABLE settings (
                org_id BLOB NOT NULL, program_id BLOB NOT NULL, data BLOB NOT NULL, version INTEGER NOT NULL,
                PRIMARY KEY (org_id, program_id)
            ) WITHOUT ROWID;
            CREATE TABLE participants (
                org_id BLOB NOT NULL, program_id BLOB NOT NULL, person_id BLOB NOT NULL, role TEXT NOT NULL, data BLOB NOT NULL,
                PRIMARY KEY (org_id, program_id, person_id)
            ) WITHOUT ROWID;
            CREATE TABLE synced_programs (
                org_id BLOB NOT NULL, program_id BLOB NOT NULL, synced_at REAL NOT NULL, generation INTEGER NOT NULL,
                PRIMARY KEY (org_id, program_id)
            ) WITHOUT ROWID;
            CREATE TABLE matches (
                id BLOB PRIMARY KEY,
                org_id BLOB NOT NULL,
                program_id BLOB NOT NULL,
                mentor_id BLOB NOT NULL,
                mentee_id BLOB NOT NULL,
                status TEXT NOT NULL,
                expires_at REAL,
                seq INTEGER NOT NULL UNIQUE,
                data BLOB NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX matches_by_mentor ON matches (org_id, program_id, mentor_id, status);
            CREATE INDEX matches_by_mentee ON matches (org_id, program_id, mentee_id, status);
            CREATE INDEX matches_by_person_mentor ON matches (org_id, mentor_id, seq);
            CREATE INDEX matches_by_person_mentee ON matches (org_id, mentee_id, seq);
            CREATE INDEX matches_by_program ON matches (org_id, program_id, seq);
            CREATE INDEX matches_expiring ON matches (expires_at) WHERE status = 'proposed';
            """),
        // Where matching is in the feeds it follows (identity's erasures).
        Migration(version: 2, FeedCursors.schema),
        // An organisation's matches in change order (`listMatches` without a program). Without it,
        // every page of an org-admin's listing read all of the organisation's matches and sorted them.
        Migration(version: 3, "CREATE INDEX matches_by_org ON matches (org_id, seq);"),
        // A person's participations (identity's erasures, up to 500 a page in one write
        // transaction): without it, each erasure read every participant profile of the organisation.
        Migration(version: 4, "CREATE INDEX participants_by_person ON participants (org_id, person_id);"),
    ]

    // MARK: Settings and participants

    func settings(organisation: UUID, program: UUID) async throws -> MatchingSettings? {
        try await database.read { connection in
            try connection.first("SELECT data FROM settings WHERE org_id = ? AND program_id = ?", organisation, program)
                .map { try CBORDecoder().decode(MatchingSettings.self, from: $0.blob(0) ?? []) }
        }
    }

    /// Saves `settings` as the next version; ABORTED when `expectedVersion` is not the current one.
    func saveSettings(organisation: UUID, _ settings: MatchingSettings, expectedVersion: Int?) async throws -> MatchingSettings {
        try await database.write { connection in
            let current = try connection.first("SELECT version FROM settings WHERE org_id = ? AND program_id = ?", organisation, settings.programID)
                .flatMap { $0.int(0) }.map(Int.init)
            if let current, expectedVersion != current {
                throw RPCError(code: .aborted, message: "the settings changed: you sent version \(expectedVersion.map(String.init) ?? "none"), the current version is \(current); read them again")
            }
            if current == nil, let expectedVersion {
                throw RPCError(code: .aborted, message: "the program has no settings yet: send no version (you sent \(expectedVersion))")
            }
            var saved = settings
            saved.version = (current ?? 0) + 1
            try connection.execute(
                "INSERT OR REPLACE INTO settings (org_id, program_id, data, version) VALUES (?, ?, ?, ?)",
                organisation, settings.programID, try CBOREncoder().encodeBytes(saved), saved.version
            )
            return saved
        }
    }

    /// Replaces the program's participants with `profiles`; participants who left lose their open
    /// proposals (withdrawn). Returns how many left.
    func replaceParticipants(organisation: UUID, program: UUID, _ profiles: [ParticipantProfile], now: Date) async throws -> (removed: Int, withdrawn: [Match]) {
        try await database.write { connection in
            var before = Set<UUID>()
            try connection.forEachRow("SELECT person_id FROM participants WHERE org_id = ? AND program_id = ?", [organisation, program]) { row in
                if let id = row.uuid(0) { before.insert(id) }
            }
            _ = try connection.execute("DELETE FROM participants WHERE org_id = ? AND program_id = ?", organisation, program)
            let encoder = CBOREncoder()
            for profile in profiles {
                try connection.execute(
                    "INSERT OR REPLACE INTO participants (org_id, program_id, person_id, role, data) VALUES (?, ?, ?, ?, ?)",
                    organisation, program, profile.personID, profile.role.rawValue, try encoder.encodeBytes(profile)
                )
            }
            let gone = before.subtracting(profiles.map(\.personID))
            var withdrawn: [Match] = []
            for person in gone {
                for match in try Self.personMatches(connection, organisation: organisation, person: person, program: program, status: .proposed) {
                    let ended = try MatchLifecycle.end(match, outcome: .ended, reason: "withdrawn: a participant left the program", now: now)
                    try Self.write(connection, ended)
                    withdrawn.append(ended)
                }
            }
            let generation = (try connection.first("SELECT generation FROM synced_programs WHERE org_id = ? AND program_id = ?", organisation, program)?.int(0) ?? 0) + 1
            try connection.execute(
                "INSERT OR REPLACE INTO synced_programs (org_id, program_id, synced_at, generation) VALUES (?, ?, ?, ?)",
                organisation, program, now.timeIntervalSince1970, generation
            )
            return (gone.count, withdrawn)
        }
    }

    /// The program's participants, or nil when it was never synced.
    func participants(organisation: UUID, program: UUID) async throws -> [ParticipantProfile]? {
        try await database.read { connection in
            guard try connection.first("SELECT 1 FROM synced_programs WHERE org_id = ? AND program_id = ?", organisation, program) != nil else { return nil }
            var profiles: [ParticipantProfile] = []
            let decoder = CBORDecoder()
            try connection.forEachRow("SELECT data FROM participants WHERE org_id = ? AND program_id = ? ORDER BY person_id", [organisation, program]) { row in
                profiles.append(try decoder.decode(ParticipantProfile.self, from: row.blob(0) ?? []))
            }
            // In a stable order that does not depend on the random ids: ties between equally good
            // assignments and near-equal recommendations then fall the same way for the same data.
            return profiles.sorted { ($0.displayName, $0.division, $0.personID.uuidString) < ($1.displayName, $1.division, $1.personID.uuidString) }
        }
    }

    // MARK: Matches

    static func matches(_ connection: SQLiteConnection, _ condition: String, _ values: [any SQLiteBindable], suffix: String = "") throws -> [Match] {
        var result: [Match] = []
        let decoder = CBORDecoder()
        try connection.forEachRow("SELECT data FROM matches WHERE \(condition) \(suffix)", values) { row in
            result.append(try decoder.decode(Match.self, from: row.blob(0) ?? []))
        }
        return result
    }

    /// A person's matches, as mentor and as mentee (`PairSQL`), optionally of one program and in
    /// one state.
    static func personMatches(_ connection: SQLiteConnection, organisation: UUID, person: UUID, program: UUID? = nil, status: MatchStatus? = nil) throws -> [Match] {
        var values: [SQLiteValue] = [organisation.sqliteValue, person.sqliteValue]
        var filters = ""
        if let program {
            values.append(program.sqliteValue)
            filters += " AND program_id = ?\(values.count)"
        }
        if let status {
            values.append(.text(status.rawValue))
            filters += " AND status = ?\(values.count)"
        }
        var result: [Match] = []
        let decoder = CBORDecoder()
        try connection.forEachRow(personMatchesSQL(filters), values) { row in
            result.append(try decoder.decode(Match.self, from: row.blob(0) ?? []))
        }
        return result
    }

    /// The statement of `personMatches`, with more conditions on both halves.
    static func personMatchesSQL(_ filters: String) -> String {
        PairSQL.eitherSide(select: "data", from: "matches", where: "org_id = ?1" + filters, person: "?2")
    }

    /// Writes the match with the next change sequence.
    static func write(_ connection: SQLiteConnection, _ match: Match) throws {
        let next = (try connection.first("SELECT max(seq) FROM matches")?.int(0) ?? 0) + 1
        try connection.execute(
            """
            INSERT OR REPLACE INTO matches (id, org_id, program_id, mentor_id, mentee_id, status, expires_at, seq, data)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """,
            match.id, match.organisationID, match.programID, match.mentorID, match.menteeID, match.status.rawValue,
            match.status == .proposed ? match.expiresAt.map { SQLiteValue.real($0.timeIntervalSince1970) } ?? .null : .null,
            next, try CBOREncoder().encodeBytes(match)
        )
    }

    func match(organisation: UUID, id: UUID) async throws -> Match? {
        try await database.read { connection in
            try Self.matches(connection, "id = ? AND org_id = ?", [id, organisation]).first
        }
    }

    /// Matches holding places (proposed or active) in the program, by mentor; and everyone each
    /// mentee has been matched with.
    func placesHeld(organisation: UUID, program: UUID) async throws -> [UUID: Int] {
        try await database.read { connection in
            var held: [UUID: Int] = [:]
            try connection.forEachRow(
                "SELECT mentor_id, count(*) FROM matches WHERE org_id = ? AND program_id = ? AND status IN ('proposed', 'active') GROUP BY mentor_id",
                [organisation, program]
            ) { row in
                if let mentor = row.uuid(0) { held[mentor] = Int(row.int(1) ?? 0) }
            }
            return held
        }
    }

    /// Every match of the program (for exclusions, cohort runs and recommendations).
    func programMatches(organisation: UUID, program: UUID) async throws -> [Match] {
        try await database.read { connection in
            try Self.matches(connection, "org_id = ? AND program_id = ?", [organisation, program])
        }
    }

    /// A mentee's matches in the program.
    func menteeMatches(organisation: UUID, program: UUID, mentee: UUID) async throws -> [Match] {
        try await database.read { connection in
            try Self.matches(connection, "org_id = ? AND program_id = ? AND mentee_id = ?", [organisation, program, mentee])
        }
    }

    /// Inserts proposals, all or none: each mentor must have room (`capacity`, counting places
    /// already held) and each mentee no proposed or active match in the program.
    func propose(_ proposals: [Match], capacity: [UUID: Int]) async throws -> [Match] {
        try await database.write { connection in
            var adding: [UUID: Int] = [:]
            var mentees = Set<UUID>()
            for match in proposals {
                guard mentees.insert(match.menteeID).inserted else {
                    throw RPCError.failedPrecondition(type: "MENTEE", subject: match.menteeID.uuidString.lowercased(), "the mentee appears twice")
                }
                if let open = try Self.matches(
                    connection, "org_id = ? AND program_id = ? AND mentee_id = ? AND status IN ('proposed', 'active')",
                    [match.organisationID, match.programID, match.menteeID]
                ).first {
                    throw RPCError.failedPrecondition(
                        type: "MENTEE_MATCHED", subject: match.menteeID.uuidString.lowercased(),
                        "the mentee already has a \(open.status.rawValue) match (\(open.id.uuidString.lowercased()))"
                    )
                }
                adding[match.mentorID, default: 0] += 1
                let held = try Self.heldPlaces(connection, match)
                let limit = capacity[match.mentorID] ?? 0
                guard held + adding[match.mentorID, default: 0] <= limit else {
                    throw RPCError.failedPrecondition(
                        type: "MENTOR_FULL", subject: match.mentorID.uuidString.lowercased(),
                        "the mentor has no place left (capacity \(limit), \(held) held)"
                    )
                }
            }
            for match in proposals { try Self.write(connection, match) }
            return proposals
        }
    }

    /// The mentor's matches holding a place (proposed or active; `activeOnly`: active), other than `excluding`.
    static func heldPlaces(_ connection: SQLiteConnection, _ match: Match, excluding: UUID? = nil, activeOnly: Bool = false) throws -> Int {
        var sql = "SELECT count(*) FROM matches WHERE org_id = ? AND program_id = ? AND mentor_id = ? AND status IN ('active'\(activeOnly ? "" : ", 'proposed'"))"
        var values: [any SQLiteBindable] = [match.organisationID, match.programID, match.mentorID]
        if let excluding {
            sql += " AND id != ?"
            values.append(excluding)
        }
        return Int(try connection.query(sql, values).first?.int(0) ?? 0)
    }

    /// Changes one match in a transaction: `change` sees the current match and returns the new
    /// one (or the same to change nothing). When it becomes active, the mentor's other active
    /// matches are counted against `capacity` in the same transaction (a capacity lowered since
    /// the proposals were made lets only as many become active as it allows). `follow` may add more
    /// matches (e.g. a re-match proposal), written in the same transaction.
    func update(
        organisation: UUID, id: UUID, capacity: Int?,
        _ change: @escaping @Sendable (Match) throws -> Match,
        follow: (@Sendable (Match, SQLiteConnection) throws -> Match?)? = nil
    ) async throws -> (match: Match, followed: Match?) {
        try await database.write { connection in
            guard let current = try Self.matches(connection, "id = ? AND org_id = ?", [id, organisation]).first else {
                throw RPCError.notFound("match", id.uuidString.lowercased())
            }
            var changed = try change(current)
            guard changed != current else { return (current, nil) }
            if changed.status == .active, current.status != .active, let capacity {
                let active = try Self.heldPlaces(connection, changed, excluding: changed.id, activeOnly: true)
                guard active < capacity else {
                    throw RPCError.failedPrecondition(
                        type: "MENTOR_FULL", subject: changed.mentorID.uuidString.lowercased(),
                        "the mentor has no place left (capacity \(capacity), \(active) active matches)"
                    )
                }
            }
            var followed: Match?
            if let follow, let next = try follow(changed, connection) {
                changed.rematchID = next.id
                try Self.write(connection, next)
                followed = next
            }
            try Self.write(connection, changed)
            return (changed, followed)
        }
    }

    /// Proposals past their deadline, changed to expired (`after` may add a re-match for each).
    func expireDue(now: Date, limit: Int = 500) async throws -> [Match] {
        try await database.write { connection in
            var expired: [Match] = []
            for match in try Self.matches(connection, "status = 'proposed' AND expires_at <= ?", [now.timeIntervalSince1970], suffix: "LIMIT \(limit)") {
                guard let lapsed = MatchLifecycle.expire(match, now: now) else { continue }
                try Self.write(connection, lapsed)
                expired.append(lapsed)
            }
            return expired
        }
    }

    /// Matches in the organisation after `after` (a page token: the last `seq` seen), newest first
    /// is not needed by anyone, so they come oldest change first.
    func listMatches(organisation: UUID, program: UUID?, person: UUID?, statuses: Set<MatchStatus>, after: Int64, limit: Int) async throws -> [(Int64, Match)] {
        let query = Self.listMatchesQuery(organisation: organisation, program: program, person: person, statuses: statuses, after: after, limit: limit)
        return try await database.read { connection in
            var result: [(Int64, Match)] = []
            let decoder = CBORDecoder()
            try connection.forEachRow(query.sql, query.values) { row in
                result.append((row.int(0) ?? 0, try decoder.decode(Match.self, from: row.blob(1) ?? [])))
            }
            return result
        }
    }

    /// The statement `listMatches` runs, with its values. A person's matches are two index ranges
    /// (`PairSQL`) merged in `seq` order; with a person, a program is checked on the rows
    /// (`+program_id`), not used to pick the index.
    static func listMatchesQuery(
        organisation: UUID, program: UUID?, person: UUID?, statuses: Set<MatchStatus>, after: Int64, limit: Int
    ) -> (sql: String, values: [SQLiteValue]) {
        var values: [SQLiteValue] = [organisation.sqliteValue, after.sqliteValue]
        func parameter(_ value: SQLiteValue) -> String {
            values.append(value)
            return "?\(values.count)"
        }
        var filters = ""
        if let program { filters += " AND \(person == nil ? "" : "+")program_id = \(parameter(program.sqliteValue))" }
        if !statuses.isEmpty {
            // Bound, not written into the text: each distinct text is a statement kept prepared.
            filters += " AND status IN (\(statuses.map(\.rawValue).sorted().map { parameter(.text($0)) }.joined(separator: ", ")))"
        }
        let sql: String
        if let person {
            let who = parameter(person.sqliteValue)
            sql = PairSQL.eitherSide(select: "seq, data", from: "matches", where: "org_id = ?1 AND seq > ?2" + filters, person: who)
                + " ORDER BY seq LIMIT \(parameter(limit.sqliteValue))"
        } else {
            sql = "SELECT seq, data FROM matches WHERE org_id = ?1 AND seq > ?2\(filters) ORDER BY seq LIMIT \(parameter(limit.sqliteValue))"
        }
        return (sql, values)
    }

    /// The change feed: every organisation's matches changed after `after`, in change order.
    func changes(after: Int64, limit: Int) async throws -> [(Int64, Match)] {
        try await database.read { connection in
            var result: [(Int64, Match)] = []
            let decoder = CBORDecoder()
            try connection.forEachRow("SELECT seq, data FROM matches WHERE seq > ? ORDER BY seq LIMIT ?", [after, limit]) { row in
                result.append((row.int(0) ?? 0, try decoder.decode(Match.self, from: row.blob(1) ?? [])))
            }
            return result
        }
    }
}

extension MatchingStore {
    /// What erasing people in identity means here, with the cursor, in one transaction:
    /// - their profile is removed from every program of the organisation, so nobody is matched
    ///   with them again;
    /// - their open matches (proposed or active) end, which matching's change feed tells
    ///   scheduling and feedback;
    /// - every match of theirs keeps its ids, status and dates (the program's figures stay right)
    ///   but loses what came from their profile or from the pair: the score's explanations and the
    ///   mentoring agreement.
    ///
    /// Returns the matches that ended (their mentees may be offered someone else) and the programs
    /// whose participants changed. Applying a page again changes nothing more.
    func applyErasures(_ page: ErasurePage, feed: String, now: Date) async throws -> (ended: [Match], programs: [(UUID, UUID)]) {
        try await database.write { connection in
            var ended: [Match] = [], programs: [(UUID, UUID)] = []
            for erasure in page.erasures {
                let organisation = erasure.organisationID, person = erasure.personID
                var touched = Set<UUID>()
                try connection.forEachRow("SELECT program_id FROM participants WHERE org_id = ? AND person_id = ?", [organisation, person]) { row in
                    if let program = row.uuid(0) { touched.insert(program) }
                }
                try connection.execute("DELETE FROM participants WHERE org_id = ? AND person_id = ?", organisation, person)
                for match in try Self.personMatches(connection, organisation: organisation, person: person) {
                    var changed = match
                    if MatchLifecycle.holdsPlace(match.status), let end = try? MatchLifecycle.end(match, outcome: .ended, reason: Erasure.reason, now: now) {
                        changed = end
                        ended.append(end)
                    }
                    changed.parts = changed.parts.map { CriterionPoints(criterion: $0.criterion, points: $0.points, maximum: $0.maximum, detail: "") }
                    changed.agreement = nil
                    guard changed != match else { continue }
                    try Self.write(connection, changed.version == match.version ? changed.touched(now) : changed)
                    touched.insert(match.programID)
                }
                programs += touched.map { (organisation, $0) }
            }
            try FeedCursors.set(connection, feed: feed, to: page.last)
            return (ended, programs)
        }
    }
}
