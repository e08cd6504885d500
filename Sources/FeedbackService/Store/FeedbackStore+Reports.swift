import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// A survey that fell due, packed into one integer: match key, dense person index, kind, round.
private func dueKey(match: Int64, person: Int32, pulse: Bool, round: Int) -> Int64 {
    (match << 32) | (Int64(person & 0xF_FFFF) << 12) | (pulse ? 0 : 0x800) | Int64(round & 0x7FF)
}

extension FeedbackStore {
    /// Everything a program report needs, read in one snapshot: a handful of queries over
    /// integer columns (answers by program and time), whatever the number of cuts.
    func reportFacts(
        organisation: UUID, program: UUID, months: ClosedRange<Int32>, pulse: (first: Int, every: Int), now: Date
    ) async throws -> ReportFacts {
        // On a store reader thread (the reads block), through the column reader.
        let reports = self.reports
        return try await database.read { _ in try reports.read { connection in
            var facts = ReportFacts()
            var dense: [UUID: Int32] = [:]
            func index(_ person: UUID) -> Int32 {
                if let existing = dense[person] { return existing }
                let new = Int32(dense.count)
                dense[person] = new
                return new
            }
            // People keys to dense indexes (an array: keys are small integers).
            var largest = 0
            try connection.each("SELECT max(pkey) FROM people", []) { largest = Int($0.int(0) ?? 0) }
            var byKey = [Int32](repeating: -1, count: largest + 1)
            try connection.each("SELECT pkey, person_id FROM people WHERE org_id = ?", [.uuid(organisation)]) { row in
                if let key = row.int(0), let person = row.uuid(1), Int(key) <= largest { byKey[Int(key)] = index(person) }
            }
            func person(_ key: Int64) -> Int32? {
                guard key >= 0, Int(key) < byKey.count, byKey[Int(key)] >= 0 else { return nil }
                return byKey[Int(key)]
            }
            try connection.each("SELECT dkey, name FROM divisions WHERE org_id = ?", [.uuid(organisation)]) { row in
                if let key = row.int(0), let name = row.text(1) { facts.divisions[Int32(key)] = name }
            }

            // Matches that started, and the surveys due in them.
            var due: [(match: Int64, person: Int32, key: Int64, role: UInt8, month: Int32)] = []
            try connection.each("""
                SELECT mkey, mentor_id, mentee_id, status, started_at, ended_at, match_id, program_id FROM matches
                WHERE org_id = ? AND program_id = ? AND started_at IS NOT NULL
                """, [.uuid(organisation), .uuid(program)]) { row in
                guard let key = row.int(0), let mentor = row.uuid(1), let mentee = row.uuid(2), let started = row.double(4),
                      let matchID = row.uuid(6) else { return }
                let startedAt = Date(timeIntervalSince1970: started)
                facts.matches.append(ReportFacts.MatchRow(key: key, mentor: index(mentor), mentee: index(mentee), cohort: Month.index(startedAt)))
                let facts = MatchFacts(
                    organisationID: organisation, matchID: matchID, programID: program, mentorID: mentor, menteeID: mentee,
                    status: row.text(3) ?? "unknown", startedAt: startedAt, endedAt: row.double(5).map(Date.init(timeIntervalSince1970:))
                )
                for survey in SurveySchedule.due(facts, firstAfterDays: pulse.first, everyDays: pulse.every, now: now) {
                    let month = Month.index(survey.dueAt)
                    guard months.contains(month) else { continue }
                    let pulse = survey.kind == .pulse
                    let mentorIndex = index(mentor), menteeIndex = index(mentee)
                    due.append((key, mentorIndex, dueKey(match: key, person: mentorIndex, pulse: pulse, round: survey.round), 0, month))
                    due.append((key, menteeIndex, dueKey(match: key, person: menteeIndex, pulse: pulse, round: survey.round), 1, month))
                }
            }

            var answered = Set<Int64>(minimumCapacity: due.count)
            facts.answers.reserve(due.count)
            try connection.each("""
                SELECT pkey, mkey, role, dkey, month, competency, relationship, retention, kind = 'pulse', round FROM survey_responses
                INDEXED BY survey_responses_by_program WHERE org_id = ? AND program_id = ? ORDER BY submitted_at
                """, [.uuid(organisation), .uuid(program)]) { row in
                // Every column is NOT NULL: read without type checks.
                guard let person = person(row.integer(0)) else { return }
                let match = row.integer(1)
                answered.insert(dueKey(match: match, person: person, pulse: row.integer(8) == 1, round: Int(row.integer(9))))
                let month = Int32(row.integer(4))
                guard months.contains(month) else { return }
                facts.answers.person.append(person)
                facts.answers.match.append(match)
                facts.answers.role.append(UInt8(truncatingIfNeeded: row.integer(2)))
                facts.answers.division.append(Int32(truncatingIfNeeded: row.integer(3)))
                facts.answers.month.append(month)
                facts.answers.competency.append(Int8(truncatingIfNeeded: row.integer(5)))
                facts.answers.relationship.append(Int8(truncatingIfNeeded: row.integer(6)))
                facts.answers.retention.append(Int8(truncatingIfNeeded: row.integer(7)))
            }
            for entry in due {
                facts.due.person.append(entry.person)
                facts.due.match.append(entry.match)
                facts.due.role.append(entry.role)
                facts.due.month.append(entry.month)
                facts.due.answered.append(answered.contains(entry.key))
            }

            try connection.each(
                "SELECT pkey, mkey, role, dkey, month, rating FROM session_feedback INDEXED BY session_feedback_by_program WHERE org_id = ? AND program_id = ?",
                [.uuid(organisation), .uuid(program)]
            ) { row in
                guard let person = person(row.integer(0)) else { return }
                let month = Int32(row.integer(4))
                guard months.contains(month) else { return }
                facts.ratings.person.append(person)
                facts.ratings.match.append(row.integer(1))
                facts.ratings.role.append(UInt8(truncatingIfNeeded: row.integer(2)))
                facts.ratings.division.append(Int32(truncatingIfNeeded: row.integer(3)))
                facts.ratings.month.append(month)
                facts.ratings.rating.append(UInt8(truncatingIfNeeded: row.integer(5)))
            }

            try connection.each("""
                SELECT mkey, start, end FROM meetings INDEXED BY meetings_by_program WHERE org_id = ? AND program_id = ? AND status = 'held'
                """, [.uuid(organisation), .uuid(program)]) { row in
                let match = row.integer(0), start = row.real(1), end = row.real(2)
                let month = Month.index(Date(timeIntervalSince1970: start))
                guard months.contains(month) else { return }
                facts.meetings.match.append(match)
                facts.meetings.month.append(month)
                facts.meetings.seconds.append(Int32(max(0, end - start)))
            }

            // Free text whose authors allowed admins to read it (never private notes).
            try connection.each("""
                SELECT useful FROM session_feedback WHERE org_id = ? AND program_id = ? AND share_text = 1 AND useful IS NOT NULL AND month BETWEEN ? AND ?
                UNION ALL
                SELECT shared_text FROM survey_responses WHERE org_id = ? AND program_id = ? AND shared_text IS NOT NULL AND month BETWEEN ? AND ?
                LIMIT 200
                """, [.uuid(organisation), .uuid(program), .integer(Int64(months.lowerBound)), .integer(Int64(months.upperBound)),
                   .uuid(organisation), .uuid(program), .integer(Int64(months.lowerBound)), .integer(Int64(months.upperBound))]) { row in
                if let text = row.text(0), !text.isEmpty { facts.sharedComments.append(text) }
            }
            facts.people = dense.count
            return facts
        } }
    }

