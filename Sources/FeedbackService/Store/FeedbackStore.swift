import Foundation
import Logging
import Synchronization
import TandemProtocols
import TandemStore
import TandemWire

/// Feedback's data in SQLite: its copy of match and meeting facts (with the feed cursors, in the
/// same transactions), the answers, goals, templates, settings and the fit-signal outbox.
/// Every table is keyed by organisation.
///
/// People, matches and divisions get small integer keys (`people.pkey`, `matches.mkey`,
/// `divisions.dkey`) that answers refer to, so that a report reads integer columns only.
final class FeedbackStore: Sendable {
    let database: SQLiteDatabase
    let logger: Logger
    /// Column-at-a-time reads for reports.
    let reports: ColumnReader
    /// Bumped after every committed write that changes what an organisation's reports count
    /// (answers, facts, templates), so that cached report facts know when they are stale.
    private let generations = Mutex<[UUID: UInt64]>([:])

    init(path: String, logger: Logger) throws {
        self.logger = logger
        // Answers are personal data: erased ones are overwritten in the file.
        database = try SQLiteDatabase(path: path, migrations: Self.migrations, readers: 2, maxBatch: 256, secureDelete: true, logger: logger)
        reports = try ColumnReader(path: path)
    }

    func close() {
        database.close()
    }

    /// The organisation's data generation (see `generations`).
    func generation(_ organisation: UUID) -> UInt64 {
        generations.withLock { $0[organisation] ?? 0 }
    }

    /// A write that changes the organisations' report data; their generation moves once it committed.
    func write<T: Sendable>(changing organisations: Set<UUID>, _ body: @escaping @Sendable (SQLiteConnection) throws -> T) async throws -> T {
        let result = try await database.write(body)
        generations.withLock { generations in
            for organisation in organisations { generations[organisation, default: 0] += 1 }
        }
        return result
    }

