package import Foundation
package import TandemProtocols
import TandemStore
import TandemWire

/// A survey response from elsewhere (a migration from another survey tool, or a benchmark).
package struct ImportedSurveyResponse: Sendable {
    package var organisationID: UUID
    package var programID: UUID
    package var matchID: UUID
    package var personID: UUID
    /// 0 mentor, 1 mentee.
    package var role: UInt8
    package var division: String?
    package var kind: SurveyKind
    package var round: Int
    package var answers: [SurveyAnswer]
    package var submittedAt: Date

    package init(
        organisationID: UUID, programID: UUID, matchID: UUID, personID: UUID, role: UInt8, division: String?, kind: SurveyKind, round: Int,
        answers: [SurveyAnswer], submittedAt: Date
    ) {
        self.organisationID = organisationID
        self.programID = programID
        self.matchID = matchID
        self.personID = personID
        self.role = role
        self.division = division
        self.kind = kind
        self.round = round
        self.answers = answers
        self.submittedAt = submittedAt
    }
}

/// A session rating from elsewhere.
package struct ImportedRating: Sendable {
    package var organisationID: UUID
    package var meeting: Meeting
    package var personID: UUID
    package var role: UInt8
    package var division: String?
    package var rating: Int
    package var submittedAt: Date

    package init(organisationID: UUID, meeting: Meeting, personID: UUID, role: UInt8, division: String?, rating: Int, submittedAt: Date) {
        self.organisationID = organisationID
        self.meeting = meeting
        self.personID = personID
        self.role = role
        self.division = division
        self.rating = rating
        self.submittedAt = submittedAt
    }
}

extension FeedbackStore {
    /// Stores many survey responses in one transaction (already validated by the caller).
    func importSurveyResponses(_ responses: [ImportedSurveyResponse], measures: [ReturnMeasure: String]) async throws {
        try await write(changing: Set(responses.map(\.organisationID))) { connection in
            var people: [UUID: Int64] = [:]
            var divisions: [String: Int64] = [:]
            var matches: [UUID: Int64] = [:]
            for response in responses {
                let organisation = response.organisationID
                let person = try people[response.personID] ?? Self.personKey(connection, organisation: organisation, person: response.personID)
                people[response.personID] = person
                let division = try response.division.flatMap { divisions[$0] } ?? Self.divisionKey(connection, organisation: organisation, name: response.division)
                if let name = response.division { divisions[name] = division }
                guard let match = try matches[response.matchID]
                    ?? connection.first("SELECT mkey FROM matches WHERE org_id = ? AND match_id = ?", organisation, response.matchID)?.int(0) else {
                    throw RPCError.notFound("match", response.matchID.uuidString.lowercased())
                }
                matches[response.matchID] = match
                func value(_ measure: ReturnMeasure) -> Int {
                    guard let question = measures[measure], let answer = response.answers.first(where: { $0.questionID == question })?.value else { return -1 }
                    return answer >= 4 ? 1 : 0
                }
                try connection.execute("""
                    INSERT OR REPLACE INTO survey_responses (org_id, match_id, person_id, kind, round, program_id, pkey, mkey, role, dkey, month,
                                                  competency, relationship, retention, answers, shared_text, submitted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, ?)
                    """, organisation, response.matchID, response.personID, response.kind.rawValue, response.round, response.programID, person, match,
                    Int(response.role), division, Int(Month.index(response.submittedAt)), value(.competency), value(.relationship), value(.retention),
                    Array(try CBOREncoder().encode(response.answers)), response.submittedAt.timeIntervalSince1970)
            }
        }
    }

    /// Stores many session ratings in one transaction.
    func importRatings(_ ratings: [ImportedRating]) async throws {
        try await write(changing: Set(ratings.map(\.organisationID))) { connection in
            var people: [UUID: Int64] = [:]
            var divisions: [String: Int64] = [:]
            var matches: [UUID: Int64] = [:]
            for rating in ratings {
                let organisation = rating.organisationID
                let meeting = rating.meeting
                let person = try people[rating.personID] ?? Self.personKey(connection, organisation: organisation, person: rating.personID)
                people[rating.personID] = person
                let division = try rating.division.flatMap { divisions[$0] } ?? Self.divisionKey(connection, organisation: organisation, name: rating.division)
                if let name = rating.division { divisions[name] = division }
                guard let match = try matches[meeting.matchID]
                    ?? connection.first("SELECT mkey FROM matches WHERE org_id = ? AND match_id = ?", organisation, meeting.matchID)?.int(0) else {
                    throw RPCError.notFound("match", meeting.matchID.uuidString.lowercased())
                }
                matches[meeting.matchID] = match
                try connection.execute("""
                    INSERT OR REPLACE INTO session_feedback (org_id, meeting_id, person_id, match_id, program_id, pkey, mkey, role, dkey, month, rating,
                                                  share_text, submitted_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?)
                    """, organisation, meeting.id, rating.personID, meeting.matchID, meeting.programID, person, match, Int(rating.role), division,
                    Int(Month.index(meeting.start)), rating.rating, rating.submittedAt.timeIntervalSince1970)
            }
        }
    }
}

extension FeedbackServer {
    /// Imports survey responses (checked against the program's template) in one transaction.
    package func importSurveyResponses(_ responses: [ImportedSurveyResponse]) async throws {
        guard let first = responses.first else { return }
        var measures: [ReturnMeasure: String] = [:]
        let template = try await store.template(organisation: first.organisationID, program: first.programID, kind: first.kind)
        for question in template.questions { if let measure = question.measures { measures[measure] = question.id } }
        for response in responses {
            try check(SurveyRules.validate(answers: response.answers, template: template))
        }
        try await store.importSurveyResponses(responses, measures: measures)
    }

    /// Imports session ratings in one transaction.
    package func importRatings(_ ratings: [ImportedRating]) async throws {
        for rating in ratings where !(1...5).contains(rating.rating) {
            throw RPCError.invalidArgument(field: "rating", rule: "range", "must be 1–5, got \(rating.rating)")
        }
        try await store.importRatings(ratings)
    }

    /// The database file (for tools that read it directly).
    package var databasePath: String { store.database.path }
}
