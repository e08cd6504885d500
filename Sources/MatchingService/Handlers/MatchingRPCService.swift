import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemWire

/// The `matching` methods (Protocols/Matching.md). Everything is scoped to the caller's
/// organisation; a match is visible to its two people, its program's admins, organisation
/// admins and scoped service accounts.
struct MatchingRPCService: RPCService {
    let server: MatchingServer

    func register(into router: inout RPCRouter) {
        let server = self.server
        router.register(Matching.setSettings, unary: { try await server.setSettings($0, context: $1) })
        router.register(Matching.getSettings, unary: { try await server.getSettings($0, context: $1) })
        router.register(Matching.syncParticipants, unary: { try await server.syncParticipants($0, context: $1) })
        router.register(Matching.recommend, unary: { try await server.recommend($0, context: $1) })
        router.register(Matching.explainPair, unary: { try await server.explainPair($0, context: $1) })
        router.register(Matching.compareMentors, unary: { try await server.compareMentors($0, context: $1) })
        router.register(Matching.exportScores, serverStreaming: { try await server.exportScores($0, responses: $1, context: $2) })
        router.register(Matching.runCohort, unary: { try await server.runCohort($0, context: $1) })
        router.register(Matching.proposeMatch, unary: { try await server.proposeMatch($0, context: $1) })
        router.register(Matching.respondToMatch, unary: { try await server.respondToMatch($0, context: $1) })
        router.register(Matching.endMatch, unary: { try await server.endMatch($0, context: $1) })
        router.register(Matching.setAgreement, unary: { try await server.setAgreement($0, context: $1) })
        router.register(Matching.getMatch, unary: { try await server.getMatch($0, context: $1) })
        router.register(Matching.listMatches, unary: { try await server.listMatches($0, context: $1) })
        router.register(Matching.listMatchChanges, unary: { try await server.listMatchChanges($0, context: $1) })
        router.register(Matching.recordFitSignal, unary: { try await server.recordFitSignal($0, context: $1) })
    }
}

// MARK: - Access

extension AuthenticatedCaller {
    /// Organisation admins, the program's admins, service accounts.
    func runs(program: UUID) -> Bool {
        isOrganisationAdmin || isService || programs.contains(program)
    }

    func mayUse(_ match: Match) -> Bool {
        runs(program: match.programID) || subject == match.mentorID || subject == match.menteeID
    }

    func requireRuns(program: UUID, _ action: String) throws(RPCError) {
        guard runs(program: program) else {
            throw RPCError(code: .permissionDenied, message: "\(action) needs the org-admin role, or to administer the program")
        }
    }
}

extension MatchingServer {
    /// The match, if the caller may see it; NOT_FOUND otherwise (as if it did not exist).
    func authorizedMatch(_ id: UUID, _ caller: AuthenticatedCaller) async throws -> Match {
        guard let match = try await store.match(organisation: caller.organisationID, id: id), caller.mayUse(match) else {
            throw RPCError.notFound("match", id.uuidString.lowercased())
        }
        return match
    }

    /// The model's index of a mentee; NOT_FOUND when the person is not one of the program's mentees.
    func menteeIndex(_ model: ProgramModel, _ person: UUID) throws(RPCError) -> Int {
        guard let index = model.menteeIndex[person] else { throw RPCError.notFound("mentee", person.uuidString.lowercased()) }
        return index
    }

    func mentorIndex(_ model: ProgramModel, _ person: UUID) throws(RPCError) -> Int {
        guard let index = model.mentorIndex[person] else { throw RPCError.notFound("mentor", person.uuidString.lowercased()) }
        return index
    }

    /// The mentee a request is about: the caller by default; someone else only for the program's admins.
    func requestedMentee(_ mentee: UUID?, program: UUID, caller: AuthenticatedCaller) throws(RPCError) -> UUID {
        let person = mentee ?? caller.subject
        guard person == caller.subject || caller.runs(program: program) else {
            throw RPCError(code: .permissionDenied, message: "only the mentee themselves and the program's admins can ask this for a mentee")
        }
        return person
    }
}

// MARK: - Settings and participants

extension MatchingServer {
    func setSettings(_ request: MatchingSettingsInput, context: ServerContext) async throws -> MatchingSettings {
        let caller = try context.caller()
        try caller.requireRuns(program: request.programID, "setting a program's matching criteria")
        let settings = try MatchingValidation.settings(request, defaultExpiryDays: configuration.defaultExpiryDays, now: configuration.now())
        let saved = try await store.saveSettings(organisation: caller.organisationID, settings, expectedVersion: request.version)
        invalidate(organisation: caller.organisationID, program: request.programID)
        return saved
    }