    static let migrations: [Migration] = [
        Migration(version: 1, """
            CREATE TABLE feed_cursors (feed TEXT PRIMARY KEY, cursor INTEGER NOT NULL);
            CREATE TABLE people (
                pkey INTEGER PRIMARY KEY, org_id BLOB NOT NULL, person_id BLOB NOT NULL, UNIQUE (org_id, person_id)
            );
            CREATE TABLE divisions (
                dkey INTEGER PRIMARY KEY, org_id BLOB NOT NULL, name TEXT NOT NULL, UNIQUE (org_id, name)
            );
            CREATE TABLE matches (
                mkey INTEGER PRIMARY KEY, org_id BLOB NOT NULL, match_id BLOB NOT NULL, program_id BLOB NOT NULL,
                mentor_id BLOB NOT NULL, mentee_id BLOB NOT NULL, status TEXT NOT NULL, started_at REAL, ended_at REAL,
                not_a_good_fit INTEGER NOT NULL DEFAULT 0,
                UNIQUE (org_id, match_id)
            );
            CREATE INDEX matches_by_program ON matches (org_id, program_id);
            CREATE INDEX matches_by_mentor ON matches (org_id, mentor_id);
            CREATE INDEX matches_by_mentee ON matches (org_id, mentee_id);
            CREATE TABLE meetings (
                org_id BLOB NOT NULL, meeting_id BLOB NOT NULL, match_id BLOB NOT NULL, program_id BLOB NOT NULL, mkey INTEGER NOT NULL,
                mentor_id BLOB NOT NULL, mentee_id BLOB NOT NULL, start REAL NOT NULL, end REAL NOT NULL, status TEXT NOT NULL,
                PRIMARY KEY (org_id, meeting_id)
            ) WITHOUT ROWID;
            CREATE INDEX meetings_by_match ON meetings (org_id, match_id, start);
            -- Covering: a report reads the held meetings of a program from this index alone.
            CREATE INDEX meetings_by_program ON meetings (org_id, program_id, status, mkey, start, end);
            CREATE TABLE session_feedback (
                org_id BLOB NOT NULL, meeting_id BLOB NOT NULL, person_id BLOB NOT NULL,
                match_id BLOB NOT NULL, program_id BLOB NOT NULL, pkey INTEGER NOT NULL, mkey INTEGER NOT NULL,
                role INTEGER NOT NULL, dkey INTEGER NOT NULL, month INTEGER NOT NULL,
                rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 5), useful TEXT, share_text INTEGER NOT NULL,
                private_note TEXT, pairing_fit TEXT, fit_comment TEXT, submitted_at REAL NOT NULL,
                PRIMARY KEY (org_id, meeting_id, person_id)
            ) WITHOUT ROWID;
            CREATE INDEX session_feedback_by_program ON session_feedback (org_id, program_id, pkey, mkey, role, dkey, month, rating);
            CREATE INDEX session_feedback_by_person ON session_feedback (org_id, person_id);
            CREATE INDEX session_feedback_shared ON session_feedback (org_id, program_id, month) WHERE share_text = 1 AND useful IS NOT NULL;
            CREATE TABLE survey_responses (
                org_id BLOB NOT NULL, match_id BLOB NOT NULL, person_id BLOB NOT NULL, kind TEXT NOT NULL, round INTEGER NOT NULL,
                program_id BLOB NOT NULL, pkey INTEGER NOT NULL, mkey INTEGER NOT NULL, role INTEGER NOT NULL, dkey INTEGER NOT NULL,
                month INTEGER NOT NULL, competency INTEGER NOT NULL, relationship INTEGER NOT NULL, retention INTEGER NOT NULL,
                answers BLOB NOT NULL, shared_text TEXT, submitted_at REAL NOT NULL,
                PRIMARY KEY (org_id, match_id, person_id, kind, round)
            ) WITHOUT ROWID;
            -- Covering: a report reads a program's answers, oldest first, from this index alone
            -- (one sequential range instead of a table lookup per answer).
            CREATE INDEX survey_responses_by_program ON survey_responses (
                org_id, program_id, submitted_at, pkey, mkey, role, dkey, month, competency, relationship, retention, kind, round
            );
            CREATE INDEX survey_responses_by_person ON survey_responses (org_id, person_id);
            CREATE INDEX survey_responses_shared ON survey_responses (org_id, program_id, month) WHERE shared_text IS NOT NULL;
            CREATE TABLE templates (
                org_id BLOB NOT NULL, program_id BLOB NOT NULL, kind TEXT NOT NULL, data BLOB NOT NULL, version INTEGER NOT NULL,
                PRIMARY KEY (org_id, program_id, kind)
            ) WITHOUT ROWID;
            CREATE TABLE goals (
                goal_id BLOB PRIMARY KEY, org_id BLOB NOT NULL, match_id BLOB NOT NULL, mentee_id BLOB NOT NULL, data BLOB NOT NULL,
                version INTEGER NOT NULL, updated_at REAL NOT NULL
            ) WITHOUT ROWID;
            CREATE INDEX goals_by_match ON goals (org_id, match_id);
            CREATE TABLE settings (org_id BLOB PRIMARY KEY, k INTEGER NOT NULL) WITHOUT ROWID;
            CREATE TABLE fit_outbox (
                id INTEGER PRIMARY KEY, org_id BLOB NOT NULL, match_id BLOB NOT NULL, person_id BLOB NOT NULL, comment TEXT,
                created_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL, delivered_at REAL, last_error TEXT,
                UNIQUE (org_id, match_id, person_id)
            );
            CREATE INDEX fit_outbox_pending ON fit_outbox (next_attempt_at) WHERE delivered_at IS NULL;
            """),
        // People erased in identity (its erasure feed): their access tokens outlive the erasure
        // by up to 15 minutes, and nothing they send afterwards is kept.
        Migration(version: 2, """
            CREATE TABLE erased_people (
                org_id BLOB NOT NULL, person_id BLOB NOT NULL, erased_at REAL NOT NULL, PRIMARY KEY (org_id, person_id)
            ) WITHOUT ROWID;
            """),
        // A person's goals and fit signals, for their erasure: without them, each erasure read the
        // organisation's goals and signals.
        Migration(version: 3, """
            CREATE INDEX goals_by_mentee ON goals (org_id, mentee_id);
            CREATE INDEX fit_outbox_by_person ON fit_outbox (org_id, person_id);
            """),
    ]

    // MARK: Keys

    static func personKey(_ connection: SQLiteConnection, organisation: UUID, person: UUID) throws -> Int64 {
        if let row = try connection.first("SELECT pkey FROM people WHERE org_id = ? AND person_id = ?", organisation, person), let key = row.int(0) {
            return key
        }
        try connection.execute("INSERT INTO people (org_id, person_id) VALUES (?, ?)", organisation, person)
        return connection.lastInsertRowID
    }

    /// The division's key; -1 when unknown.
    static func divisionKey(_ connection: SQLiteConnection, organisation: UUID, name: String?) throws -> Int64 {
        guard let name, !name.isEmpty else { return -1 }
        if let row = try connection.first("SELECT dkey FROM divisions WHERE org_id = ? AND name = ?", organisation, name), let key = row.int(0) {
            return key
        }
        try connection.execute("INSERT INTO divisions (org_id, name) VALUES (?, ?)", organisation, name)
        return connection.lastInsertRowID
    }

