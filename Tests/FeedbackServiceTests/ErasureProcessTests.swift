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
        let directory = temporaryDirectory()
        let deployment = try ProcessDeployment(directory: directory, services: ["identity", "feedback"])
        let bootstrap = try deployment.bootstrapIdentity()
        #expect(bootstrap.status == 0, "\(bootstrap.output)")
        let identityPort = try freePort(), feedbackPort = try freePort(), adminPort = try freePort(), nobody = try freePort()
        let identity = try ServiceProcess("tandem-identity", deployment.tls("identity") + ["--port", "\(identityPort)", "--admin-port", "0", "--scrypt-log-n", "10"])
        defer { identity.send(SIGKILL) }
        #expect(waitForPort(identityPort))

        let matching = FakeMatching()
        let verifier = TokenVerifier { throw RPCError(code: .unavailable, message: "no tokens here") }
        try await withServer(
            services: [matching.service], tls: TestPKI.shared.serverTLS(name: "matching"),
            interceptors: [AuthServerInterceptor(verifier: verifier, internalMethods: Matching.internalMethods)]
        ) { _, matchingEndpoint in
            // No scheduling: its feed fails on its own while the others go on.
            let feedbackArguments = deployment.tls("feedback") + [
                "--port", "\(feedbackPort)", "--admin-port", "\(adminPort)", "--identity", "127.0.0.1:\(identityPort)",
                "--scheduling", "127.0.0.1:\(nobody)", "--matching", "127.0.0.1:\(matchingEndpoint.port)", "--sync-seconds", "1",
            ]
            var feedback = try ServiceProcess("tandem-feedback", feedbackArguments)
            defer { feedback.send(SIGKILL) }
            #expect(waitForPort(feedbackPort))

            let identityClient = try makeClient([Endpoint(host: "127.0.0.1", port: identityPort)], serverName: "identity")
            defer { identityClient.close() }
            let feedbackClient = try makeClient([Endpoint(host: "127.0.0.1", port: feedbackPort)], serverName: "feedback")
            defer { feedbackClient.close() }
            @Sendable func bearer(_ token: String) -> CallOptions {
                var options = CallOptions(timeout: .seconds(20))
                options.metadata[Metadata.Keys.authorization] = "Bearer " + token
                return options
            }
            let admin = try await eventuallyCall {
                try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "admin@acme.example", password: "bootstrap password"))
            }
            let asAdmin = bearer(admin.accessToken)
            let program = try await identityClient.call(Identity.createProgram, ProgramInput(name: "Mentoring", format: .oneToOne, startsOn: "2026-01-01"), options: asAdmin)
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
                    (try? await feedbackClient.call(Feedback.submitSurvey, answers, options: bearer(token))) != nil
                })
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
            feedback.send(SIGTERM)
            #expect(feedback.waitForExit(seconds: 30) == 0, "\(feedback.output.suffix(600))")
            _ = try await identityClient.call(Identity.erasePerson, PersonRef(personID: mentees[1]), options: asAdmin)
            feedback = try ServiceProcess("tandem-feedback", feedbackArguments)
            #expect(waitForPort(feedbackPort))
            #expect(try await eventually(timeout: .seconds(30)) { await respondents() == 3 }, "\(feedback.output.suffix(600))")
            #expect(try await eventually(timeout: .seconds(30)) {
                (try? httpGet(port: adminPort, path: "/metrics").body.contains(#"tandem_feedback_feed_cursor{feed="erasures"} 2"#)) == true
            })

            feedback.send(SIGTERM)
            #expect(feedback.waitForExit(seconds: 30) == 0)
        }
        identity.send(SIGTERM)
        #expect(identity.waitForExit(seconds: 30) == 0)
    }
}
