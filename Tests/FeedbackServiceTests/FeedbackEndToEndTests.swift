import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import FeedbackService

extension FeedbackCluster {
    func token(_ name: String, organisation: String = "acme") async throws -> String {
        try await call(Identity.signIn, SignInRequest(organisation: organisation, email: name.lowercased() + "@\(organisation).example", password: Self.password), token: nil).accessToken
    }
}

func violations(_ error: RPCError?) -> [ErrorDetail.FieldViolation] {
    error?.details.flatMap { detail -> [ErrorDetail.FieldViolation] in
        if case .badRequest(let violations) = detail { return violations }
        return []
    } ?? []
}

@Suite("Feedback end to end: identity, scheduling, matching and feedback over mutual TLS")
struct FeedbackEndToEndTests {
    @Test("session feedback: participants only, held meetings only, once (an update replaces it), private notes invisible to others")
    func sessionFeedback() async throws {
        try await withFeedbackCluster { cluster in
            let mentor = try await cluster.person("Maya", division: "Platform", role: .mentor)
            let mentee = try await cluster.person("Ravi", division: "Sales", role: .mentee)
            let outsider = try await cluster.person("Olga", division: "Sales", role: .mentee)
            let (_, meetings) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id, meetings: 2)

            // Not held yet (feedback pulls the meeting from scheduling's feed on demand).
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(meetingID: meetings[0].id, rating: 4), token: mentee.token)
            }
            try await cluster.hold(meetings[0])
            let menteeToken = try await cluster.token("Ravi")
            let mentorToken = try await cluster.token("Maya")
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(meetingID: meetings[0].id, rating: 4), token: try await cluster.token("Olga"))
            }
            let bad = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(meetingID: meetings[0].id, rating: 6), token: menteeToken)
            }
            #expect(violations(bad).map(\.field) == ["rating"] && violations(bad).first?.rule == "range")

            _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                meetingID: meetings[0].id, rating: 4, useful: "promotion case", privateNote: "nervous about the review"
            ), token: menteeToken)
            let replaced = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                meetingID: meetings[0].id, rating: 5, useful: "promotion case", privateNote: "my secret note", pairingFit: .goodFit
            ), token: menteeToken)
            #expect(replaced.rating == 5 && replaced.personID == mentee.id)
            let own = try await cluster.call(Feedback.getSessionFeedback, SessionFeedbackRef(meetingID: meetings[0].id), token: menteeToken)
            #expect(own.rating == 5 && own.privateNote == "my secret note" && own.pairingFit == .goodFit)

            // Nobody else reads it: not the mentor, not the outsider, not an admin.
            for token in [mentorToken, try await cluster.token("Olga"), try await cluster.adminToken()] {
                await expectRPCError(.notFound) {
                    _ = try await cluster.call(Feedback.getSessionFeedback, SessionFeedbackRef(meetingID: meetings[0].id), token: token)
                }
            }
            // Nor does the report or its export carry it.
            let admin = try await cluster.adminToken()
            #expect(try await cluster.call(Feedback.setSettings, FeedbackSettings(k: 3), token: admin).k == 3)
            let export = try await cluster.call(Feedback.exportReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(!export.csv.contains("secret") && !export.csv.contains("promotion"))
            let report = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(report.overall.sharedComments == nil)
            #expect(report.overall.meetingsHeld == 1 && report.overall.ratings == nil, "one respondent is below k")
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: mentorToken)
            }

            // The pairing-fit question belongs to the first held meeting only.
            try await cluster.hold(meetings[1])
            let fit = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                    meetingID: meetings[1].id, rating: 3, pairingFit: .unsure
                ), token: try await cluster.token("Ravi"))
            }
            #expect(violations(fit).first?.rule == "first-meeting")
            _ = outsider
        }
    }

    @Test("not a good fit: recorded with the answer, delivered to matching with retries, once")
    func fitSignal() async throws {
        try await withFeedbackCluster { cluster in
            let mentor = try await cluster.person("Maya", division: "Platform", role: .mentor)
            let mentee = try await cluster.person("Ravi", division: "Sales", role: .mentee)
            let (match, meetings) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id)
            try await cluster.hold(meetings[0])
            cluster.matching.setDown(true)
            _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                meetingID: meetings[0].id, rating: 2, pairingFit: .notAGoodFit, fitComment: "we never agree on a time"
            ), token: try await cluster.token("Ravi"))
            // Matching is down: the signal waits in the outbox.
            #expect(try await cluster.server.deliverFitSignals() == 0)
            #expect(try await cluster.server.fitSignalCounts().pending == 1)
            #expect(cluster.matching.signals.isEmpty)
            // Not retried before its back-off, then delivered.
            cluster.matching.setDown(false)
            #expect(try await cluster.server.deliverFitSignals() == 0)
            cluster.clock.advance(3)
            #expect(try await cluster.server.deliverFitSignals() == 1)
            #expect(cluster.matching.signals == [FitSignal(organisationID: cluster.admin.organisationID, matchID: match.id, personID: mentee.id, comment: "we never agree on a time")])
            let counts = try await cluster.server.fitSignalCounts()
            #expect(counts.delivered == 1 && counts.pending == 0)
            // Saying it again is the same signal.
            _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                meetingID: meetings[0].id, rating: 1, pairingFit: .notAGoodFit
            ), token: try await cluster.token("Ravi"))
            #expect(try await cluster.server.deliverFitSignals() == 0)
            #expect(cluster.matching.signals.count == 1)
            // Matching ended the match; feedback's copy follows its feed.
            try await cluster.server.syncNow()
            #expect(try await cluster.server.store.match(organisation: cluster.admin.organisationID, id: match.id)?.status == "ended")
        }
    }

    @Test("surveys fall due 30 days after the match starts, then every 60; out-of-range answers are INVALID_ARGUMENT; answered ones leave the list")
    func surveysDue() async throws {
        try await withFeedbackCluster { cluster in
            let mentor = try await cluster.person("Maya", division: "Platform", role: .mentor)
            let mentee = try await cluster.person("Ravi", division: "Sales", role: .mentee)
            let (match, _) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id, meetings: 0)
            let started = try #require(match.startedAt)
            try await cluster.server.syncNow()
            #expect(try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: mentee.token).invitations.isEmpty)

            cluster.clock.advance(30 * 86_400 - 60)
            #expect(try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: try await cluster.token("Ravi")).invitations.isEmpty)
            cluster.clock.advance(120)
            let token = try await cluster.token("Ravi")
            let due = try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: token).invitations
            #expect(due.map(\.round) == [1] && due.first?.kind == .pulse && due.first?.dueAt == started.addingTimeInterval(30 * 86_400))
            #expect(due.first?.personID == mentee.id && due.first?.matchID == match.id)

            let outOfRange = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Feedback.submitSurvey, SurveyResponseInput(matchID: match.id, kind: .pulse, round: 1, answers: [
                    SurveyAnswer(questionID: "competency", value: 7), SurveyAnswer(questionID: "relationship", value: 5), SurveyAnswer(questionID: "stay", value: 5),
                    SurveyAnswer(questionID: "recommend", value: 11),
                ]), token: token)
            }
            #expect(Set(violations(outOfRange).map(\.field)) == ["answers[0].value", "answers[3].value"])
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Feedback.submitSurvey, SurveyResponseInput(matchID: match.id, kind: .pulse, round: 2, answers: [
                    SurveyAnswer(questionID: "competency", value: 5), SurveyAnswer(questionID: "relationship", value: 5), SurveyAnswer(questionID: "stay", value: 5),
                ]), token: token)
            }
            let receipt = try await cluster.call(Feedback.submitSurvey, SurveyResponseInput(matchID: match.id, kind: .pulse, round: 1, answers: [
                SurveyAnswer(questionID: "competency", value: 5), SurveyAnswer(questionID: "relationship", value: 4), SurveyAnswer(questionID: "stay", value: 2),
                SurveyAnswer(questionID: "comments", text: "more structure please"),
            ], shareTextWithAdmins: true), token: token)
            #expect(receipt.invitationID == due.first?.id && !receipt.replaced)
            #expect(try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: token).invitations.isEmpty)
            // The mentor's is still due; an admin can see it.
            let mentorDue = try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(personID: mentor.id), token: try await cluster.adminToken())
            #expect(mentorDue.invitations.map(\.personID) == [mentor.id])

            cluster.clock.advance(60 * 86_400)
            let later = try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: try await cluster.token("Ravi")).invitations
            #expect(later.map(\.round) == [2] && later.first?.dueAt == started.addingTimeInterval(90 * 86_400))

            // The notification worker's stream starts with what is due.
            let admin = try await cluster.adminToken()
            let first = try await cluster.feedback.serverStreaming(Feedback.streamSurveyInvitations, StreamSurveyInvitationsRequest(
                since: started
            ), options: cluster.options(admin)) { stream in
                var received: [SurveyInvitation] = []
                for try await invitation in stream {
                    received.append(invitation)
                    if received.count == 3 { break }
                }
                return received
            }
            // Mentor rounds 1 and 2, mentee round 2.
            #expect(Set(first.map { "\($0.personID == mentor.id ? "mentor" : "mentee")/\($0.round)" }) == ["mentor/1", "mentor/2", "mentee/2"])
        }
    }

    @Test("another organisation sees nothing: meetings, matches, feedback and reports are NOT_FOUND or empty")
    func crossOrganisation() async throws {
        try await withFeedbackCluster { cluster in
            let mentor = try await cluster.person("Maya", division: "Platform", role: .mentor)
            let mentee = try await cluster.person("Ravi", division: "Sales", role: .mentee)
            let (match, meetings) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id)
            try await cluster.hold(meetings[0])
            _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(meetingID: meetings[0].id, rating: 5), token: try await cluster.token("Ravi"))

            _ = try await cluster.call(Identity.createOrganisation, CreateOrganisationRequest(
                name: "Globex", slug: "globex",
                admin: PersonInput(email: "admin@globex.example", name: "Gil Admin", division: "People", jobTitle: "HR", seniority: 6, timeZone: "UTC"),
                adminPassword: FeedbackCluster.password
            ), token: try await cluster.adminToken())
            let globexAdmin = try await cluster.adminToken(organisation: "globex")
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(meetingID: meetings[0].id, rating: 1), token: globexAdmin)
            }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Feedback.getSessionFeedback, SessionFeedbackRef(meetingID: meetings[0].id), token: globexAdmin)
            }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Feedback.submitSurvey, SurveyResponseInput(matchID: match.id, kind: .pulse, round: 1, answers: []), token: globexAdmin)
            }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Feedback.listGoals, ListGoalsRequest(matchID: match.id), token: globexAdmin)
            }
            let theirs = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: globexAdmin)
            #expect(theirs.overall.participants == 0 && theirs.overall.meetingsHeld == 0 && theirs.overall.ratings == nil)
            #expect(try await cluster.call(Feedback.matchHealth, MatchHealthRequest(programID: cluster.program), token: globexAdmin).pairs.isEmpty)
            // Acme's own admin sees its figures.
            let ours = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: try await cluster.adminToken())
            #expect(ours.overall.participants == 2 && ours.overall.meetingsHeld == 1)
            let health = try await cluster.call(Feedback.matchHealth, MatchHealthRequest(programID: cluster.program), token: try await cluster.adminToken())
            #expect(health.pairs.map(\.matchID) == [match.id] && health.pairs.first?.status == .onTrack && health.pairs.first?.meetingsHeld == 1)
            // Three weeks without a meeting: a check-in is due.
            cluster.clock.advance(22 * 86_400)
            let later = try await cluster.call(Feedback.matchHealth, MatchHealthRequest(programID: cluster.program), token: try await cluster.adminToken())
            #expect(later.pairs.first?.status == .needsCheckIn && later.pairs.first?.reasons == ["no meeting for 22 days"])
        }
    }

    @Test("reports over RPC: return figures with respondent counts, k from the organisation, erasure removes a person's answers")
    func reportAndErasure() async throws {
        try await withFeedbackCluster { cluster in
            var mentees: [(id: UUID, name: String, match: UUID)] = []
            for index in 0..<5 {
                let mentor = try await cluster.person("Mentor\(index)", division: "Platform", role: .mentor)
                let mentee = try await cluster.person("Mentee\(index)", division: index < 3 ? "Sales" : "Support", role: .mentee)
                let (match, _) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id, meetings: 0)
                mentees.append((mentee.id, "Mentee\(index)", match.id))
            }
            try await cluster.server.syncNow()
            cluster.clock.advance(31 * 86_400)
            for (index, mentee) in mentees.enumerated() {
                // Competency agree for 4 of 5, relationship for all, stay for 3 of 5.
                // Two write comments; only the second lets admins read it.
                var answers = [
                    SurveyAnswer(questionID: "competency", value: index == 0 ? 2 : 5), SurveyAnswer(questionID: "relationship", value: 4),
                    SurveyAnswer(questionID: "stay", value: index < 3 ? 5 : 3),
                ]
                if index < 2 { answers.append(SurveyAnswer(questionID: "comments", text: "comment \(index)")) }
                _ = try await cluster.call(Feedback.submitSurvey, SurveyResponseInput(
                    matchID: mentee.match, kind: .pulse, round: 1, answers: answers, shareTextWithAdmins: index == 1
                ), token: try await cluster.token(mentee.name))
            }
            let admin = try await cluster.adminToken()
            let report = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(report.k == 5)
            #expect(report.overall.participants == 10 && report.overall.matches == 5 && report.overall.respondents == 5)
            #expect(report.overall.competency == ReturnFigure(percent: 80, respondents: 5))
            #expect(report.overall.relationship == ReturnFigure(percent: 100, respondents: 5))
            #expect(report.overall.retention == ReturnFigure(percent: 60, respondents: 5))
            #expect(report.overall.responseRate == 50)                                  // 5 of 10 due
            #expect(report.overall.sharedComments == ["comment 1"], "only the comment its author shared, without a name")
            // Divisions from identity: Sales 3, Support 2 — both withheld (3 < 5; Support 2 < 5).
            #expect(report.cuts.first { $0.dimension == .division }?.cells.map(\.group) == ["Sales", "Support"])
            #expect(report.cuts.first { $0.dimension == .division }?.cells.allSatisfy(\.suppressed) == true)
            let streamed = try await cluster.feedback.serverStreaming(Feedback.streamReportExport, ReportRequest(programID: cluster.program), options: cluster.options(admin)) { stream in
                var csv = ""
                for try await chunk in stream { csv += chunk.csv }
                return csv
            }
            #expect(streamed == (try await cluster.call(Feedback.exportReport, ReportRequest(programID: cluster.program), token: admin)).csv)
            #expect(streamed.hasPrefix("dimension,group,") && streamed.contains("all,all,10,5,0,0.0,5,,,50.0,80.0,5,100.0,5,60.0,5,no"))

            await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Feedback.setSettings, FeedbackSettings(k: 2), token: admin)
            }
            // Erasure: the first mentee's answers leave every later report (4 < k: withheld).
            let receipt = try await cluster.call(Feedback.erasePerson, PersonRef(personID: mentees[0].id), token: admin)
            #expect(receipt.removed == 1)
            let after = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(after.overall.suppressed && after.overall.competency == nil)
            _ = try await cluster.call(Feedback.setSettings, FeedbackSettings(k: 3), token: admin)
            let smallerK = try await cluster.call(Feedback.programReport, ReportRequest(programID: cluster.program), token: admin)
            #expect(smallerK.overall.competency == ReturnFigure(percent: 100, respondents: 4))
        }
    }
}

