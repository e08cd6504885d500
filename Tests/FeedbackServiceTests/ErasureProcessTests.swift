import Foundation
import Logging
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-identity` and `tandem-feedback` as platform teams run them, each its own process over
/// mutual TLS, with a stand-in matching server in this process (for the match facts surveys need).
@Suite("Erasure across tandem-identity and tandem-feedback")
struct ErasureProcessTests {
    @Test("an erasure in identity leaves feedback's report within seconds while both run, and once feedback is back when it was down at the time")
    func erasureReachesFeedback() async throws {
        // No scheduling: its feed fails on its own while the others go on.
        try await withFeedbackProcesses(scheduling: false) { cluster in
            let (matching, identityClient, feedbackClient, admin, program, asAdmin) = (
                cluster.matching, cluster.identityClient, cluster.feedbackClient, cluster.admin, cluster.program, cluster.asAdmin
            )
            let adminPort = cluster.adminPort
            var mentees: [UUID] = []
            for index in 0..<5 {
                let email = "mentee\(index)@acme.example"
                let mentee = try await identityClient.call(Identity.createPerson, CreatePersonRequest(
                    person: PersonInput(email: email, name: "Mentee \(index)", division: "Sales", jobTitle: "AE", seniority: 2, timeZone: "UTC"),
                    password: "a long enough password"
                ), options: asAdmin)
                _ = try await identityClient.call(Identity.upsertParticipation, ParticipationInput(programID: program.id, personID: mentee.id, role: .mentee), options: asAdmin)
                // The match started 31 days ago: its first pulse survey is due.
                let match = makeMatch(
                    organisation: admin.organisationID, program: program.id, mentor: admin.subject, mentee: mentee.id, startedAt: Date().addingTimeInterval(-31 * 86_400)
                )
                matching.upsert(match)
                let token = try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: email, password: "a long enough password")).accessToken
                let answers = SurveyResponseInput(matchID: match.id, kind: .pulse, round: 1, answers: [
                    SurveyAnswer(questionID: "competency", value: 5), SurveyAnswer(questionID: "relationship", value: 4), SurveyAnswer(questionID: "stay", value: 4),
                ])
                // Until feedback has copied the match from the feed, the match is NOT_FOUND.
                #expect(try await eventually(timeout: .seconds(30)) {
                    (try? await feedbackClient.call(Feedback.submitSurvey, answers, options: cluster.bearer(token))) != nil
                }, "\(cluster.feedback.output.suffix(600))")
                mentees.append(mentee.id)
            }
            _ = try await feedbackClient.call(Feedback.setSettings, FeedbackSettings(k: 3), options: asAdmin)
            @Sendable func respondents() async -> Int? {
                try? await feedbackClient.call(Feedback.programReport, ReportRequest(programID: program.id), options: asAdmin).overall.respondents
            }
            #expect(await respondents() == 5)

            // Both running: the erasure reaches feedback by itself within seconds.
            _ = try await identityClient.call(Identity.erasePerson, PersonRef(personID: mentees[0]), options: asAdmin)
            #expect(try await eventually(timeout: .seconds(30)) { await respondents() == 4 }, "the erased mentee's answers left the report")
            #expect(try await eventually(timeout: .seconds(30)) {
                (try? httpGet(port: adminPort, path: "/metrics").body.contains(#"tandem_feedback_feed_cursor{feed="erasures"} 1"#)) == true
            })

            // Feedback down during the erasure: it catches up from its cursor when it is back.
            cluster.feedback.send(SIGTERM)
            #expect(await cluster.feedback.waitForExit(seconds: 30) == 0, "\(cluster.feedback.output.suffix(600))")
            _ = try await identityClient.call(Identity.erasePerson, PersonRef(personID: mentees[1]), options: asAdmin)
            try await cluster.restartFeedback()
            #expect(try await eventually(timeout: .seconds(30)) { await respondents() == 3 }, "\(cluster.feedback.output.suffix(600))")
            #expect(try await eventually(timeout: .seconds(30)) {
                (try? httpGet(port: adminPort, path: "/metrics").body.contains(#"tandem_feedback_feed_cursor{feed="erasures"} 2"#)) == true
            })

            cluster.feedback.send(SIGTERM)
            #expect(await cluster.feedback.waitForExit(seconds: 30) == 0)
        }
    }
}
