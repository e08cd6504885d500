import Foundation
import Testing
@testable import MatchingService
import TandemRandom

@Suite("Pair scoring and explanations")
struct ScoringTests {
    static let january = ISO8601DateFormatter().date(from: "2027-01-13T12:00:00Z")!
    static let criteria = [
        MatchCriterion(.skills, weight: 40), MatchCriterion(.topics, weight: 15), MatchCriterion(.division, weight: 10),
        MatchCriterion(.seniority, weight: 15), MatchCriterion(.workingHours, weight: 13, targetHours: 10), MatchCriterion(.onboarding, weight: 7),
        MatchCriterion(.language, .must),
    ]

    func person(_ division: String = "Engineering", seniority: Int = 3, zone: String = "Europe/London", offered: [String: Int] = [:],
                wanted: [String: Int] = [:], topics: Set<String> = [], languages: Set<String> = ["en"], managers: [UUID] = []) -> MatchProfile {
        MatchProfile(personID: UUID(), skillsOffered: offered, skillsWanted: wanted, topics: topics, division: division, seniority: seniority,
                     languages: languages, timeZone: zone, managerChain: managers)
    }

    @Test("every criterion explained; the parts add up to the score; a perfect pair scores 100")
    func partsAddUp() throws {
        let scorer = PairScorer(criteria: Self.criteria, today: Self.january)
        let mentee = person(seniority: 2, wanted: ["swift": 4, "sql": 2], topics: ["leadership", "career"])
        let perfect = person("Sales", seniority: 5, offered: ["swift": 5, "sql": 3], topics: ["leadership", "career", "golf"])
        let score = try scorer.score(mentee: mentee, mentor: perfect).get()
        #expect(score.total == 100 && score.parts.map(\.points) == score.parts.map(\.maximum))
        #expect(score.parts.map(\.maximum).reduce(0, +) == 100)
        #expect(score.parts.first { $0.criterion == .skills }?.detail == "offers sql 3/2, swift 5/4 (level offered/wanted)")
        // Half the skill levels, one topic of two, same division: each part says so.
        let partial = person(seniority: 3, offered: ["swift": 2], topics: ["career"])
        let partialScore = try scorer.score(mentee: mentee, mentor: partial).get()
        let skills = try #require(partialScore.parts.first { $0.criterion == .skills })
        #expect(skills.points == 10 && skills.maximum == 40)  // (2/4 + 0) / 2 of 40
        #expect(partialScore.parts.first { $0.criterion == .division }?.points == 0)
        #expect(partialScore.total == partialScore.parts.map(\.points).reduce(0, +))
        // Random pairs: the parts always add up, each within its maximum.
        var random = SplitMix64(seed: 5)
        let skillNames = ["swift", "sql", "design", "sales", "python", "negotiation"]
        func randomPerson() -> MatchProfile {
            var offered: [String: Int] = [:]
            var wanted: [String: Int] = [:]
            for name in skillNames where random.below(3) == 0 { offered[name] = 1 + random.below(5) }
            for name in skillNames where random.below(4) == 0 { wanted[name] = 1 + random.below(5) }
            return person(["A", "B", "C"][random.below(3)], seniority: 1 + random.below(8),
                          zone: ["Europe/London", "America/New_York", "Asia/Kolkata", "Australia/Sydney"][random.below(4)],
                          offered: offered, wanted: wanted, topics: Set(["x", "y", "z"].filter { _ in random.below(2) == 0 }))
        }
        for _ in 0..<500 {
            let result = try scorer.score(mentee: randomPerson(), mentor: randomPerson()).get()
            #expect(result.total == result.parts.map(\.points).reduce(0, +))
            #expect((0...100).contains(result.total) && result.parts.allSatisfy { (0...$0.maximum).contains($0.points) })
        }
    }

    @Test("exclusions: the same person, a reporting line, an earlier match that ended badly, a failed must")
    func exclusions() {
        var scorer = PairScorer(criteria: Self.criteria, today: Self.january)
        let boss = person(seniority: 8)
        let report = person(seniority: 2, managers: [UUID(), boss.personID])
        #expect(scorer.score(mentee: report, mentor: boss) == .failure(.reportingLine))
        #expect(scorer.score(mentee: report, mentor: report) == .failure(.samePerson))
        let french = person(seniority: 6, languages: ["fr"])
        guard case .failure(.must(.language, let reason)) = scorer.score(mentee: report, mentor: french) else {
            Issue.record("a must criterion excludes")
            return
        }
        #expect(reason == "no language in common")
        let other = person(seniority: 6)
        #expect((try? scorer.score(mentee: report, mentor: other).get()) != nil)
        scorer.endedBadly.insert([report.personID, other.personID])
        #expect(scorer.score(mentee: report, mentor: other) == .failure(.endedBadly))
    }

    @Test("working hours in common across zones, in January: New York–London 15 h, Kolkata–London 12.5 h, Sydney–London 0 h")
    func workingHours() {
        let london = person(zone: "Europe/London")
        #expect(PairScorer.weeklyOverlapHours(london, person(zone: "America/New_York"), on: Self.january) == 15)
        #expect(PairScorer.weeklyOverlapHours(london, person(zone: "Asia/Kolkata"), on: Self.january) == 12.5)
        #expect(PairScorer.weeklyOverlapHours(london, person(zone: "Australia/Sydney"), on: Self.january) == 0)
        #expect(PairScorer.weeklyOverlapHours(london, person(zone: "Europe/London"), on: Self.january) == 40)
    }

    @Test("why not mentor X: two mentors compared criterion by criterion")
    func whyNot() {
        let scorer = PairScorer(criteria: Self.criteria, today: Self.january)
        let mentee = person(seniority: 2, wanted: ["swift": 4], topics: ["career"])
        let chosen = person("Sales", seniority: 4, offered: ["swift": 4], topics: ["career"])
        let other = person(seniority: 9, zone: "Australia/Sydney", offered: ["swift": 2])
        let rows = scorer.compare(mentee: mentee, chosen, other)
        #expect(rows.map(\.criterion) == [.skills, .topics, .division, .seniority, .workingHours, .onboarding])
        #expect(rows.first { $0.criterion == .skills }.map { ($0.first, $0.second) } ?? (nil, nil) == (40, 20))
        #expect(rows.first { $0.criterion == .workingHours }?.second == 0)
    }
}