    func getSettings(_ request: ProgramRef, context: ServerContext) async throws -> MatchingSettings {
        let caller = try context.caller()
        guard let settings = try await store.settings(organisation: caller.organisationID, program: request.programID) else {
            throw RPCError.notFound("matching settings", request.programID.uuidString.lowercased())
        }
        return settings
    }

    func syncParticipants(_ request: ProgramRef, context: ServerContext) async throws -> SyncReport {
        let caller = try context.caller()
        try caller.requireRuns(program: request.programID, "reading a program's participants")
        guard let authorization = context.metadata[Metadata.Keys.authorization] else {
            throw RPCError(code: .unauthenticated, message: "SyncParticipants reads identity with your credentials: send them")
        }
        let participants: [ParticipantProfile]
        do {
            participants = try await directory.participants(program: request.programID, authorization: authorization)
        } catch let error as RPCError where error.code == .notFound || error.code == .permissionDenied {
            throw error
        } catch let error as RPCError {
            throw RPCError(code: .unavailable, message: "identity did not answer: \(error.message)")
        }
        let now = configuration.now()
        let (removed, _) = try await store.replaceParticipants(organisation: caller.organisationID, program: request.programID, participants, now: now)
        invalidate(organisation: caller.organisationID, program: request.programID)
        return SyncReport(
            programID: request.programID, mentors: participants.filter { $0.role != .mentee }.count,
            mentees: participants.filter { $0.role != .mentor }.count, removed: removed, syncedAt: now
        )
    }
}

// MARK: - Scores

extension MatchingServer {
    func recommend(_ request: RecommendRequest, context: ServerContext) async throws -> RecommendationList {
        let caller = try context.caller()
        let limit = request.limit ?? 5
        guard (1...50).contains(limit) else { throw RPCError.invalidArgument(field: "limit", rule: "range", "must be 1–50") }
        let menteeID = try requestedMentee(request.menteeID, program: request.programID, caller: caller)
        let model = try await model(organisation: caller.organisationID, program: request.programID)
        let mentee = try menteeIndex(model, menteeID)
        let open = try await openPlaces(model, organisation: caller.organisationID)
        let skip = try await previousMentors(model, organisation: caller.organisationID, mentee: menteeID)
        let result = Recommender.recommend(
            mentee: mentee, scorer: model.cohortScorer, openPlaces: open, skip: skip, limit: limit,
            rotation: Recommender.rotation(mentee: menteeID, on: configuration.now())
        )
        let recommendations = result.mentors.map { mentor in
            let explanation = model.explanation(mentee: mentee, mentor: mentor)
            return Recommendation(
                mentorID: model.mentors[mentor].personID, displayName: model.mentors[mentor].displayName, score: explanation.score ?? 0,
                parts: explanation.parts, openPlaces: open[mentor]
            )
        }
        return RecommendationList(menteeID: menteeID, recommendations: recommendations, fullMentors: result.full, excludedMentors: result.excluded)
    }

    func explainPair(_ request: PairQuery, context: ServerContext) async throws -> PairExplanation {
        let caller = try context.caller()
        guard caller.subject == request.menteeID || caller.subject == request.mentorID || caller.runs(program: request.programID) else {
            throw RPCError(code: .permissionDenied, message: "a pair's score is for its mentee, its mentor and the program's admins")
        }
        let model = try await model(organisation: caller.organisationID, program: request.programID)
        return model.explanation(mentee: try menteeIndex(model, request.menteeID), mentor: try mentorIndex(model, request.mentorID))
    }

    func compareMentors(_ request: CompareMentorsRequest, context: ServerContext) async throws -> MentorComparison {
        let caller = try context.caller()
        let menteeID = try requestedMentee(request.menteeID, program: request.programID, caller: caller)
        guard request.firstMentorID != request.secondMentorID else {
            throw RPCError.invalidArgument(field: "secondMentorID", rule: "distinct", "compare two different mentors")
        }
        let model = try await model(organisation: caller.organisationID, program: request.programID)
        let mentee = try menteeIndex(model, menteeID)
        let first = model.explanation(mentee: mentee, mentor: try mentorIndex(model, request.firstMentorID))
        let second = model.explanation(mentee: mentee, mentor: try mentorIndex(model, request.secondMentorID))
        return MatchingComparison.compare(first, second, criteria: model.pairScorer)
    }

