import Foundation
import Testing
import TandemProtocols
@testable import MatchingService
import TandemRandom

@Suite("Cohort scorer, recommendations, lifecycle")
struct MatchingDomainTests {
    static let today = ISO8601DateFormatter().date(from: "2027-03-20T12:00:00Z")!

    /// Random people over a few skills, topics, divisions, zones (with half-hour ones), languages,
    /// hire dates and managers.
    static func people(_ count: Int, _ random: inout SplitMix64, managers: [UUID] = []) -> [MatchProfile] {
        let skills = ["swift", "sql", "design", "sales", "python", "negotiation", "rust"]
        let zones = ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Adelaide", "UTC", "Not/AZone"]
        return (0..<count).map { _ in
            var offered: [String: Int] = [:]
            var wanted: [String: Int] = [:]
            for name in skills where random.below(3) == 0 { offered[name] = 1 + random.below(5) }
            for name in skills where random.below(4) == 0 { wanted[name] = 1 + random.below(5) }
            let start = 6 * 60 + random.below(6) * 30
            return MatchProfile(
                personID: UUID(), skillsOffered: offered, skillsWanted: wanted, topics: Set(["career", "craft", "leadership", "sales"].filter { _ in random.below(2) == 0 }),
                division: ["A", "B", "C"][random.below(3)], seniority: 1 + random.below(10), languages: Set(["en", "fr", "de"].filter { _ in random.below(2) == 0 }),
                timeZone: zones[random.below(zones.count)], workStartMinute: start, workEndMinute: start + 6 * 60 + random.below(5) * 30,
                hireDate: random.below(2) == 0 ? today.addingTimeInterval(-Double(random.below(400)) * 86_400) : nil,
                managerChain: managers.isEmpty || random.below(4) != 0 ? [] : [managers[random.below(managers.count)]]
            ).fixingZoneOffset(on: today)
        }
    }

    static func criteria(_ random: inout SplitMix64) -> [MatchCriterion] {
        MatchCriterion.Kind.allCases.filter { _ in random.below(4) != 0 }.map { kind in
            MatchCriterion(
                kind, random.below(5) == 0 ? .must : .should, weight: 1 + random.below(40), preferCrossDivision: random.below(2) == 0,
                minimumGap: random.below(3), maximumGap: 2 + random.below(4), targetHours: 1 + random.below(20), newHireDays: 30 + random.below(200)
            )
        }
    }

