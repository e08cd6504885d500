import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import FeedbackService

@Suite("Feedback end to end: erasure in identity reaches feedback")
struct ErasureEndToEndTests {
    @Test("an org-admin erases a mentee in identity: feedback's report no longer counts their answers, and nobody calls feedback.ErasePerson")
    func identityErasureReachesReports() async throws {
        try await withFeedbackCluster { cluster in
            var mentees: [(id: UUID, name: String, match: UUID)] = []
            for index in 0..<4 {
                let mentor = try await cluster.person("Guide\(index)", division: "Platform", role: .mentor)
                let mentee = try await cluster.person("Learner\(index)", division: "Sales", role: .mentee)
                let (match, _) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id, meetings: 0)
                mentees.append((mentee.id, "Learner\(index)", match.id))
            }
            try await cluster.server.syncNow()
            cluster.clock.advance(31 * 86_400)
            for (index, mentee) in mentees.enumerated() {
                _ = try await cluster.call(Feedback.submitSurvey, SurveyResponseInput(matchID: mentee.match, kind: .pulse, round: 1, answers: [
                    SurveyAnswer(questionID: "competency", value: index == 0 ? 1 : 5), SurveyAnswer(questionID: "relationship", value: 4),
                    SurveyAnswer(questionID: "stay", value: 4),
                ]), token: try await cluster.token(mentee.name))
                _ = try await cluster.call(Feedback.setGoal, Goal(matchID: mentee.match, title: "Goal \(index)"), token: try await cluster.token(mentee.name))
            }
            let admin = try await cluster.adminToken()
            _ = try await cluster.call(Feedback.setSettings, FeedbackSettings(k: 3), token: admin)
            let before = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(before.overall.respondents == 4 && before.overall.competency == ReturnFigure(percent: 75, respondents: 4))

            _ = try await cluster.call(Identity.erasePerson, PersonRef(personID: mentees[0].id), token: admin)
            // The background loop pulls every few seconds; here the test pulls once itself.
            try await cluster.server.syncNow()
            let after = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(after.overall.respondents == 3 && after.overall.competency == ReturnFigure(percent: 100, respondents: 3))
            #expect(try await cluster.server.store.answeredSurveys(organisation: cluster.admin.organisationID, person: mentees[0].id).isEmpty)
            #expect(try await cluster.server.store.goals(organisation: cluster.admin.organisationID, match: mentees[0].match).isEmpty)
            #expect(try await cluster.server.store.goals(organisation: cluster.admin.organisationID, match: mentees[1].match).count == 1)
            #expect(try await cluster.server.store.cursor("erasures") == 1)
            // Their answer is gone, but their survey is not due again: nothing is offered to an
            // erased person (the others' surveys are answered too).
            #expect(try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(personID: mentees[0].id), token: admin).invitations.isEmpty)
        }
    }
}
