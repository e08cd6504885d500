package import Foundation
import TandemStore

extension FeedbackServer {
    /// The straightforward way to compute a report's figures, kept as the benchmark's baseline:
    /// one SQL `GROUP BY` per cut and table (answers and ratings by program, role, division,
    /// cohort and month). It counts each answer rather than each person's latest and suppresses
    /// nothing, so it does less than `report`; returns the number of groups it produced.
    package func baselineReportQueries(organisation: UUID, program: UUID) async throws -> Int {
        try await store.database.read { connection in
            let answerFigures = """
                count(DISTINCT r.pkey), sum(r.competency = 1), sum(r.competency >= 0), sum(r.relationship = 1), sum(r.relationship >= 0),
                sum(r.retention = 1), sum(r.retention >= 0)
                """
            let ratingFigures = "count(DISTINCT r.pkey), avg(r.rating), count(*)"
            var groups = 0
            for (table, figures) in [("survey_responses", answerFigures), ("session_feedback", ratingFigures)] {
                for key in ["'all'", "r.role", "r.dkey", "strftime('%Y-%m', m.started_at, 'unixepoch')", "r.month"] {
                    let join = key.contains("started_at") ? " JOIN matches m ON m.mkey = r.mkey" : ""
                    groups += try connection.query(
                        "SELECT \(key), \(figures) FROM \(table) r\(join) WHERE r.org_id = ? AND r.program_id = ? GROUP BY 1", organisation, program
                    ).count
                }
            }
            return groups
        }
    }
}

extension FeedbackServer {
    /// A pass of the invitation stream as it used to be, kept as the benchmark's baseline: the
    /// organisation's started matches and every answer it ever received read again, then the
    /// due invitations filtered. Returns how many are unanswered.
    package func baselineInvitationPass(organisation: UUID, since: Date) async throws -> Int {
        let matches = try await store.startedMatches(organisation: organisation)
        let answered = try await store.database.read { connection in
            Set(try connection.query("SELECT match_id, person_id, kind, round FROM survey_responses WHERE org_id = ?", organisation).compactMap {
                FeedbackStore.invitationKey($0)?.id
            })
        }
        let due = try await dueInvitations(organisation: organisation, matches: matches, person: nil, since: since)
        return DueInvitation.sorted(due.filter { !answered.contains($0.key.id) }, organisation: organisation).count
    }
}
