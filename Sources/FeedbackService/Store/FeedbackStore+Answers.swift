import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// Who answered, as recorded with the answer (the cuts a report can make).
struct Respondent: Sendable {
    var organisationID: UUID
    var personID: UUID
    /// 0 mentor, 1 mentee.
    var role: UInt8
    var division: String?
}

/// A "not a good fit" answer waiting to reach matching.
struct PendingFitSignal: Sendable, Equatable {
    var id: Int64
    var signal: FitSignal
    var attempts: Int
}

extension FeedbackStore {
    // MARK: Session feedback

    /// Stores (or replaces) a participant's feedback on a meeting; a "not a good fit" answer
    /// also goes into the outbox, in the same transaction, for delivery to matching.
    func submitSessionFeedback(
        _ input: SessionFeedbackInput, meeting: StoredMeeting, respondent: Respondent, now: Date
    ) async throws -> (SessionFeedback, replaced: Bool) {
        try await write(changing: [respondent.organisationID]) { connection in
            let organisation = respondent.organisationID
            try Self.refuseErased(connection, organisation: organisation, person: respondent.personID)
            let existing = try connection.first(
                "SELECT 1 FROM session_feedback WHERE org_id = ? AND meeting_id = ? AND person_id = ?", organisation, meeting.id, respondent.personID
            )
            let person = try Self.personKey(connection, organisation: organisation, person: respondent.personID)
            let division = try Self.divisionKey(connection, organisation: organisation, name: respondent.division)
            try Self.ensureMatch(connection, organisation: organisation, match: meeting.matchID, program: meeting.programID, mentor: meeting.mentorID, mentee: meeting.menteeID)
            guard let match = try connection.first("SELECT mkey FROM matches WHERE org_id = ? AND match_id = ?", organisation, meeting.matchID)?.int(0) else {
                throw FeedbackStoreError.corrupt("match key")
            }
            let share = input.shareTextWithAdmins ?? false
            try connection.execute("""
                INSERT INTO session_feedback (org_id, meeting_id, person_id, match_id, program_id, pkey, mkey, role, dkey, month, rating, useful, share_text,
                                              private_note, pairing_fit, fit_comment, submitted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (org_id, meeting_id, person_id) DO UPDATE SET dkey = excluded.dkey, rating = excluded.rating, useful = excluded.useful,
                    share_text = excluded.share_text, private_note = excluded.private_note, pairing_fit = excluded.pairing_fit,
                    fit_comment = excluded.fit_comment, submitted_at = excluded.submitted_at
                """, organisation, meeting.id, respondent.personID, meeting.matchID, meeting.programID, person, match, Int(respondent.role), division,
                Int(Month.index(meeting.start)), input.rating, input.useful, share, input.privateNote, input.pairingFit?.rawValue, input.fitComment,
                now.timeIntervalSince1970)
            if input.pairingFit == .notAGoodFit {
                try connection.execute("""
                    INSERT INTO fit_outbox (org_id, match_id, person_id, comment, created_at, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?)
                    ON CONFLICT (org_id, match_id, person_id) DO NOTHING
                    """, organisation, meeting.matchID, respondent.personID, input.fitComment, now.timeIntervalSince1970, now.timeIntervalSince1970)
            }
            let feedback = SessionFeedback(
                meetingID: meeting.id, matchID: meeting.matchID, personID: respondent.personID, rating: input.rating, useful: input.useful,
                privateNote: input.privateNote, pairingFit: input.pairingFit, fitComment: input.fitComment, shareTextWithAdmins: share, submittedAt: now
            )
            return (feedback, existing != nil)
        }
    }

