public import Foundation
import TandemAuth
public import TandemProtocols
import TandemRPC
import TandemWire

/// The `feedback` methods (Protocols/Feedback.md). Everything is scoped to the caller's
/// organisation; individual answers are shown only to their author.
struct FeedbackRPCService: RPCService {
    let server: FeedbackServer

    func register(into router: inout RPCRouter) {
        let server = self.server
        router.register(Feedback.submitSessionFeedback, unary: { try await server.submitSessionFeedback($0, context: $1) })
        router.register(Feedback.getSessionFeedback, unary: { try await server.getSessionFeedback($0, context: $1) })
        router.register(Feedback.setSurveyTemplate, unary: { try await server.setSurveyTemplate($0, context: $1) })
        router.register(Feedback.getSurveyTemplate, unary: { try await server.getSurveyTemplate($0, context: $1) })
        router.register(Feedback.listDueSurveys, unary: { try await server.listDueSurveys($0, context: $1) })
        router.register(Feedback.submitSurvey, unary: { try await server.submitSurvey($0, context: $1) })
        router.register(Feedback.streamSurveyInvitations, serverStreaming: { try await server.streamSurveyInvitations($0, responses: $1, context: $2) })
        router.register(Feedback.setGoal, unary: { try await server.setGoal($0, context: $1) })
        router.register(Feedback.listGoals, unary: { try await server.listGoals($0, context: $1) })
        router.register(Feedback.programReport, unary: { try await server.programReport($0, context: $1) })
        router.register(Feedback.matchHealth, unary: { try await server.matchHealth($0, context: $1) })
        router.register(Feedback.exportReport, unary: { try await server.exportReport($0, context: $1) })
        router.register(Feedback.streamReportExport, serverStreaming: { try await server.streamReportExport($0, responses: $1, context: $2) })
        router.register(Feedback.setSettings, unary: { try await server.setSettings($0, context: $1) })
        router.register(Feedback.getSettings, unary: { try await server.getSettings($0, context: $1) })
        router.register(Feedback.erasePerson, unary: { try await server.erasePerson($0, context: $1) })
    }
}

typealias Violation = ErrorDetail.FieldViolation

func check(_ violations: [Violation]) throws(RPCError) {
    guard violations.isEmpty else { throw RPCError.invalidArguments(violations) }
}

func text(_ value: String?, field: String, max: Int) -> Violation? {
    guard let value, value.count > max else { return nil }
    return Violation(field: field, rule: "length", description: "must be at most \(max) characters")
}

// MARK: - Session feedback

extension FeedbackServer {
    /// The meeting from the local copy; when it is missing or not held yet, the feeds are pulled
    /// once more (the copy may lag scheduling by a few seconds). NOT_FOUND for other organisations.
    func syncedMeeting(_ id: UUID, organisation: UUID, wantHeld: Bool) async throws -> FeedbackStore.StoredMeeting {
        if let meeting = try await store.meeting(organisation: organisation, id: id), !wantHeld || meeting.status == MeetingStatus.held.rawValue {
            return meeting
        }
        do {
            try await syncNow()
        } catch {
            logger.info("on-demand sync failed", metadata: ["error": "\(error)"])
        }
        guard let meeting = try await store.meeting(organisation: organisation, id: id) else {
            throw RPCError.notFound("meeting", id.uuidString.lowercased())
        }
        return meeting
    }

    /// The respondent's division, asked of identity with their own token; nil when unknown.
    func division(program: UUID, person: UUID, context: ServerContext) async -> String? {
        guard let directory = peers.directory, let header = context.metadata[Metadata.Keys.authorization], header.hasPrefix("Bearer ") else { return nil }
        do {
            return try await directory.division(program: program, person: person, accessToken: String(header.dropFirst("Bearer ".count)))
        } catch {
            logger.info("division unknown", metadata: ["person": "\(person)", "error": "\(error)"])
            return nil
        }
    }