    func exportScores(_ request: ProgramRef, responses: RPCWriter<ScoreChunk>, context: ServerContext) async throws {
        let caller = try context.caller()
        try caller.requireRuns(program: request.programID, "exporting a program's scores")
        let model = try await model(organisation: caller.organisationID, program: request.programID)
        var csv = ScoreExport.header(model.pairScorer) + "\n"
        var rows = 0
        for mentee in model.mentees.indices {
            for mentor in model.mentors.indices {
                csv += ScoreExport.row(model, mentee: mentee, mentor: mentor) + "\n"
                rows += 1
                if csv.utf8.count >= 256 * 1024 {
                    try await responses.write(ScoreChunk(csv: csv, rows: rows))
                    csv = ""
                    rows = 0
                }
            }
        }
        if !csv.isEmpty || rows > 0 { try await responses.write(ScoreChunk(csv: csv, rows: rows)) }
    }
}

// MARK: - Cohort matching

extension MatchingServer {
    func runCohort(_ request: RunCohortRequest, context: ServerContext) async throws -> CohortResult {
        let caller = try context.caller()
        try caller.requireRuns(program: request.programID, "matching a whole cohort")
        let minimumScore = request.minimumScore ?? 0
        guard (0...100).contains(minimumScore) else { throw RPCError.invalidArgument(field: "minimumScore", rule: "range", "must be 0–100") }
        let started = DispatchTime.now().uptimeNanoseconds
        let model = try await model(organisation: caller.organisationID, program: request.programID)
        let matches = try await store.programMatches(organisation: caller.organisationID, program: request.programID)
        // Mentees without a proposed or active match, mentors with the places they have left.
        let busy = Set(matches.filter { MatchLifecycle.holdsPlace($0.status) }.map(\.menteeID))
        let open = try await openPlaces(model, organisation: caller.organisationID)
        let freeMentees = model.mentees.indices.filter { !busy.contains(model.mentees[$0].personID) }
        let sub = CohortScorer(scorer: model.pairScorer, mentees: freeMentees.map { model.menteeProfiles[$0] }, mentors: model.mentorProfiles)
        let groups = model.groupSize
        let isGroup = groups != nil
        // Groups under way (their mentees' matches proposed or active) take new mentees under
        // their groupID, and their mentees count towards the minimum size.
        var groupIDs: [Int: UUID] = [:]
        var members = [Int](repeating: 0, count: model.mentors.count)
        if isGroup {
            for match in matches where MatchLifecycle.holdsPlace(match.status) {
                guard let mentor = model.mentorIndex[match.mentorID] else { continue }
                members[mentor] += 1
                if let group = match.groupID { groupIDs[mentor] = group }
            }
        }
        let plan = CohortPlan(
            scorer: sub, capacities: open.map { max(0, $0) }, objective: CohortPlan.Objective(rawValue: request.objective.rawValue)!,
            minimumScore: minimumScore, groupSize: groups, groupMembers: members
        )
        var pairs: [CohortPair] = []
        var proposals: [Match] = []
        for pair in plan.pairs {
            let mentee = freeMentees[pair.mentee]
            let group = isGroup ? groupIDs[pair.mentor, default: UUID()] : nil
            if let group { groupIDs[pair.mentor] = group }
            let match = proposal(model, organisation: caller.organisationID, mentee: mentee, mentor: pair.mentor, source: .cohort, group: group)
            proposals.append(match)
            pairs.append(CohortPair(menteeID: match.menteeID, mentorID: match.mentorID, score: pair.score, groupID: group, matchID: request.dryRun == true ? nil : match.id))
        }
        if request.dryRun != true, !proposals.isEmpty {
            let capacity = Dictionary(uniqueKeysWithValues: model.mentors.indices.map { (model.mentors[$0].personID, model.capacity(ofMentor: $0)) })
            _ = try await store.propose(proposals, capacity: capacity)
        }
        var unmatched = plan.unmatchedMentees.map { UnmatchedPerson(personID: model.mentees[freeMentees[$0.index]].personID, role: "mentee", reason: $0.reason) }
        unmatched += plan.closedGroups.map { UnmatchedPerson(personID: model.mentors[$0.index].personID, role: "mentor", reason: $0.reason) }
        return CohortResult(
            programID: request.programID, objective: request.objective, dryRun: request.dryRun == true, mentees: freeMentees.count,
            mentors: open.filter { $0 > 0 }.count, matched: plan.pairs.count, total: plan.total, lowest: plan.lowest, blockingPairs: plan.blockingPairs,
            pairs: pairs, unmatched: unmatched, elapsedMilliseconds: Int((DispatchTime.now().uptimeNanoseconds - started) / 1_000_000)
        )
    }

}