    /// A person's own feedback on a meeting.
    func sessionFeedback(organisation: UUID, meeting: UUID, person: UUID) async throws -> SessionFeedback? {
        try await database.read { connection in
            guard let row = try connection.first("""
                SELECT match_id, rating, useful, private_note, pairing_fit, fit_comment, share_text, submitted_at
                FROM session_feedback WHERE org_id = ? AND meeting_id = ? AND person_id = ?
                """, organisation, meeting, person), let match = row.uuid(0) else { return nil }
            return SessionFeedback(
                meetingID: meeting, matchID: match, personID: person, rating: Int(row.int(1) ?? 0), useful: row.text(2), privateNote: row.text(3),
                pairingFit: row.text(4).flatMap(PairingFit.init(rawValue:)), fitComment: row.text(5), shareTextWithAdmins: row.int(6) == 1,
                submittedAt: Date(timeIntervalSince1970: row.double(7) ?? 0)
            )
        }
    }

    // MARK: Surveys

    /// Stores (or replaces) a participant's answers to a due survey.
    func submitSurvey(
        _ input: SurveyResponseInput, match: MatchFacts, respondent: Respondent, measures: [ReturnMeasure: Int8], sharedText: String?, now: Date
    ) async throws -> Bool {
        try await write(changing: [respondent.organisationID]) { connection in
            let organisation = respondent.organisationID
            try Self.refuseErased(connection, organisation: organisation, person: respondent.personID)
            let existing = try connection.first(
                "SELECT 1 FROM survey_responses WHERE org_id = ? AND match_id = ? AND person_id = ? AND kind = ? AND round = ?",
                organisation, match.matchID, respondent.personID, input.kind.rawValue, input.round
            )
            let person = try Self.personKey(connection, organisation: organisation, person: respondent.personID)
            let division = try Self.divisionKey(connection, organisation: organisation, name: respondent.division)
            guard let matchKey = try connection.first("SELECT mkey FROM matches WHERE org_id = ? AND match_id = ?", organisation, match.matchID)?.int(0) else {
                throw FeedbackStoreError.corrupt("match key")
            }
            try connection.execute("""
                INSERT INTO survey_responses (org_id, match_id, person_id, kind, round, program_id, pkey, mkey, role, dkey, month,
                                              competency, relationship, retention, answers, shared_text, submitted_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (org_id, match_id, person_id, kind, round) DO UPDATE SET dkey = excluded.dkey, month = excluded.month,
                    competency = excluded.competency, relationship = excluded.relationship, retention = excluded.retention,
                    answers = excluded.answers, shared_text = excluded.shared_text, submitted_at = excluded.submitted_at
                """, organisation, match.matchID, respondent.personID, input.kind.rawValue, input.round, match.programID, person, matchKey,
                Int(respondent.role), division, Int(Month.index(now)), Int(measures[.competency] ?? -1), Int(measures[.relationship] ?? -1),
                Int(measures[.retention] ?? -1), Array(try CBOREncoder().encode(input.answers)), sharedText, now.timeIntervalSince1970)
            return existing != nil
        }
    }

    /// The surveys a person has answered.
    func answeredSurveys(organisation: UUID, person: UUID) async throws -> Set<InvitationKey> {
        try await database.read { connection in
            Set(try connection.query(
                "SELECT match_id, person_id, kind, round FROM survey_responses WHERE org_id = ? AND person_id = ?", organisation, person
            ).compactMap(Self.invitationKey))
        }
    }

    /// Whether the person was erased (identity's erasure feed, or `feedback.ErasePerson`).
    func isErased(organisation: UUID, person: UUID) async throws -> Bool {
        try await database.quickRead { connection in
            try connection.first("SELECT 1 FROM erased_people WHERE org_id = ? AND person_id = ?", organisation, person) != nil
        }
    }

    /// Which of `invitations` need no invitation sent: answered, or for a person since erased.
    /// A primary-key lookup each, in one snapshot, so what it costs grows with what is asked, not
    /// with the organisation's history of answers.
    func answeredOrErased(organisation: UUID, among invitations: [InvitationKey]) async throws -> Set<InvitationKey> {
        guard !invitations.isEmpty else { return [] }
        return try await database.read { connection in
            var erased: [UUID: Bool] = [:]
            var settled = Set<InvitationKey>()
            for key in invitations {
                let personErased = try erased[key.person] ?? {
                    let found = try connection.first("SELECT 1 FROM erased_people WHERE org_id = ? AND person_id = ?", organisation, key.person) != nil
                    erased[key.person] = found
                    return found
                }()
                if try personErased || connection.first(
                    "SELECT 1 FROM survey_responses WHERE org_id = ? AND match_id = ? AND person_id = ? AND kind = ? AND round = ?",
                    organisation, key.match, key.person, key.kind.rawValue, key.round
                ) != nil {
                    settled.insert(key)
                }
            }
            return settled
        }
    }