    // MARK: Feeds

    func cursor(_ feed: String) async throws -> Int {
        try await database.read { connection in
            Int(try connection.first("SELECT cursor FROM feed_cursors WHERE feed = ?", feed)?.int(0) ?? 0)
        }
    }

    static func setCursor(_ connection: SQLiteConnection, feed: String, _ cursor: Int) throws {
        try connection.execute(
            "INSERT INTO feed_cursors (feed, cursor) VALUES (?, ?) ON CONFLICT (feed) DO UPDATE SET cursor = excluded.cursor", feed, cursor
        )
    }

    /// A placeholder for a match seen only through its meetings (the match feed fills it in).
    static func ensureMatch(_ connection: SQLiteConnection, organisation: UUID, match: UUID, program: UUID, mentor: UUID, mentee: UUID) throws {
        try connection.execute("""
            INSERT OR IGNORE INTO matches (org_id, match_id, program_id, mentor_id, mentee_id, status) VALUES (?, ?, ?, ?, ?, 'unknown')
            """, organisation, match, program, mentor, mentee)
    }

    /// Copies a page of meeting changes and moves the cursor, in one transaction.
    func applyMeetingChanges(_ page: MeetingChangePage) async throws {
        try await write(changing: Set(page.changes.map(\.organisationID))) { connection in
            for change in page.changes {
                let meeting = change.meeting
                guard meeting.participantIDs.count == 2 else { continue }
                try Self.ensureMatch(
                    connection, organisation: change.organisationID, match: meeting.matchID, program: meeting.programID,
                    mentor: meeting.participantIDs[0], mentee: meeting.participantIDs[1]
                )
                guard let match = try connection.first(
                    "SELECT mkey FROM matches WHERE org_id = ? AND match_id = ?", change.organisationID, meeting.matchID
                )?.int(0) else { throw FeedbackStoreError.corrupt("match key") }
                try connection.execute("""
                    INSERT INTO meetings (org_id, meeting_id, match_id, program_id, mkey, mentor_id, mentee_id, start, end, status)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, meeting_id) DO UPDATE SET start = excluded.start, end = excluded.end, status = excluded.status
                    """, change.organisationID, meeting.id, meeting.matchID, meeting.programID, match, meeting.participantIDs[0], meeting.participantIDs[1],
                    meeting.start.timeIntervalSince1970, meeting.end.timeIntervalSince1970, meeting.status.rawValue)
            }
            try Self.setCursor(connection, feed: "meetings", page.last)
        }
    }

    /// Copies a page of match changes and moves the cursor, in one transaction.
    func applyMatchChanges(_ page: MatchChangePage) async throws {
        try await write(changing: Set(page.changes.map(\.match.organisationID))) { connection in
            for change in page.changes {
                let match = change.match
                try connection.execute("""
                    INSERT INTO matches (org_id, match_id, program_id, mentor_id, mentee_id, status, started_at, ended_at, not_a_good_fit)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, match_id) DO UPDATE SET status = excluded.status, started_at = excluded.started_at,
                        ended_at = excluded.ended_at, not_a_good_fit = excluded.not_a_good_fit
                    """, match.organisationID, match.id, match.programID, match.mentorID, match.menteeID, match.status.rawValue,
                    match.startedAt?.timeIntervalSince1970, match.endedAt?.timeIntervalSince1970, match.notAGoodFit)
            }
            try Self.setCursor(connection, feed: "matches", page.last)
        }
    }

    // MARK: Facts

    static let matchColumns = "match_id, program_id, mentor_id, mentee_id, status, started_at, ended_at, org_id"

    static func match(_ row: SQLiteRow) throws -> MatchFacts {
        guard let match = row.uuid(0), let program = row.uuid(1), let mentor = row.uuid(2), let mentee = row.uuid(3), let organisation = row.uuid(7) else {
            throw FeedbackStoreError.corrupt("match")
        }
        return MatchFacts(
            organisationID: organisation, matchID: match, programID: program, mentorID: mentor, menteeID: mentee, status: row.text(4) ?? "unknown",
            startedAt: row.double(5).map(Date.init(timeIntervalSince1970:)), endedAt: row.double(6).map(Date.init(timeIntervalSince1970:))
        )
    }

    func match(organisation: UUID, id: UUID) async throws -> MatchFacts? {
        try await database.read { connection in
            try connection.first("SELECT \(Self.matchColumns) FROM matches WHERE org_id = ? AND match_id = ?", organisation, id).map(Self.match)
        }
    }