    func submitSessionFeedback(_ request: SessionFeedbackInput, context: ServerContext) async throws -> SessionFeedback {
        let caller = try context.caller()
        var violations: [Violation] = []
        if !(1...5).contains(request.rating) { violations.append(Violation(field: "rating", rule: "range", description: "must be 1–5, got \(request.rating)")) }
        if let violation = text(request.useful, field: "useful", max: 2000) { violations.append(violation) }
        if let violation = text(request.privateNote, field: "privateNote", max: 2000) { violations.append(violation) }
        if let violation = text(request.fitComment, field: "fitComment", max: 1000) { violations.append(violation) }
        if request.fitComment != nil, request.pairingFit == nil {
            violations.append(Violation(field: "fitComment", rule: "absent", description: "only with pairingFit"))
        }
        try check(violations)
        let meeting = try await syncedMeeting(request.meetingID, organisation: caller.organisationID, wantHeld: true)
        let role: UInt8
        if caller.subject == meeting.mentorID {
            role = 0
        } else if caller.subject == meeting.menteeID {
            role = 1
        } else {
            throw RPCError(code: .permissionDenied, message: "only the meeting's participants can give feedback on it")
        }
        guard meeting.status == MeetingStatus.held.rawValue else {
            throw RPCError.failedPrecondition(
                type: "state", subject: "meeting/" + meeting.id.uuidString.lowercased(), "feedback is for held meetings; this one is \(meeting.status)"
            )
        }
        if request.pairingFit != nil {
            let first = try await store.firstHeldMeeting(organisation: caller.organisationID, match: meeting.matchID)
            guard first == meeting.id else {
                throw RPCError.invalidArgument(field: "pairingFit", rule: "first-meeting", "the pairing-fit question is asked after the pair's first held meeting only")
            }
        }
        let respondent = Respondent(
            organisationID: caller.organisationID, personID: caller.subject, role: role,
            division: await division(program: meeting.programID, person: caller.subject, context: context)
        )
        let (feedback, _) = try await store.submitSessionFeedback(request, meeting: meeting, respondent: respondent, now: configuration.now())
        return feedback
    }

    /// The caller's own feedback on a meeting, private note included. Nobody else's.
    func getSessionFeedback(_ request: SessionFeedbackRef, context: ServerContext) async throws -> SessionFeedback {
        let caller = try context.caller()
        guard let feedback = try await store.sessionFeedback(organisation: caller.organisationID, meeting: request.meetingID, person: caller.subject) else {
            throw RPCError.notFound("session feedback", request.meetingID.uuidString.lowercased())
        }
        return feedback
    }
}

// MARK: - Surveys

extension FeedbackServer {
    func setSurveyTemplate(_ request: SurveyTemplate, context: ServerContext) async throws -> SurveyTemplate {
        let caller = try context.caller()
        guard caller.administers(program: request.programID) else {
            throw RPCError(code: .permissionDenied, message: "survey templates are set by the program's admins or org-admin")
        }
        try check(SurveyRules.validate(template: request))
        return try await store.setTemplate(organisation: caller.organisationID, request)
    }

    func getSurveyTemplate(_ request: SurveyTemplateRef, context: ServerContext) async throws -> SurveyTemplate {
        let caller = try context.caller()
        return try await store.template(organisation: caller.organisationID, program: request.programID, kind: request.kind)
    }

    func pulseSchedule(organisation: UUID, program: UUID) async throws -> (first: Int, every: Int) {
        let template = try await store.template(organisation: organisation, program: program, kind: .pulse)
        return (template.firstAfterDays ?? SurveySchedule.defaultFirstAfterDays, template.everyDays ?? SurveySchedule.defaultEveryDays)
    }

    /// The surveys of `matches` due at or after `since` (all of them, answered or not), for
    /// `person` only if given.
    func dueInvitations(organisation: UUID, matches: [MatchFacts], person: UUID?, since: Date) async throws -> [DueInvitation] {
        let now = configuration.now()
        var schedules: [UUID: (first: Int, every: Int)] = [:]
        var result: [DueInvitation] = []
        for match in matches {
            let schedule: (first: Int, every: Int)
            if let known = schedules[match.programID] {
                schedule = known
            } else {
                schedule = try await pulseSchedule(organisation: organisation, program: match.programID)
                schedules[match.programID] = schedule
            }
            for survey in SurveySchedule.due(match, firstAfterDays: schedule.first, everyDays: schedule.every, now: now) where survey.dueAt >= since {
                for participant in [match.mentorID, match.menteeID] where person == nil || person == participant {
                    result.append(DueInvitation(
                        key: InvitationKey(match: match.matchID, person: participant, kind: survey.kind, round: survey.round),
                        programID: match.programID, dueAt: survey.dueAt
                    ))
                }
            }
        }
        return result
    }