@Suite("Feedback end to end: goals")
struct GoalTests {
    @Test("a mentee's goals with milestones and progress, visible to the pair only; stale versions are ABORTED")
    func goals() async throws {
        try await withFeedbackCluster { cluster in
            let mentor = try await cluster.person("Maya", division: "Platform", role: .mentor)
            let mentee = try await cluster.person("Ravi", division: "Sales", role: .mentee)
            let outsider = try await cluster.person("Olga", division: "Sales", role: .mentee)
            let (match, _) = try await cluster.pair(mentor: mentor.id, mentee: mentee.id, meetings: 0)
            let goal = try await cluster.call(Feedback.setGoal, Goal(
                matchID: match.id, title: "Lead a design review", milestones: [Milestone(title: "Shadow two reviews")], progress: 10
            ), token: mentee.token)
            #expect(goal.id != nil && goal.version == 1)
            var updated = goal
            updated.progress = 60
            updated.milestones[0].done = true
            let saved = try await cluster.call(Feedback.setGoal, updated, token: mentor.token)
            #expect(saved.version == 2 && saved.progress == 60)
            await expectRPCError(.aborted) { _ = try await cluster.call(Feedback.setGoal, updated, token: mentee.token) }
            let bad = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Feedback.setGoal, Goal(matchID: match.id, title: "x", progress: 120), token: mentee.token)
            }
            #expect(violations(bad).map(\.field) == ["progress"])
            let listed = try await cluster.call(Feedback.listGoals, ListGoalsRequest(matchID: match.id), token: mentee.token)
            #expect(listed.goals.map(\.progress) == [60] && listed.goals.first?.milestones.first?.done == true)
            await expectRPCError(.notFound) { _ = try await cluster.call(Feedback.listGoals, ListGoalsRequest(matchID: match.id), token: outsider.token) }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Feedback.setGoal, Goal(matchID: match.id, title: "Mine now"), token: outsider.token)
            }
        }
    }
}