// MARK: - Matches

extension MatchingServer {
    func proposeMatch(_ request: ProposeMatchRequest, context: ServerContext) async throws -> Match {
        let caller = try context.caller()
        let menteeID = try requestedMentee(request.menteeID, program: request.programID, caller: caller)
        let model = try await model(organisation: caller.organisationID, program: request.programID)
        let mentee = try menteeIndex(model, menteeID)
        let mentor = try mentorIndex(model, request.mentorID)
        let explanation = model.explanation(mentee: mentee, mentor: mentor)
        if let exclusion = explanation.exclusion {
            throw RPCError.failedPrecondition(type: "EXCLUDED", subject: request.mentorID.uuidString.lowercased(), "this pair cannot be matched: \(exclusion)")
        }
        let source: MatchSource = caller.subject == menteeID ? .request : .admin
        let match = proposal(model, organisation: caller.organisationID, mentee: mentee, mentor: mentor, source: source)
        return try await store.propose([match], capacity: [match.mentorID: model.capacity(ofMentor: mentor)])[0]
    }

    func respondToMatch(_ request: RespondToMatchRequest, context: ServerContext) async throws -> Match {
        let caller = try context.caller()
        let match = try await authorizedMatch(request.matchID, caller)
        let model = try await model(organisation: caller.organisationID, program: match.programID)
        let capacity = model.mentorIndex[match.mentorID].map(model.capacity(ofMentor:)) ?? 0
        let now = configuration.now()
        let (changed, _) = try await store.update(organisation: caller.organisationID, id: match.id, capacity: capacity) { current in
            if let lapsed = Self.lapsed(current, caller: caller, now: now) { return lapsed }
            return try MatchingValidation.lifecycle(current) { () throws(MatchLifecycle.Refusal) in
                try MatchLifecycle.respond(current, by: caller.subject, accept: request.accept, reason: request.reason, now: now)
            }
        }
        // `respond` never gives `expired`: the proposal lapsed just now.
        try await refuseIfLapsed(changed, action: request.accept ? "accepted" : "declined")
        guard changed.status == .declined, match.status != .declined else { return changed }
        invalidate(organisation: caller.organisationID, program: match.programID)
        guard await offerRematch(after: changed) != nil else { return changed }
        return try await store.match(organisation: caller.organisationID, id: match.id) ?? changed
    }

    func endMatch(_ request: EndMatchRequest, context: ServerContext) async throws -> Match {
        let caller = try context.caller()
        let match = try await authorizedMatch(request.matchID, caller)
        return try await end(match, outcome: request.outcome, reason: request.reason)
    }

    /// Ends a match; "not a good fit" offers the mentee a re-match.
    func end(_ match: Match, outcome: MatchOutcome, reason: String?) async throws -> Match {
        let now = configuration.now()
        let (changed, _) = try await store.update(organisation: match.organisationID, id: match.id, capacity: nil) { current in
            try MatchingValidation.lifecycle(current) { () throws(MatchLifecycle.Refusal) in
                try MatchLifecycle.end(current, outcome: outcome, reason: reason, now: now)
            }
        }
        guard changed != match else { return changed }
        invalidate(organisation: match.organisationID, program: match.programID)
        guard outcome == .notAGoodFit, changed.rematchID == nil, await offerRematch(after: changed) != nil else { return changed }
        return try await store.match(organisation: match.organisationID, id: match.id) ?? changed
    }

    func setAgreement(_ request: SetAgreementRequest, context: ServerContext) async throws -> Match {
        let caller = try context.caller()
        let match = try await authorizedMatch(request.matchID, caller)
        try MatchingValidation.agreement(request)
        let now = configuration.now()
        let changed = try await store.update(organisation: caller.organisationID, id: match.id, capacity: nil) { current in
            guard current.version == request.version else {
                throw RPCError(code: .aborted, message: "the match changed: you sent version \(request.version), the current version is \(current.version); read it again")
            }
            if let lapsed = Self.lapsed(current, caller: caller, now: now) { return lapsed }
            return try MatchingValidation.lifecycle(current) { () throws(MatchLifecycle.Refusal) in
                try MatchLifecycle.setAgreement(
                    current, by: caller.subject, topics: request.topics, boundaries: request.boundaries, cadence: request.cadence, notes: request.notes, now: now
                )
            }
        }.match
        try await refuseIfLapsed(changed, action: "given an agreement")
        return changed
    }