    @Test("the fast cohort scorer gives exactly the explained score for every pair, exclusions included (60 random programs)")
    func fastScorerMatchesExplanations() {
        var random = SplitMix64(seed: 11)
        for _ in 0..<60 {
            let mentors = Self.people(12, &random)
            let mentees = Self.people(15, &random, managers: mentors.map(\.personID))
            var scorer = PairScorer(criteria: Self.criteria(&random), today: Self.today)
            scorer.endedBadly = [[mentees[0].personID, mentors[1].personID], [mentees[2].personID, mentors[2].personID]]
            let fast = CohortScorer(scorer: scorer, mentees: mentees, mentors: mentors)
            for (i, mentee) in mentees.enumerated() {
                for (j, mentor) in mentors.enumerated() {
                    let explained = try? scorer.score(mentee: mentee, mentor: mentor).get()
                    #expect(fast.total(mentee: i, mentor: j) == explained?.total, "pair \(i), \(j)")
                    if let explained { #expect(explained.total == explained.parts.map(\.points).reduce(0, +)) }
                }
            }
            let matrix = fast.matrix(minimumScore: 40)
            for i in mentees.indices { for j in mentors.indices { #expect(matrix[i, j] == fast.total(mentee: i, mentor: j).flatMap { $0 >= 40 ? $0 : nil }) } }
        }
    }

    @Test("recommendations: best first, full and excluded mentors left out, near-equal mentors rotated between mentees")
    func recommendations() {
        let mentee = MatchProfile(personID: UUID(), skillsWanted: ["swift": 4], division: "A", seniority: 2)
        let mentors = (0..<8).map { index in
            MatchProfile(personID: UUID(), skillsOffered: ["swift": index < 6 ? 4 : 1], division: index == 5 ? "A" : "B", seniority: 6, languages: index == 7 ? ["fr"] : ["en"])
        }
        let scorer = PairScorer(criteria: [MatchCriterion(.skills, weight: 90), MatchCriterion(.division, weight: 10), MatchCriterion(.language, .must)], today: Self.today)
        let mentees = (0..<40).map { _ in MatchProfile(personID: UUID(), skillsWanted: ["swift": 4], division: "A", seniority: 2) }
        let cohort = CohortScorer(scorer: scorer, mentees: [mentee] + mentees, mentors: mentors)
        var open = [Int](repeating: 2, count: 8)
        open[0] = 0
        let result = Recommender.recommend(mentee: 0, scorer: cohort, openPlaces: open, skip: [1], limit: 10, rotation: 7)
        // Mentors 2–4 score 100, 5 scores 90 (same division), 6 scores 23; 0 is full, 1 skipped, 7 speaks only French.
        #expect(Set(result.mentors.prefix(3)) == [2, 3, 4] && Array(result.mentors.suffix(2)) == [5, 6])
        #expect(result.full == 1 && result.excluded == 1)
        // Each near-equal mentor comes first for some mentees: the first place is shared out.
        let firsts = (1...40).map { Recommender.recommend(mentee: $0, scorer: cohort, openPlaces: open, skip: [], limit: 1, rotation: Recommender.rotation(mentee: mentees[$0 - 1].personID, on: Self.today)).mentors[0] }
        #expect(Set(firsts) == [1, 2, 3, 4])
        // The same mentee on the same day sees the same list (on any replica: no per-process seed).
        #expect(Recommender.rotation(mentee: mentee.personID, on: Self.today) == Recommender.rotation(mentee: mentee.personID, on: Self.today.addingTimeInterval(3600)))
    }

    @Test("groups: every group within its bounds, small groups closed and their mentees placed elsewhere")
    func groups() {
        var random = SplitMix64(seed: 3)
        for _ in 0..<40 {
            let mentees = 2 + random.below(14)
            let mentors = 1 + random.below(5)
            let scorer = PairScorer(criteria: [MatchCriterion(.skills, weight: 1)], today: Self.today)
            let cohort = CohortScorer(
                scorer: scorer, mentees: Self.people(mentees, &random).map { var p = $0; p.skillsWanted = ["swift": 3]; return p },
                mentors: Self.people(mentors, &random).map { var p = $0; p.skillsOffered = ["swift": 1 + random.below(5)]; return p }
            )
            let bounds = (1 + random.below(3))...(3 + random.below(3))
            let plan = CohortPlan(scorer: cohort, capacities: (0..<mentors).map { _ in 1 + random.below(6) }, objective: .maxMatched, groupSize: bounds)
            let sizes = Dictionary(grouping: plan.pairs, by: \.mentor).mapValues(\.count)
            #expect(sizes.values.allSatisfy { bounds.contains($0) }, "\(sizes) within \(bounds)")
            #expect(plan.pairs.count + plan.unmatchedMentees.count == mentees)
        }
    }

    @Test("lifecycle: both accept to start; decline, expiry, ending and agreement follow their rules")
    func lifecycle() throws {
        let now = Self.today
        let mentor = UUID()
        let mentee = UUID()
        let proposal = Match(
            id: UUID(), organisationID: UUID(), programID: UUID(), mentorID: mentor, menteeID: mentee, groupID: nil, status: .proposed, source: .cohort,
            score: 80, parts: [], mentorAccepted: false, menteeAccepted: false, proposedAt: now, expiresAt: now.addingTimeInterval(86_400), startedAt: nil,
            endedAt: nil, endReason: nil, notAGoodFit: false, declinedBy: nil, rematchOf: nil, rematchID: nil, agreement: nil, version: 1, updatedAt: now
        )
        #expect(throws: MatchLifecycle.Refusal.notAParticipant) { try MatchLifecycle.respond(proposal, by: UUID(), accept: true, reason: nil, now: now) }
        let half = try MatchLifecycle.respond(proposal, by: mentee, accept: true, reason: nil, now: now)
        #expect(half.status == .proposed && half.menteeAccepted && half.version == 2)
        let active = try MatchLifecycle.respond(half, by: mentor, accept: true, reason: nil, now: now)
        #expect(active.status == .active && active.startedAt == now && active.expiresAt == nil)
        #expect(MatchLifecycle.expire(active, now: now.addingTimeInterval(2 * 86_400)) == nil)
        #expect(throws: MatchLifecycle.Refusal.self) { try MatchLifecycle.respond(active, by: mentor, accept: false, reason: nil, now: now) }
        let completed = try MatchLifecycle.end(active, outcome: .completed, reason: nil, now: now)
        #expect(completed.status == .completed && !MatchLifecycle.endedBadly(completed))
        #expect(try MatchLifecycle.end(completed, outcome: .completed, reason: nil, now: now) == completed)
        #expect(throws: MatchLifecycle.Refusal.self) { try MatchLifecycle.end(completed, outcome: .notAGoodFit, reason: nil, now: now) }
        #expect(throws: MatchLifecycle.Refusal.self) { try MatchLifecycle.end(proposal, outcome: .completed, reason: nil, now: now) }
        #expect(MatchLifecycle.expire(proposal, now: now.addingTimeInterval(86_399)) == nil)
        #expect(MatchLifecycle.expire(proposal, now: now.addingTimeInterval(86_400))?.status == .expired)
        let declined = try MatchLifecycle.respond(proposal, by: mentor, accept: false, reason: "busy", now: now)
        #expect(declined.status == .declined && MatchLifecycle.endedBadly(declined))
        #expect(throws: MatchLifecycle.Refusal.self) { try MatchLifecycle.setAgreement(declined, by: mentor, topics: [], boundaries: [], cadence: nil, notes: nil, now: now) }
        let first = try MatchLifecycle.setAgreement(active, by: mentor, topics: ["x"], boundaries: [], cadence: .weekly, notes: nil, now: now)
        let both = try MatchLifecycle.setAgreement(first, by: mentee, topics: ["x"], boundaries: [], cadence: .weekly, notes: nil, now: now)
        let changed = try MatchLifecycle.setAgreement(both, by: mentee, topics: ["y"], boundaries: [], cadence: .weekly, notes: nil, now: now)
        #expect(both.agreement?.agreedBy == [mentor, mentee] && changed.agreement?.agreedBy == [mentee])
    }
}
