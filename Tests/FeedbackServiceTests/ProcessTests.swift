import Foundation
import Logging
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// `tandem-feedback` as platform teams run it: its own process next to real identity and
/// scheduling processes, and a stand-in matching server (in this process, over mutual TLS).
@Suite("tandem-feedback executable")
struct FeedbackProcessTests {
    @Test("bad configuration fails at start-up with one clear line")
    func configuration() async throws {
        let directory = temporaryDirectory()
        try TestPKI.shared.writeFiles(for: ["feedback"], into: URL(fileURLWithPath: directory))
        let tls = ["--certificate", directory + "/feedback.pem", "--key", directory + "/feedback-key.pem", "--ca", directory + "/ca.pem", "--data-dir", directory + "/data"]
        for (arguments, environment, expected) in [
            (tls + ["--scheduling", "nowhere"], [String: String](), "--scheduling 'nowhere' is not HOST:PORT"),
            (tls, ["TANDEM_MATCHING": "x"], "--matching 'x' is not HOST:PORT"),
            (tls + ["--sync-seconds", "0"], [:], "must be 1–3600"),
        ] {
            let result = try await ServiceProcess.run("tandem-feedback", arguments, environment: environment)
            #expect(result.status != 0 && result.output.contains(expected), "\(arguments): \(result.output)")
        }
        let path = directory + "/feedback.conf"
        try "sync-seconds = 2\nfrobnicate = 1\n".write(toFile: path, atomically: true, encoding: .utf8)
        let file = try await ServiceProcess.run("tandem-feedback", tls + ["--config", path])
        #expect(file.status != 0 && file.output.contains("feedback.conf:2: unknown setting 'frobnicate'"), "\(file.output)")
        let version = try await ServiceProcess.run("tandem-feedback", ["--version"])
        #expect(version.status == 0 && version.output.contains("wire protocol 1"))
    }

    @Test("serves next to identity and scheduling; kill -9 loses no acknowledged answer or fit signal; SIGTERM exits 0")
    func lifecycle() async throws {
        try await withFeedbackProcesses(scheduling: true) { cluster in
            let (matching, identityClient, feedbackClient, admin, program, asAdmin) = (
                cluster.matching, cluster.identityClient, cluster.feedbackClient, cluster.admin, cluster.program, cluster.asAdmin
            )
            let schedulingClient = try #require(cluster.schedulingClient)
            let mentee = try await identityClient.call(Identity.createPerson, CreatePersonRequest(
                person: PersonInput(email: "ravi@acme.example", name: "Ravi", division: "Sales", jobTitle: "AE", seniority: 2, timeZone: "UTC"),
                password: "a long enough password"
            ), options: asAdmin)
            _ = try await identityClient.call(Identity.upsertParticipation, ParticipationInput(programID: program.id, personID: mentee.id, role: .mentee), options: asAdmin)
            for person in [admin.subject, mentee.id] {
                _ = try await eventuallyCall {
                    try await schedulingClient.call(Scheduling.setAvailability, Availability(
                        personID: person, timeZone: "UTC", workingHours: WorkingHours(days: [1, 2, 3, 4, 5, 6, 7], startMinute: 0, endMinute: 1440),
                        acceptsOutsideWorkingHours: true
                    ), options: asAdmin)
                }
            }
            let match = makeMatch(organisation: admin.organisationID, program: program.id, mentor: admin.subject, mentee: mentee.id, startedAt: Date().addingTimeInterval(-3600))
            matching.upsert(match)
            _ = try await schedulingClient.call(Scheduling.registerPair, Pair(matchID: match.id, programID: program.id, mentorID: admin.subject, menteeID: mentee.id), options: asAdmin)
            // A meeting that started four minutes ago (the latest start a booking accepts), then held.
            let meeting = try await schedulingClient.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: match.id, start: Date().addingTimeInterval(-240), durationMinutes: 30, timeZone: "UTC"
            ), options: asAdmin)
            _ = try await schedulingClient.call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: meeting.id, status: .held), options: asAdmin)

            // The mentee's answer is acknowledged while matching is down; then feedback crashes.
            matching.setDown(true)
            let menteeToken = try await identityClient.call(Identity.signIn, SignInRequest(organisation: "acme", email: "ravi@acme.example", password: "a long enough password")).accessToken
            let submitted = try await eventuallyCall {
                try await feedbackClient.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                    meetingID: meeting.id, rating: 2, privateNote: "not for anyone", pairingFit: .notAGoodFit, fitComment: "no common ground"
                ), options: cluster.bearer(menteeToken))
            }
            cluster.feedback.send(SIGKILL)
            #expect(await cluster.feedback.waitForExit(seconds: 10) != 0)
            #expect(matching.signals.isEmpty)
            matching.setDown(false)
            try await cluster.restartFeedback()
            let again = try await eventuallyCall {
                try await feedbackClient.call(Feedback.getSessionFeedback, SessionFeedbackRef(meetingID: meeting.id), options: cluster.bearer(menteeToken))
            }
            #expect(again == submitted)
            // The signal leaves the outbox after the restart and reaches matching.
            #expect(try await eventually(timeout: .seconds(60)) { !matching.signals.isEmpty })
            #expect(matching.signals == [FitSignal(organisationID: admin.organisationID, matchID: match.id, personID: mentee.id, comment: "no common ground")])

            let adminPort = cluster.adminPort
            #expect(try httpGet(port: adminPort, path: "/healthz").status == 200)
            #expect(try await eventually { (try? httpGet(port: adminPort, path: "/readyz").status) == 200 })
            let metrics = try httpGet(port: adminPort, path: "/metrics")
            #expect(metrics.body.contains(#"tandem_rpc_calls_total{method="feedback.GetSessionFeedback",code="OK"} 1"#), "\(metrics.body.prefix(2000))")
            #expect(metrics.body.contains(#"tandem_store_commit_duration_count{database="feedback"}"#))
            // The gauge is recorded after each delivery pass: wait for the pass that delivered it.
            #expect(try await eventually(timeout: .seconds(30)) {
                (try? httpGet(port: adminPort, path: "/metrics").body.contains("tandem_feedback_fit_signals_pending 0")) == true
            }, "the delivered signal left the outbox")
            #expect(metrics.body.contains(#"tandem_feedback_feed_cursor{feed="meetings"}"#))

            cluster.feedback.send(SIGTERM)
            #expect(await cluster.feedback.waitForExit(seconds: 30) == 0, "\(cluster.feedback.output.suffix(600))")
        }
    }
}