@Suite("Feedback end to end with the real matching service")
struct RealMatchingTests {
    @Test("a match made in matching reaches feedback through its feed; a not-a-good-fit answer ends it in matching")
    func fitSignalReachesMatching() async throws {
        try await withFeedbackCluster(realMatching: true) { cluster in
            let swift = [SkillLevel(name: "Swift", level: 4)]
            let mentor = try await cluster.person("Maya", division: "Platform", role: .mentor, offered: swift, capacity: 2)
            let mentee = try await cluster.person("Ravi", division: "Sales", role: .mentee, wanted: swift)
            let admin = try await cluster.adminToken()
            _ = try await cluster.call(Matching.setSettings, MatchingSettingsInput(
                programID: cluster.program, criteria: [Criterion(kind: .skills, mode: .should, weight: 100)], requestExpiryDays: nil, groupMinimum: nil, groupMaximum: nil
            ), token: admin)
            _ = try await cluster.call(Matching.syncParticipants, ProgramRef(programID: cluster.program), token: admin)
            let proposed = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: cluster.program, mentorID: mentor.id), token: mentee.token)
            let active = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposed.id, accept: true), token: mentor.token)
            #expect(active.status == .active)

            // The pair meets (scheduling), then the mentee says it is not a good fit.
            _ = try await cluster.call(Scheduling.registerPair, Pair(matchID: active.id, programID: cluster.program, mentorID: mentor.id, menteeID: mentee.id), token: admin)
            let meeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: active.id, start: cluster.clock.now().addingTimeInterval(3600), durationMinutes: 45, timeZone: "UTC"
            ), token: mentee.token)
            try await cluster.hold(meeting)
            _ = try await cluster.call(Feedback.submitSessionFeedback, SessionFeedbackInput(
                meetingID: meeting.id, rating: 2, pairingFit: .notAGoodFit, fitComment: "different goals"
            ), token: try await cluster.token("Ravi"))
            // Feedback copied the match from matching's feed (with its start: the cohort).
            let copy = try await cluster.server.store.match(organisation: cluster.admin.organisationID, id: active.id)
            #expect(copy?.status == "active" && copy?.startedAt == active.startedAt)

            #expect(try await cluster.server.deliverFitSignals() == 1)
            let ended = try await cluster.call(Matching.getMatch, MatchRef(matchID: active.id), token: try await cluster.adminToken())
            #expect(ended.status == .ended && ended.notAGoodFit)
            #expect(ended.endReason?.contains("different goals") == true)
            // And back through the feed: feedback's copy is ended too, so the closing survey falls due.
            try await cluster.server.syncNow()
            #expect(try await cluster.server.store.match(organisation: cluster.admin.organisationID, id: active.id)?.status == "ended")
            let due = try await cluster.call(Feedback.listDueSurveys, ListDueSurveysRequest(), token: try await cluster.token("Ravi"))
            #expect(due.invitations.map(\.kind) == [.closing])
        }
    }
}
