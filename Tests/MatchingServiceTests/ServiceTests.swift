import Foundation
import MatchingService
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

/// The matching service end to end: identity and matching over mutual TLS on loopback, a real
/// SQLite database.
@Suite("Matching service")
struct MatchingServiceTests {
    static let swift = [SkillLevel(name: "Swift", level: 4)]

    @Test("a mentee asks for a recommended mentor; the mentor accepts; the pair agrees; not a good fit ends it")
    func lifecycle() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let mentor = try await cluster.person("Maria Mentor", division: "Sales", seniority: 7)
            let mentee = try await cluster.person("Tom Mentee")
            let other = try await cluster.person("Olga Other")
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: Self.swift, capacity: 1)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.enrol(other.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program)

            let list = try await cluster.call(Matching.recommend, RecommendRequest(programID: program), token: mentee.token)
            #expect(list.recommendations.map(\.mentorID) == [mentor.id])
            let top = try #require(list.recommendations.first)
            #expect(top.score == 100 && top.parts.map(\.points).reduce(0, +) == top.score && top.openPlaces == 1)

            let match = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: mentor.id), token: mentee.token)
            #expect(match.status == .proposed && match.source == .request && match.menteeAccepted && !match.mentorAccepted)
            #expect(match.expiresAt == cluster.clock.now().addingTimeInterval(7 * 86_400))
            // Her only place is held by the proposal.
            let full = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: mentor.id), token: other.token)
            }
            #expect(full?.message.contains("no place left") == true)
            #expect(try await cluster.call(Matching.recommend, RecommendRequest(programID: program), token: other.token).fullMentors == 1)
            // Only the pair answers a proposal.
            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: match.id, accept: true), token: other.token) }
            let active = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: match.id, accept: true), token: mentor.token)
            #expect(active.status == .active && active.startedAt == cluster.clock.now())
            #expect(try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: match.id, accept: true), token: mentor.token) == active)

            // The agreement: one sets it, the other agrees to the same text.
            let proposed = try await cluster.call(Matching.setAgreement, SetAgreementRequest(
                matchID: match.id, topics: ["career"], boundaries: ["compensation"], cadence: .fortnightly, version: active.version
            ), token: mentee.token)
            #expect(proposed.agreement?.agreedBy == [mentee.id])
            await expectRPCError(.aborted) {
                _ = try await cluster.call(Matching.setAgreement, SetAgreementRequest(matchID: match.id, topics: [], boundaries: [], version: active.version), token: mentor.token)
            }
            let agreed = try await cluster.call(Matching.setAgreement, SetAgreementRequest(
                matchID: match.id, topics: ["career"], boundaries: ["compensation"], cadence: .fortnightly, version: proposed.version
            ), token: mentor.token)
            #expect(agreed.agreement?.agreedBy == [mentee.id, mentor.id])

            let ended = try await cluster.call(Matching.endMatch, EndMatchRequest(matchID: match.id, outcome: .notAGoodFit), token: mentee.token)
            #expect(ended.status == .ended && ended.notAGoodFit && ended.endedAt != nil)
            // Completing an ended match is refused; the pair is never proposed again.
            await expectRPCError(.failedPrecondition) { _ = try await cluster.call(Matching.endMatch, EndMatchRequest(matchID: match.id, outcome: .completed), token: mentee.token) }
            let explanation = try await cluster.call(Matching.explainPair, PairQuery(programID: program, menteeID: mentee.id, mentorID: mentor.id), token: mentee.token)
            #expect(explanation.score == nil && explanation.exclusion?.contains("ended badly") == true)
            // The place is free again for the other mentee.
            #expect(try await cluster.call(Matching.recommend, RecommendRequest(programID: program), token: other.token).recommendations.map(\.mentorID) == [mentor.id])
        }
    }

    @Test("a decline and an expiry each offer the mentee the best mentor left")
    func rematches() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let best = try await cluster.person("Best Mentor", division: "Sales", seniority: 7)
            let second = try await cluster.person("Second Mentor", division: "Engineering", seniority: 7)
            let third = try await cluster.person("Third Mentor", division: "Engineering", seniority: 7)
            let mentee = try await cluster.person("Mia Mentee")
            try await cluster.enrol(best.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(second.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(third.id, in: program, as: .mentor, offered: [SkillLevel(name: "Swift", level: 1)], capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program, expiryDays: 3)

            let first = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, menteeID: mentee.id, mentorID: best.id), token: cluster.admin)
            #expect(first.source == .admin && !first.menteeAccepted)
            let declined = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: first.id, accept: false, reason: "no time"), token: best.token)
            #expect(declined.status == .declined && declined.declinedBy == best.id && declined.endReason == "no time")
            let rematchID = try #require(declined.rematchID)
            let rematch = try await cluster.call(Matching.getMatch, MatchRef(matchID: rematchID), token: mentee.token)
            #expect(rematch.mentorID == second.id && rematch.source == .rematch && rematch.rematchOf == first.id && rematch.status == .proposed)

            // Three days without both answers: it expires, and the next mentor is offered.
            cluster.clock.advance(3 * 86_400 + 1)
            let expired = try await cluster.server.expireProposals()
            #expect(expired.map(\.id) == [rematch.id])
            let token = try await cluster.signIn("Mia Mentee")
            let lapsed = try await cluster.call(Matching.getMatch, MatchRef(matchID: rematch.id), token: token)
            #expect(lapsed.status == .expired)
            let next = try await cluster.call(Matching.getMatch, MatchRef(matchID: try #require(lapsed.rematchID)), token: token)
            #expect(next.mentorID == third.id)
            let mine = try await cluster.call(Matching.listMatches, ListMatchesRequest(personID: mentee.id), token: token)
            #expect(Set(mine.matches.map(\.status)) == [.declined, .expired, .proposed] && mine.matches.count == 3)
        }
    }

    @Test("answering a proposal again the same way returns it unchanged: same version, nothing new in the change feed")
    func answerAgain() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let mentor = try await cluster.person("Again Mentor", division: "Sales", seniority: 7)
            let mentee = try await cluster.person("Again Mentee")
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program)
            let feedback = try cluster.client(as: "feedback")
            defer { feedback.close() }

            let proposed = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, menteeID: mentee.id, mentorID: mentor.id), token: cluster.admin)
            let accepted = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposed.id, accept: true), token: mentee.token)
            #expect(accepted.status == .proposed && accepted.menteeAccepted && accepted.version == proposed.version + 1)
            let feed = try await feedback.call(Matching.listMatchChanges, ListMatchChangesRequest(after: 0))
            #expect(feed.changes.map(\.match) == [accepted])

            let again = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposed.id, accept: true), token: mentee.token)
            #expect(again == accepted)
            #expect(try await cluster.call(Matching.getMatch, MatchRef(matchID: proposed.id), token: mentee.token) == accepted)
            #expect(try await feedback.call(Matching.listMatchChanges, ListMatchChangesRequest(after: feed.last)).changes.isEmpty)
        }
    }

    @Test(
        "a proposal past its deadline cannot be answered or given an agreement, before the sweep runs too: it expires then, as the sweep would expire it",
        arguments: [false, true]
    )
    func answerAfterDeadline(agreement: Bool) async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let best = try await cluster.person("Late Mentor", division: "Sales", seniority: 7)
            let second = try await cluster.person("Next Mentor", division: "Engineering", seniority: 7)
            let mentee = try await cluster.person("Late Mentee")
            try await cluster.enrol(best.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(second.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program, expiryDays: 3)
            let proposed = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: best.id), token: mentee.token)
            #expect(proposed.status == .proposed && proposed.menteeAccepted)

            // Past the deadline; the sweep (`expireProposals`) has not run.
            cluster.clock.advance(3 * 86_400 + 1)
            let mentor = try await cluster.signIn("Late Mentor")
            let attempts: [(action: String, call: () async throws -> Void)] = agreement
                ? [("given an agreement", {
                    let request = SetAgreementRequest(matchID: proposed.id, topics: ["career"], boundaries: [], version: proposed.version)
                    _ = try await cluster.call(Matching.setAgreement, request, token: mentor)
                })]
                : [true, false].map { accept in
                    (accept ? "accepted" : "declined", {
                        _ = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposed.id, accept: accept), token: mentor)
                    })
                }
            for attempt in attempts {
                let refused = await expectRPCError(.failedPrecondition) { try await attempt.call() }
                #expect(refused?.message == "the match is expired: it cannot be \(attempt.action)")
                #expect(refused?.details.contains { if case .preconditionFailure(let violations) = $0 { violations.map(\.type) == ["MATCH_STATUS"] } else { false } } == true)
            }
            let lapsed = try await cluster.call(Matching.getMatch, MatchRef(matchID: proposed.id), token: mentor)
            #expect(lapsed.status == .expired && lapsed.endReason == "not accepted by both within the time allowed" && lapsed.startedAt == nil)
            // The mentee is offered the next mentor, as after the sweep; the sweep finds nothing left.
            let next = try await cluster.call(Matching.getMatch, MatchRef(matchID: try #require(lapsed.rematchID)), token: try await cluster.signIn("Late Mentee"))
            #expect(next.mentorID == second.id && next.status == .proposed && next.rematchOf == proposed.id)
            #expect(try await cluster.server.expireProposals().isEmpty)
        }
    }

    @Test("concurrent proposals and accepts never take a mentor past her capacity")
    func concurrentCapacity() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let mentor = try await cluster.person("Popular Mentor", division: "Sales", seniority: 8)
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: Self.swift, capacity: 3)
            var mentees: [(id: UUID, token: String)] = []
            for index in 0..<10 {
                let mentee = try await cluster.person("Mentee \(index)")
                try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
                mentees.append(mentee)
            }
            try await cluster.prepare(program)
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for mentee in mentees {
                    group.addTask {
                        do {
                            _ = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: mentor.id), token: mentee.token)
                            return true
                        } catch let error as RPCError where error.code == .failedPrecondition {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(outcomes.filter { $0 }.count == 3)
            // Her capacity drops to 1 in identity; the three proposals are accepted at once:
            // exactly one becomes active.
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: Self.swift, capacity: 1, version: 1)
            _ = try await cluster.call(Matching.syncParticipants, ProgramRef(programID: program), token: cluster.admin)
            let proposals = try await cluster.call(Matching.listMatches, ListMatchesRequest(programID: program, statuses: [.proposed]), token: cluster.admin).matches
            #expect(proposals.count == 3)
            let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
                for proposal in proposals {
                    group.addTask {
                        do {
                            return try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposal.id, accept: true), token: mentor.token).status == .active
                        } catch let error as RPCError where error.code == .failedPrecondition {
                            return false
                        }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            #expect(accepted.filter { $0 }.count == 1)
            let active = try await cluster.call(Matching.listMatches, ListMatchesRequest(programID: program, statuses: [.active]), token: cluster.admin).matches
            #expect(active.count == 1)
        }
    }

    @Test("whole-cohort matching: each objective, reasons for the unmatched, proposals written, groups within bounds")
    func cohort() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            var mentors: [UUID] = []
            for (index, division) in ["Sales", "Finance"].enumerated() {
                let mentor = try await cluster.person("Mentor \(index)", division: division, seniority: 8)
                try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: [SkillLevel(name: "Swift", level: 2 + index * 2), SkillLevel(name: "SQL", level: 4)], capacity: 2)
                mentors.append(mentor.id)
            }
            var mentees: [UUID] = []
            for index in 0..<5 {
                let mentee = try await cluster.person("Cohort Mentee \(index)")
                try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: [SkillLevel(name: index % 2 == 0 ? "Swift" : "SQL", level: 4)])
                mentees.append(mentee.id)
            }
            let loner = try await cluster.person("Lonely Mentee")
            try await cluster.enrol(loner.id, in: program, as: .mentee, wanted: [SkillLevel(name: "Swift", level: 3)])
            // Language is a must, and nobody else speaks Icelandic: updating the loner's languages.
            let person = try await cluster.call(Identity.getPerson, PersonRef(personID: loner.id), token: cluster.admin)
            _ = try await cluster.call(Identity.updatePerson, UpdatePersonRequest(personID: loner.id, version: person.version, person: PersonInput(
                email: person.email, name: person.name, division: person.division, jobTitle: person.jobTitle, seniority: person.seniority, timeZone: person.timeZone,
                languages: ["is"]
            )), token: cluster.admin)
            try await cluster.prepare(program, criteria: MatchingCluster.criteria + [Criterion(kind: .language, mode: .must)])

            var totals: [CohortObjective: CohortResult] = [:]
            for objective in CohortObjective.allCases {
                let result = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: program, objective: objective, dryRun: true), token: cluster.admin)
                #expect(result.matched == 4 && result.mentees == 6 && result.pairs.count == 4 && result.dryRun)
                #expect(result.total == result.pairs.map(\.score).reduce(0, +) && result.pairs.allSatisfy { $0.matchID == nil })
                #expect(Dictionary(grouping: result.pairs, by: \.mentorID).values.allSatisfy { $0.count <= 2 })
                #expect(result.unmatched.contains { $0.personID == loner.id && $0.reason.contains("must") })
                totals[objective] = result
            }
            #expect(totals[.stable]?.blockingPairs == 0)
            #expect(totals[.maxTotal]!.total >= totals[.stable]!.total && totals[.maxTotal]!.total >= totals[.fairest]!.total)
            #expect(totals[.fairest]!.lowest! >= totals[.maxTotal]!.lowest!)
            // For real: proposals are written; a second run has nobody left to match but the loner
            // and the mentee who lost out.
            let real = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: program, objective: .maxTotal), token: cluster.admin)
            #expect(real.pairs.allSatisfy { $0.matchID != nil } && real.total == totals[.maxTotal]!.total)
            let again = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: program, objective: .maxTotal), token: cluster.admin)
            #expect(again.mentees == 2 && again.matched == 0 && again.mentors == 0)
            #expect(again.unmatched.contains { $0.reason.contains("full") })
            // Not for mentees.
            let menteeToken = try await cluster.signIn("Lonely Mentee")
            await expectRPCError(.permissionDenied) { _ = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: program, objective: .maxTotal), token: menteeToken) }

            // A circle program: groups of 2–3, so one of three mentors closes and the others take the mentees.
            let circle = try await cluster.program("Circles", format: .group)
            for mentor in mentors { try await cluster.enrol(mentor, in: circle, as: .mentor, offered: Self.swift, capacity: 5) }
            let third = try await cluster.person("Third Circle Mentor", division: "Legal", seniority: 8)
            try await cluster.enrol(third.id, in: circle, as: .mentor, offered: Self.swift, capacity: 5)
            for mentee in mentees { try await cluster.enrol(mentee, in: circle, as: .mentee, wanted: Self.swift) }
            try await cluster.prepare(circle, groups: 2...3)
            let groups = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: circle, objective: .maxMatched), token: cluster.admin)
            let sizes = Dictionary(grouping: groups.pairs, by: \.mentorID).mapValues(\.count)
            #expect(groups.matched == 5 && sizes.values.allSatisfy { (2...3).contains($0) })
            #expect(Dictionary(grouping: groups.pairs, by: \.mentorID).values.allSatisfy { Set($0.map(\.groupID)).count == 1 && $0[0].groupID != nil })
        }
    }

    @Test("a later cohort run adds mentees to a group under way: its groupID, and its mentees count towards the minimum size")
    func groupGrows() async throws {
        try await withMatchingCluster { cluster in
            let circle = try await cluster.program("Growing circle", format: .group)
            let mentor = try await cluster.person("Circle Lead", division: "Sales", seniority: 8)
            try await cluster.enrol(mentor.id, in: circle, as: .mentor, offered: Self.swift, capacity: 3)
            for name in ["First Member", "Second Member"] {
                try await cluster.enrol(try await cluster.person(name).id, in: circle, as: .mentee, wanted: Self.swift)
            }
            try await cluster.prepare(circle, groups: 2...3)
            let first = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: circle, objective: .maxMatched), token: cluster.admin)
            #expect(first.matched == 2 && Set(first.pairs.map(\.groupID)).count == 1)
            let group = try #require(first.pairs.first?.groupID)

            // A late joiner: alone she is below the minimum of 2, but the group she joins has 3.
            let late = try await cluster.person("Late Member")
            try await cluster.enrol(late.id, in: circle, as: .mentee, wanted: Self.swift)
            _ = try await cluster.call(Matching.syncParticipants, ProgramRef(programID: circle), token: cluster.admin)
            let second = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: circle, objective: .maxMatched), token: cluster.admin)
            #expect(second.unmatched.isEmpty && second.pairs.map(\.menteeID) == [late.id] && second.pairs.map(\.groupID) == [group])
            let match = try await cluster.call(Matching.getMatch, MatchRef(matchID: try #require(second.pairs.first?.matchID)), token: late.token)
            #expect(match.groupID == group && match.mentorID == mentor.id)
        }
    }

    @Test("explanations add up, two mentors compared, every pair exported as CSV")
    func explanationsAndExport() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let strong = try await cluster.person("Strong Mentor", division: "Sales", seniority: 6)
            let weak = try await cluster.person("Weak, \"Mentor\"", division: "Engineering", seniority: 6)
            let mentee = try await cluster.person("Curious Mentee")
            try await cluster.enrol(strong.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(weak.id, in: program, as: .mentor, offered: [SkillLevel(name: "Swift", level: 2)], capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program)
            let comparison = try await cluster.call(Matching.compareMentors, CompareMentorsRequest(
                programID: program, firstMentorID: strong.id, secondMentorID: weak.id
            ), token: mentee.token)
            #expect(comparison.first.score == 100 && comparison.second.score == 30)
            #expect(comparison.rows.map(\.criterion) == [.skills, .division])
            #expect(comparison.rows.map(\.firstPoints) == [60, 40] && comparison.rows.map(\.secondPoints) == [30, 0])
            #expect(comparison.summary == "the first mentor scores 70 points more (100 vs 30), mostly on division (+40), skills (+30)")

            let client = cluster.matching
            var options = CallOptions(timeout: .seconds(30))
            options.metadata[Metadata.Keys.authorization] = "Bearer " + cluster.admin
            let (csv, rows) = try await client.serverStreaming(Matching.exportScores, ProgramRef(programID: program), options: options) { stream in
                var csv = ""
                var rows = 0
                for try await chunk in stream {
                    csv += chunk.csv
                    rows += chunk.rows
                }
                return (csv, rows)
            }
            let lines = csv.split(separator: "\n")
            #expect(lines.first == "mentee_id,mentee_name,mentor_id,mentor_name,score,excluded,skills_points,division_points")
            #expect(rows == 2 && lines.count == 3)
            #expect(lines.contains { $0.contains(",\"Weak, \"\"Mentor\"\"\",") && $0.hasSuffix(",30,,30,0") })
            await expectRPCError(.permissionDenied) {
                var menteeOptions = CallOptions(timeout: .seconds(30))
                menteeOptions.metadata[Metadata.Keys.authorization] = "Bearer " + mentee.token
                try await client.serverStreaming(Matching.exportScores, ProgramRef(programID: program), options: menteeOptions) { stream in
                    for try await _ in stream {}
                }
            }
        }
    }

    @Test("bad settings are refused field by field; stale versions are ABORTED; nothing is saved")
    func settingsValidation() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let error = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program, criteria: [
                    Criterion(kind: .skills, mode: .should, weight: 0), Criterion(kind: .skills, mode: .must),
                    Criterion(kind: .seniority, mode: .should, minimumGap: 3, maximumGap: 1),
                ], requestExpiryDays: 90, groupMinimum: 5, groupMaximum: 2), token: cluster.admin)
            }
            #expect(Set(error?.fieldViolations.map(\.field) ?? []) == [
                "criteria[0].weight", "criteria[1].kind", "criteria[2].maximumGap", "requestExpiryDays", "groupMaximum",
            ])
            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.getSettings, ProgramRef(programID: program), token: cluster.admin) }
            await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program, criteria: [Criterion(kind: .language, mode: .must)]), token: cluster.admin)
            }
            let saved = try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program, criteria: MatchingCluster.criteria), token: cluster.admin)
            #expect(saved.version == 1 && saved.requestExpiryDays == 7 && saved.autoRematch && saved.criteria[0].weight == 60 && saved.groupMaximum == nil)
            await expectRPCError(.aborted) {
                _ = try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program, criteria: MatchingCluster.criteria), token: cluster.admin)
            }
            #expect(try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program, criteria: MatchingCluster.criteria, version: 1), token: cluster.admin).version == 2)
            // Before a sync, matching says what is missing.
            let missing = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Matching.runCohort, RunCohortRequest(programID: program, objective: .maxTotal), token: cluster.admin)
            }
            #expect(missing?.message.contains("SyncParticipants") == true)
        }
    }

    @Test("another organisation sees nothing; people see only their own matches")
    func isolation() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let mentor = try await cluster.person("Iso Mentor", division: "Sales", seniority: 7)
            let mentee = try await cluster.person("Iso Mentee")
            let bystander = try await cluster.person("Bystander")
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program)
            let match = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: mentor.id), token: mentee.token)

            _ = try await cluster.call(Identity.createOrganisation, CreateOrganisationRequest(
                name: "Globex", slug: "globex",
                admin: PersonInput(email: "boss@globex.example", name: "Boss", division: "Ops", jobTitle: "Boss", seniority: 9, timeZone: "UTC"),
                adminPassword: MatchingCluster.password
            ), token: cluster.admin)
            let boss = try await cluster.call(Identity.signIn, SignInRequest(organisation: "globex", email: "boss@globex.example", password: MatchingCluster.password), token: nil).accessToken
            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.getMatch, MatchRef(matchID: match.id), token: boss) }
            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.getSettings, ProgramRef(programID: program), token: boss) }
            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: match.id, accept: false), token: boss) }
            #expect(try await cluster.call(Matching.listMatches, ListMatchesRequest(), token: boss).matches.isEmpty)
            // Globex's admin cannot read Acme's participants through matching either: identity refuses.
            _ = try await cluster.call(Matching.setSettings, MatchingSettingsInput(programID: program, criteria: MatchingCluster.criteria), token: boss)
            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.syncParticipants, ProgramRef(programID: program), token: boss) }
            await expectRPCError(.failedPrecondition) { _ = try await cluster.call(Matching.recommend, RecommendRequest(programID: program), token: boss) }

            await expectRPCError(.notFound) { _ = try await cluster.call(Matching.getMatch, MatchRef(matchID: match.id), token: bystander.token) }
            await expectRPCError(.permissionDenied) { _ = try await cluster.call(Matching.listMatches, ListMatchesRequest(programID: program), token: bystander.token) }
            #expect(try await cluster.call(Matching.listMatches, ListMatchesRequest(personID: bystander.id), token: bystander.token).matches.isEmpty)
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Matching.recommend, RecommendRequest(programID: program, menteeID: mentee.id), token: bystander.token)
            }
            #expect(try await cluster.call(Matching.listMatches, ListMatchesRequest(personID: mentor.id), token: mentor.token).matches.map(\.id) == [match.id])
        }
    }

    @Test("internal methods: only the named services, over mutual TLS; the change feed and the fit signal")
    func internalMethods() async throws {
        try await withMatchingCluster { cluster in
            let program = try await cluster.program()
            let mentor = try await cluster.person("Feed Mentor", division: "Sales", seniority: 7)
            let mentee = try await cluster.person("Feed Mentee")
            try await cluster.enrol(mentor.id, in: program, as: .mentor, offered: Self.swift, capacity: 2)
            try await cluster.enrol(mentee.id, in: program, as: .mentee, wanted: Self.swift)
            try await cluster.prepare(program)
            let proposed = try await cluster.call(Matching.proposeMatch, ProposeMatchRequest(programID: program, mentorID: mentor.id), token: mentee.token)
            let active = try await cluster.call(Matching.respondToMatch, RespondToMatchRequest(matchID: proposed.id, accept: true), token: mentor.token)

            // A token is not enough, and the gateway's certificate is not one of the services allowed.
            await expectRPCError(.permissionDenied) { _ = try await cluster.call(Matching.listMatchChanges, ListMatchChangesRequest(after: 0), token: cluster.admin) }
            let gateway = try cluster.client(as: "gateway")
            defer { gateway.close() }
            await expectRPCError(.permissionDenied) { _ = try await gateway.call(Matching.listMatchChanges, ListMatchChangesRequest(after: 0)) }
            let feedback = try cluster.client(as: "feedback")
            defer { feedback.close() }
            let page = try await feedback.call(Matching.listMatchChanges, ListMatchChangesRequest(after: 0))
            #expect(page.changes.map(\.match) == [active] && page.last == page.changes.last?.sequence)
            #expect(try await feedback.call(Matching.listMatchChanges, ListMatchChangesRequest(after: page.last)).changes.isEmpty)
            await expectRPCError(.invalidArgument) { _ = try await feedback.call(Matching.listMatchChanges, ListMatchChangesRequest(after: 0, limit: 5000)) }

            // Feedback's "not a good fit": the match ends; delivering it again changes nothing.
            let scheduling = try cluster.client(as: "scheduling")
            defer { scheduling.close() }
            await expectRPCError(.permissionDenied) {
                _ = try await scheduling.call(Matching.recordFitSignal, FitSignal(organisationID: active.organisationID, matchID: active.id, personID: mentee.id))
            }
            let signal = FitSignal(organisationID: active.organisationID, matchID: active.id, personID: mentee.id, comment: "we never clicked")
            let ended = try await feedback.call(Matching.recordFitSignal, signal)
            #expect(ended.status == .ended && ended.notAGoodFit && ended.endReason == "not a good fit (said by the mentee): we never clicked")
            #expect(try await feedback.call(Matching.recordFitSignal, signal) == ended)
            await expectRPCError(.notFound) { _ = try await feedback.call(Matching.recordFitSignal, FitSignal(organisationID: UUID(), matchID: active.id, personID: mentee.id)) }
            let after = try await feedback.call(Matching.listMatchChanges, ListMatchChangesRequest(after: page.last))
            #expect(after.changes.map(\.match) == [ended])
        }
    }
}