    /// A proposal past its deadline that the sweep has not reached yet, when one of the pair acts
    /// on it: it expires now, as the sweep would expire it, and the action is refused
    /// (`refuseIfLapsed`).
    static func lapsed(_ current: Match, caller: AuthenticatedCaller, now: Date) -> Match? {
        guard caller.subject == current.mentorID || caller.subject == current.menteeID else { return nil }
        return MatchLifecycle.expire(current, now: now)
    }

    /// After an update that expired the proposal (`lapsed`): the program's caches are dropped, the
    /// mentee is offered a re-match, and the action is FAILED_PRECONDITION (the match is expired).
    private func refuseIfLapsed(_ changed: Match, action: String) async throws {
        guard changed.status == .expired else { return }
        invalidate(organisation: changed.organisationID, program: changed.programID)
        await offerRematch(after: changed)
        throw MatchingValidation.refusal(.wrongStatus(.expired, action), changed)
    }

    func getMatch(_ request: MatchRef, context: ServerContext) async throws -> Match {
        try await authorizedMatch(request.matchID, try context.caller())
    }

    func listMatches(_ request: ListMatchesRequest, context: ServerContext) async throws -> MatchPage {
        let caller = try context.caller()
        let pageSize = request.pageSize ?? 100
        var violations: [ErrorDetail.FieldViolation] = []
        if !(1...500).contains(pageSize) { violations.append(.init(field: "pageSize", rule: "range", description: "must be 1–500")) }
        var after: Int64 = 0
        if let token = request.pageToken {
            if let value = Int64(token), value >= 0 { after = value } else {
                violations.append(.init(field: "pageToken", rule: "format", description: "is not a token from a previous page"))
            }
        }
        guard violations.isEmpty else { throw RPCError.invalidArguments(violations) }
        // Who may list what: admins their programs; anyone else only their own matches.
        var programs: Set<UUID>?
        if !(caller.isOrganisationAdmin || caller.isService) {
            if let program = request.programID, caller.programs.contains(program) {
                programs = [program]
            } else if request.personID != caller.subject {
                if let program = request.programID {
                    throw RPCError(code: .permissionDenied, message: "listing matches of program \(program.uuidString.lowercased()) needs to administer it; others list their own (personID)")
                }
                guard !caller.programs.isEmpty else {
                    throw RPCError(code: .permissionDenied, message: "people list their own matches (personID = yourself); admins list their programs'")
                }
                programs = caller.programs
            }
        }
        var matches: [Match] = []
        var last = after
        // Pages are read until full: matches of programs the caller does not run are skipped.
        while matches.count < pageSize {
            let batch = try await store.listMatches(
                organisation: caller.organisationID, program: request.programID, person: request.personID, statuses: Set(request.statuses ?? []),
                after: last, limit: pageSize
            )
            for (sequence, match) in batch {
                last = sequence
                if let programs, !programs.contains(match.programID), match.mentorID != caller.subject, match.menteeID != caller.subject { continue }
                matches.append(match)
                if matches.count == pageSize { break }
            }
            if batch.count < pageSize { return MatchPage(matches: matches, nextPageToken: nil) }
        }
        return MatchPage(matches: matches, nextPageToken: String(last))
    }
}

// MARK: - Internal

extension MatchingServer {
    func listMatchChanges(_ request: ListMatchChangesRequest, context: ServerContext) async throws -> MatchChangePage {
        _ = try context.internalPeer()
        let limit = try RPCError.checkFeedPage(after: request.after, limit: request.limit)
        let changes = try await store.changes(after: Int64(request.after), limit: limit)
        return MatchChangePage(changes: changes.map { MatchChange(sequence: Int($0.0), match: $0.1) }, last: Int(changes.last?.0 ?? Int64(request.after)))
    }

    func recordFitSignal(_ request: FitSignal, context: ServerContext) async throws -> Match {
        _ = try context.internalPeer()
        guard let match = try await store.match(organisation: request.organisationID, id: request.matchID) else {
            throw RPCError.notFound("match", request.matchID.uuidString.lowercased())
        }
        guard request.personID == match.mentorID || request.personID == match.menteeID else {
            throw RPCError.failedPrecondition(type: "NOT_A_PARTICIPANT", subject: request.personID.uuidString.lowercased(), "only the match's mentor and mentee can say it is not a good fit")
        }
        // Already ended as not a good fit: the signal was delivered before (feedback retries).
        if match.notAGoodFit { return match }
        let reason = "not a good fit (said by the \(request.personID == match.mentorID ? "mentor" : "mentee"))" + (request.comment.map { ": \($0)" } ?? "")
        return try await end(match, outcome: .notAGoodFit, reason: reason)
    }
}