    func listDueSurveys(_ request: ListDueSurveysRequest, context: ServerContext) async throws -> SurveyInvitationList {
        let caller = try context.caller()
        let person = request.personID ?? caller.subject
        if person != caller.subject, !(caller.isOrganisationAdmin || caller.isService) {
            throw RPCError(code: .permissionDenied, message: "only org-admin and service accounts list someone else's surveys")
        }
        // A person erased in identity is offered nothing (their answers are gone, not their surveys' dates).
        if try await store.isErased(organisation: caller.organisationID, person: person) { return SurveyInvitationList(invitations: []) }
        let matches = try await store.matches(organisation: caller.organisationID, person: person)
        let answered = try await store.answeredSurveys(organisation: caller.organisationID, person: person)
        let since = configuration.now().addingTimeInterval(-Double(configuration.invitationLifetimeDays) * 86_400)
        let due = try await dueInvitations(organisation: caller.organisationID, matches: matches, person: person, since: since)
        return SurveyInvitationList(invitations: DueInvitation.sorted(due.filter { !answered.contains($0.key) }, organisation: caller.organisationID))
    }

    func submitSurvey(_ request: SurveyResponseInput, context: ServerContext) async throws -> SurveyReceipt {
        let caller = try context.caller()
        if request.answers.count > 100 { throw RPCError.invalidArgument(field: "answers", rule: "length", "at most 100 answers") }
        guard let match = try await store.match(organisation: caller.organisationID, id: request.matchID), let role = match.role(of: caller.subject) else {
            throw RPCError.notFound("match", request.matchID.uuidString.lowercased())
        }
        let template = try await store.template(organisation: caller.organisationID, program: match.programID, kind: request.kind)
        try check(SurveyRules.validate(answers: request.answers, template: template))
        let schedule = try await pulseSchedule(organisation: caller.organisationID, program: match.programID)
        let now = configuration.now()
        guard SurveySchedule.due(match, firstAfterDays: schedule.first, everyDays: schedule.every, now: now)
            .contains(where: { $0.kind == request.kind && $0.round == request.round }) else {
            throw RPCError.failedPrecondition(
                type: "state", subject: "match/" + match.matchID.uuidString.lowercased(), "the \(request.kind.rawValue) survey round \(request.round) is not due"
            )
        }
        let freeText = template.questions.filter { $0.type == .freeText }.map(\.id)
        let texts = request.answers.filter { freeText.contains($0.questionID) }.compactMap(\.text).filter { !$0.isEmpty }
        let shared = (request.shareTextWithAdmins ?? false) && !texts.isEmpty ? texts.joined(separator: "\n\n") : nil
        let respondent = Respondent(
            organisationID: caller.organisationID, personID: caller.subject, role: role,
            division: await division(program: match.programID, person: caller.subject, context: context)
        )
        let replaced = try await store.submitSurvey(
            request, match: match, respondent: respondent, measures: SurveyRules.measures(answers: request.answers, template: template), sharedText: shared, now: now
        )
        return SurveyReceipt(
            invitationID: SurveySchedule.invitationID(match: match.matchID, person: caller.subject, kind: request.kind, round: request.round),
            submittedAt: now, replaced: replaced
        )
    }

    /// Due invitations of the organisation: those already due, then each as it falls due.
    func streamSurveyInvitations(_ request: StreamSurveyInvitationsRequest, responses: RPCWriter<SurveyInvitation>, context: ServerContext) async throws {
        let caller = try context.caller()
        guard caller.isOrganisationAdmin || caller.isService else {
            throw RPCError(code: .permissionDenied, message: "survey invitations are for the organisation's notification worker (org-admin or a service account)")
        }
        var poll = InvitationPoll(organisation: caller.organisationID, since: request.since ?? configuration.now().addingTimeInterval(-7 * 86_400))
        while !Task.isCancelled {
            for invitation in try await poll.next(self) {
                try await responses.write(invitation)
            }
            try await Task.sleep(for: configuration.invitationPoll)
        }
    }
}