    /// The matches a person is in.
    func matches(organisation: UUID, person: UUID) async throws -> [MatchFacts] {
        try await database.read { connection in
            try connection.query(Self.personMatchesSQL, organisation, person).map(Self.match)
        }
    }

    /// A person's matches, as mentor and as mentee (the dashboard's due surveys ask on every load).
    static let personMatchesSQL = PairSQL.eitherSide(select: matchColumns, from: "matches", where: "org_id = ?1", person: "?2")

    /// Started matches of an organisation (for the invitation stream), or of one program.
    func startedMatches(organisation: UUID, program: UUID? = nil) async throws -> [MatchFacts] {
        try await database.read { connection in
            if let program {
                return try connection.query(
                    "SELECT \(Self.matchColumns) FROM matches WHERE org_id = ? AND program_id = ? AND started_at IS NOT NULL", organisation, program
                ).map(Self.match)
            }
            return try connection.query("SELECT \(Self.matchColumns) FROM matches WHERE org_id = ? AND started_at IS NOT NULL", organisation).map(Self.match)
        }
    }

    struct StoredMeeting: Sendable {
        var id: UUID
        var matchID: UUID
        var programID: UUID
        var mentorID: UUID
        var menteeID: UUID
        var start: Date
        var end: Date
        var status: String
    }

    func meeting(organisation: UUID, id: UUID) async throws -> StoredMeeting? {
        try await database.read { connection in
            guard let row = try connection.first(
                "SELECT match_id, program_id, mentor_id, mentee_id, start, end, status FROM meetings WHERE org_id = ? AND meeting_id = ?", organisation, id
            ), let match = row.uuid(0), let program = row.uuid(1), let mentor = row.uuid(2), let mentee = row.uuid(3) else { return nil }
            return StoredMeeting(
                id: id, matchID: match, programID: program, mentorID: mentor, menteeID: mentee,
                start: Date(timeIntervalSince1970: row.double(4) ?? 0), end: Date(timeIntervalSince1970: row.double(5) ?? 0), status: row.text(6) ?? ""
            )
        }
    }

    /// The id of the pair's first held meeting.
    func firstHeldMeeting(organisation: UUID, match: UUID) async throws -> UUID? {
        try await database.read { connection in
            try connection.first(
                "SELECT meeting_id FROM meetings WHERE org_id = ? AND match_id = ? AND status = 'held' ORDER BY start, meeting_id LIMIT 1", organisation, match
            )?.uuid(0)
        }
    }

    // MARK: Settings and templates

    static let defaultK = 5

    func k(organisation: UUID) async throws -> Int {
        try await database.read { connection in
            Int(try connection.first("SELECT k FROM settings WHERE org_id = ?", organisation)?.int(0) ?? Int64(Self.defaultK))
        }
    }

    func setK(organisation: UUID, _ k: Int) async throws {
        try await database.write { connection in
            _ = try connection.execute("INSERT INTO settings (org_id, k) VALUES (?, ?) ON CONFLICT (org_id) DO UPDATE SET k = excluded.k", organisation, k)
        }
    }

    /// The program's template, or the standard one.
    func template(organisation: UUID, program: UUID, kind: SurveyKind) async throws -> SurveyTemplate {
        try await database.read { connection in
            guard let row = try connection.first(
                "SELECT data, version FROM templates WHERE org_id = ? AND program_id = ? AND kind = ?", organisation, program, kind.rawValue
            ), let data = row.blob(0) else { return SurveyRules.standard(program: program, kind: kind) }
            var template = try CBORDecoder().decode(SurveyTemplate.self, from: data)
            template.version = Int(row.int(1) ?? 1)
            return template
        }
    }

    func setTemplate(organisation: UUID, _ template: SurveyTemplate) async throws -> SurveyTemplate {
        try await write(changing: [organisation]) { connection in
            var stored = template
            stored.version = nil
            let current = try connection.first(
                "SELECT version FROM templates WHERE org_id = ? AND program_id = ? AND kind = ?", organisation, template.programID, template.kind.rawValue
            )?.int(0) ?? 0
            let version = Int(current) + 1
            try connection.execute("""
                INSERT INTO templates (org_id, program_id, kind, data, version) VALUES (?, ?, ?, ?, ?)
                ON CONFLICT (org_id, program_id, kind) DO UPDATE SET data = excluded.data, version = excluded.version
                """, organisation, template.programID, template.kind.rawValue, Array(try CBOREncoder().encode(stored)), version)
            stored.version = version
            return stored
        }
    }
}

enum FeedbackStoreError: Error, CustomStringConvertible {
    case corrupt(String)

    var description: String {
        switch self {
        case .corrupt(let what): return "stored data is corrupt (\(what))"
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