    static func invitationKey(_ row: SQLiteRow) -> InvitationKey? {
        guard let match = row.uuid(0), let person = row.uuid(1), let kind = row.text(2).flatMap(SurveyKind.init(rawValue:)) else { return nil }
        return InvitationKey(match: match, person: person, kind: kind, round: Int(row.int(3) ?? 0))
    }

    // MARK: Goals

    func goals(organisation: UUID, match: UUID) async throws -> [Goal] {
        try await database.read { connection in
            try connection.query("SELECT data, version, updated_at FROM goals WHERE org_id = ? AND match_id = ? ORDER BY goal_id", organisation, match).map { row in
                var goal = try CBORDecoder().decode(Goal.self, from: row.blob(0) ?? [])
                goal.version = Int(row.int(1) ?? 1)
                goal.updatedAt = Date(timeIntervalSince1970: row.double(2) ?? 0)
                return goal
            }
        }
    }

    func setGoal(organisation: UUID, _ goal: Goal, mentee: UUID, now: Date) async throws -> Goal {
        try await database.write { connection in
            try Self.refuseErased(connection, organisation: organisation, person: mentee)
            var stored = goal
            let id = goal.id ?? UUID()
            stored.id = id
            stored.version = nil
            stored.updatedAt = nil
            let current = try connection.first("SELECT version, match_id FROM goals WHERE goal_id = ? AND org_id = ?", id, organisation)
            if goal.id != nil, current == nil { throw RPCError.notFound("goal", id.uuidString.lowercased()) }
            if let current, current.uuid(1) != goal.matchID { throw RPCError.notFound("goal", id.uuidString.lowercased()) }
            let currentVersion = current.flatMap { $0.int(0) }.map(Int.init)
            if let sent = goal.version, let currentVersion, sent != currentVersion {
                throw RPCError(code: .aborted, message: "goal changed: you sent version \(sent), the current version is \(currentVersion); read it again")
            }
            let version = (currentVersion ?? 0) + 1
            try connection.execute("""
                INSERT INTO goals (goal_id, org_id, match_id, mentee_id, data, version, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT (goal_id) DO UPDATE SET data = excluded.data, version = excluded.version, updated_at = excluded.updated_at
                """, id, organisation, goal.matchID, mentee, Array(try CBOREncoder().encode(stored)), version, now.timeIntervalSince1970)
            stored.version = version
            stored.updatedAt = now
            return stored
        }
    }

    // MARK: Erasure

    /// Removes a person's answers, notes and goals; later reports no longer count them.
    func erase(organisation: UUID, person: UUID) async throws -> Int {
        let removed = try await write(changing: [organisation]) { connection in
            try Self.erase(connection, organisation: organisation, person: person)
        }
        // The database overwrites what it deletes (secure delete); the log still holds the pages
        // as they were until it is copied and truncated.
        if removed > 0 { await database.truncateLogAfterErasure() }
        return removed
    }

    /// Applies a page of identity's erasures and moves the cursor, in one transaction. Erasing a
    /// person again removes nothing more, so a page applied twice is harmless.
    func applyErasures(_ page: ErasurePage) async throws {
        let removed = try await write(changing: Set(page.erasures.map(\.organisationID))) { connection in
            var total = 0
            for erasure in page.erasures {
                try connection.execute(
                    "INSERT INTO erased_people (org_id, person_id, erased_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    erasure.organisationID, erasure.personID, erasure.erasedAt.timeIntervalSince1970
                )
                let removed = try Self.erase(connection, organisation: erasure.organisationID, person: erasure.personID)
                if removed > 0 {
                    self.logger.notice("erased a person erased in identity", metadata: [
                        "person": "\(erasure.personID)", "organisation": "\(erasure.organisationID)", "removed": "\(removed)",
                    ])
                }
                total += removed
            }
            try Self.setCursor(connection, feed: "erasures", page.last)
            return total
        }
        if removed > 0 { await database.truncateLogAfterErasure() }
    }