/// What one invitation stream has done, so that each pass costs what fell due since the last one
/// rather than a re-read of the organisation's history:
/// - the organisation's started matches are read again only when its data generation moved;
/// - an invitation already sent, or found answered, is not looked up again (an answer is
///   withdrawn only by its person's erasure, and an erased person is sent no invitation);
/// - after the first pass the window starts `invitationLifetimeDays` back (a match learnt late
///   still has its recent invitations sent), so what is remembered stays within it.
package struct InvitationPoll: Sendable {
    let organisation: UUID
    private(set) var since: Date
    private var first = true
    private var matches: (generation: UInt64, list: [MatchFacts])?
    /// Invitations in the window already sent or found answered.
    private var settled = Set<InvitationKey>()

    package init(organisation: UUID, since: Date) {
        self.organisation = organisation
        self.since = since
    }

    /// The invitations to send now, oldest first.
    package mutating func next(_ server: FeedbackServer) async throws -> [SurveyInvitation] {
        if !first {
            since = max(since, server.configuration.now().addingTimeInterval(-Double(server.configuration.invitationLifetimeDays) * 86_400))
        }
        first = false
        // The generation is read first: a change that commits during the read moves it again.
        let generation = server.store.generation(organisation)
        if matches?.generation != generation {
            matches = (generation, try await server.store.startedMatches(organisation: organisation))
        }
        let due = try await server.dueInvitations(organisation: organisation, matches: matches?.list ?? [], person: nil, since: since)
        let fresh = due.filter { !settled.contains($0.key) }
        let settledNow = try await server.store.answeredOrErased(organisation: organisation, among: fresh.map(\.key))
        // Only what is still due is kept: the window moves forward, and an invitation that left it
        // (or whose match is gone) does not come back.
        settled.formIntersection(due.map(\.key))
        settled.formUnion(fresh.map(\.key))
        return DueInvitation.sorted(fresh.filter { !settledNow.contains($0.key) }, organisation: organisation)
    }

    /// How many invitations the stream remembers.
    package var remembered: Int { settled.count }
}

// MARK: - Goals

extension FeedbackServer {
    /// The match, if the caller is in it (or administers its program); NOT_FOUND otherwise.
    func visibleMatch(_ id: UUID, _ caller: AuthenticatedCaller) async throws -> MatchFacts {
        if let match = try await store.match(organisation: caller.organisationID, id: id),
           match.role(of: caller.subject) != nil || caller.administers(program: match.programID) {
            return match
        }
        _ = try? await syncNow()
        guard let match = try await store.match(organisation: caller.organisationID, id: id),
              match.role(of: caller.subject) != nil || caller.administers(program: match.programID) else {
            throw RPCError.notFound("match", id.uuidString.lowercased())
        }
        return match
    }

    func setGoal(_ request: Goal, context: ServerContext) async throws -> Goal {
        let caller = try context.caller()
        var violations: [Violation] = []
        if request.title.isEmpty || request.title.count > 200 { violations.append(Violation(field: "title", rule: "length", description: "1–200 characters")) }
        if !(0...100).contains(request.progress) { violations.append(Violation(field: "progress", rule: "range", description: "must be 0–100, got \(request.progress)")) }
        if request.milestones.count > 50 { violations.append(Violation(field: "milestones", rule: "length", description: "at most 50 milestones")) }
        for (index, milestone) in request.milestones.enumerated() where milestone.title.isEmpty || milestone.title.count > 200 {
            violations.append(Violation(field: "milestones[\(index)].title", rule: "length", description: "1–200 characters"))
        }
        try check(violations)
        let match = try await visibleMatch(request.matchID, caller)
        guard match.role(of: caller.subject) != nil else {
            throw RPCError(code: .permissionDenied, message: "goals are set by the pair (the mentee's goals, which the mentor may update)")
        }
        return try await store.setGoal(organisation: caller.organisationID, request, mentee: match.menteeID, now: configuration.now())
    }

    func listGoals(_ request: ListGoalsRequest, context: ServerContext) async throws -> GoalList {
        let caller = try context.caller()
        let match = try await visibleMatch(request.matchID, caller)
        guard match.role(of: caller.subject) != nil else {
            throw RPCError(code: .permissionDenied, message: "goals are visible to the pair only")
        }
        return GoalList(goals: try await store.goals(organisation: caller.organisationID, match: request.matchID))
    }
}

// MARK: - Reporting

extension FeedbackServer {
    func requireReportAccess(_ caller: AuthenticatedCaller, program: UUID) throws(RPCError) {
        guard caller.administers(program: program) else {
            throw RPCError(code: .permissionDenied, message: "reports are for the program's admins and org-admin")
        }
    }