    /// The latest six ratings of a match's meetings, newest first: walked from the match's newest
    /// meeting back (`meetings_by_match`), each meeting's feedback by its key. Read from the
    /// feedback side instead, this read all of the organisation's feedback once per match, so a
    /// program's health list grew with the square of its size.
    static let recentRatingsSQL = """
        SELECT f.rating FROM meetings t CROSS JOIN session_feedback f ON f.org_id = t.org_id AND f.meeting_id = t.meeting_id
        WHERE t.org_id = ? AND t.match_id = ? ORDER BY t.start DESC LIMIT 6
        """

    /// What match health is judged on, for the program's active matches.
    func healthInputs(organisation: UUID, program: UUID) async throws -> [(MatchFacts, MatchHealthRules.Input, Int)] {
        try await database.read { connection in
            var result: [(MatchFacts, MatchHealthRules.Input, Int)] = []
            for row in try connection.query(
                "SELECT \(Self.matchColumns) FROM matches WHERE org_id = ? AND program_id = ? AND status = 'active' AND started_at IS NOT NULL",
                organisation, program
            ) {
                let match = try Self.match(row)
                let held = try connection.query(
                    "SELECT start FROM meetings WHERE org_id = ? AND match_id = ? AND status = 'held' ORDER BY start", organisation, match.matchID
                ).compactMap { $0.double(0).map(Date.init(timeIntervalSince1970:)) }
                let ratings = try connection.query(Self.recentRatingsSQL, organisation, match.matchID).compactMap { $0.int(0).map(Int.init) }.reversed()
                result.append((match, MatchHealthRules.Input(startedAt: match.startedAt ?? Date(), heldStarts: held, recentRatings: Array(ratings)), held.count))
            }
            return result
        }
    }
}