    /// Answers and goals of a person erased in identity are refused: their access token may
    /// still be valid (for up to 15 minutes after the erasure), but they no longer exist.
    static func refuseErased(_ connection: SQLiteConnection, organisation: UUID, person: UUID) throws {
        guard try connection.first("SELECT 1 FROM erased_people WHERE org_id = ? AND person_id = ?", organisation, person) != nil else { return }
        throw RPCError(code: .unauthenticated, message: "person \(person.uuidString.lowercased()) was erased; nothing more is kept for them")
    }

    /// A person's goals (as mentee) and the comments of their fit signals, for their erasure.
    static let eraseGoalsSQL = "DELETE FROM goals WHERE org_id = ? AND mentee_id = ?"
    static let eraseFitCommentsSQL = "UPDATE fit_outbox SET comment = NULL WHERE org_id = ? AND person_id = ?"

    /// The erasure itself (`feedback.ErasePerson` and identity's erasure feed): the person's
    /// session feedback with its private notes, survey answers and goals. Returns the rows removed.
    static func erase(_ connection: SQLiteConnection, organisation: UUID, person: UUID) throws -> Int {
        var removed = 0
        removed += try connection.execute("DELETE FROM session_feedback WHERE org_id = ? AND person_id = ?", organisation, person)
        removed += try connection.execute("DELETE FROM survey_responses WHERE org_id = ? AND person_id = ?", organisation, person)
        removed += try connection.execute(Self.eraseGoalsSQL, organisation, person)
        // A signal not yet delivered still goes out (matching needs it), without the comment.
        try connection.execute(Self.eraseFitCommentsSQL, organisation, person)
        return removed
    }

    // MARK: Outbox

    func pendingFitSignals(now: Date, limit: Int) async throws -> [PendingFitSignal] {
        try await database.read { connection in
            try connection.query("""
                SELECT id, org_id, match_id, person_id, comment, attempts FROM fit_outbox
                WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY next_attempt_at, id LIMIT ?
                """, now.timeIntervalSince1970, limit).compactMap { row in
                guard let id = row.int(0), let organisation = row.uuid(1), let match = row.uuid(2), let person = row.uuid(3) else { return nil }
                return PendingFitSignal(
                    id: id, signal: FitSignal(organisationID: organisation, matchID: match, personID: person, comment: row.text(4)),
                    attempts: Int(row.int(5) ?? 0)
                )
            }
        }
    }

    func markDelivered(_ id: Int64, now: Date) async throws {
        try await database.write { connection in
            _ = try connection.execute("UPDATE fit_outbox SET delivered_at = ?, attempts = attempts + 1, last_error = NULL WHERE id = ?", now.timeIntervalSince1970, id)
        }
    }

    func markFailed(_ id: Int64, error: String, retryAt: Date) async throws {
        try await database.write { connection in
            _ = try connection.execute(
                "UPDATE fit_outbox SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?", retryAt.timeIntervalSince1970, String(error.prefix(500)), id
            )
        }
    }

    /// Signals still waiting (the metric), counted from the index of pending ones: delivered
    /// signals are kept, and the table is not read in full on every pass.
    func pendingFitSignalCount() async throws -> Int {
        try await database.read { connection in
            Int(try connection.first(Self.pendingFitSignalCountSQL)?.int(0) ?? 0)
        }
    }

    static let pendingFitSignalCountSQL = "SELECT count(*) FROM fit_outbox WHERE delivered_at IS NULL"

    /// Signals delivered and still waiting (for tests).
    func outboxCounts() async throws -> (delivered: Int, pending: Int) {
        try await database.read { connection in
            let row = try connection.first("SELECT count(delivered_at), count(*) - count(delivered_at) FROM fit_outbox")
            return (Int(row?.int(0) ?? 0), Int(row?.int(1) ?? 0))
        }
    }
}