    /// Builds the report (no access check).
    public func report(organisation: UUID, _ request: ReportRequest) async throws -> ProgramReport {
        var violations: [Violation] = []
        let from = request.fromMonth.map { Month.parse($0) } ?? Int32(0)
        let to = request.toMonth.map { Month.parse($0) } ?? Int32.max
        if from == nil { violations.append(Violation(field: "fromMonth", rule: "format", description: "a month, YYYY-MM")) }
        if to == nil { violations.append(Violation(field: "toMonth", rule: "format", description: "a month, YYYY-MM")) }
        if let from, let to, from > to { violations.append(Violation(field: "toMonth", rule: "range", description: "must not be before fromMonth")) }
        try check(violations)
        let now = configuration.now()
        let k = try await store.k(organisation: organisation)
        let schedule = try await pulseSchedule(organisation: organisation, program: request.programID)
        let clock = ContinuousClock()
        let started = clock.now
        // Facts are read once and kept while the organisation's data has not changed (and for
        // at most a minute, since due surveys move with the clock).
        let key = ReportFactsCache.Key(organisation: organisation, program: request.programID, months: from!...to!, first: schedule.first, every: schedule.every)
        let generation = store.generation(organisation)
        let facts: ReportFacts
        if let cached = reportCache.get(key, generation: generation, now: now) {
            facts = cached
        } else {
            facts = try await store.reportFacts(organisation: organisation, program: request.programID, months: from!...to!, pulse: schedule, now: now)
            reportCache.set(key, facts, generation: generation, now: now)
        }
        let read = clock.now
        let report = ReportBuilder.build(programID: request.programID, facts: facts, k: k, now: now)
        lastReportPhases.withLock { $0 = (read - started, clock.now - read) }
        return report
    }

    func programReport(_ request: ReportRequest, context: ServerContext) async throws -> ProgramReport {
        let caller = try context.caller()
        try requireReportAccess(caller, program: request.programID)
        return try await report(organisation: caller.organisationID, request)
    }

    func matchHealth(_ request: MatchHealthRequest, context: ServerContext) async throws -> MatchHealthList {
        let caller = try context.caller()
        try requireReportAccess(caller, program: request.programID)
        let now = configuration.now()
        let order: [HealthStatus: Int] = [.atRisk: 0, .needsCheckIn: 1, .onTrack: 2]
        let pairs = try await store.healthInputs(organisation: caller.organisationID, program: request.programID).map { match, input, held in
            let (status, reasons) = MatchHealthRules.assess(input, now: now)
            return PairHealth(
                matchID: match.matchID, mentorID: match.mentorID, menteeID: match.menteeID, status: status, meetingsHeld: held,
                lastMeetingAt: input.heldStarts.max(), reasons: reasons
            )
        }
        return MatchHealthList(pairs: pairs.sorted { (order[$0.status]!, $0.matchID.uuidString) < (order[$1.status]!, $1.matchID.uuidString) })
    }

    func exportReport(_ request: ReportRequest, context: ServerContext) async throws -> ReportExport {
        let caller = try context.caller()
        try requireReportAccess(caller, program: request.programID)
        return ReportExport(csv: ReportCSV.render(try await report(organisation: caller.organisationID, request)))
    }

    /// The CSV in chunks of whole lines (at most 256 rows each), for large programs.
    func streamReportExport(_ request: ReportRequest, responses: RPCWriter<ReportExportChunk>, context: ServerContext) async throws {
        let caller = try context.caller()
        try requireReportAccess(caller, program: request.programID)
        let rows = ReportCSV.rows(try await report(organisation: caller.organisationID, request))
        try await responses.write(ReportExportChunk(csv: ReportCSV.header))
        var start = 0
        while start < rows.count {
            let end = min(start + 256, rows.count)
            try await responses.write(ReportExportChunk(csv: rows[start..<end].joined()))
            start = end
        }
    }
}

// MARK: - Settings and erasure

extension FeedbackServer {
    func setSettings(_ request: FeedbackSettings, context: ServerContext) async throws -> FeedbackSettings {
        let caller = try context.caller()
        try caller.requireOrganisationAdmin("changing feedback settings")
        guard (3...1000).contains(request.k) else {
            throw RPCError.invalidArgument(field: "k", rule: "range", "must be at least 3 (and at most 1000), got \(request.k)")
        }
        try await store.setK(organisation: caller.organisationID, request.k)
        return request
    }

    func getSettings(_ request: Empty, context: ServerContext) async throws -> FeedbackSettings {
        let caller = try context.caller()
        return FeedbackSettings(k: try await store.k(organisation: caller.organisationID))
    }

    func erasePerson(_ request: PersonRef, context: ServerContext) async throws -> ErasureReceipt {
        let caller = try context.caller()
        guard caller.isOrganisationAdmin || caller.isService else {
            throw RPCError(code: .permissionDenied, message: "erasure is for org-admin and service accounts (identity's erasure)")
        }
        let removed = try await store.erase(organisation: caller.organisationID, person: request.personID)
        return ErasureReceipt(personID: request.personID, removed: removed)
    }
}
