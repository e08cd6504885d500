import Testing
@testable import MatchingService
import TandemRandom

// Random instances come from SplitMix64, so that a failing one can be replayed from its seed.
extension SplitMix64 {
    mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
}

/// Every assignment of a tiny instance, to know the optimum for sure.
func bruteForce(_ scores: ScoreMatrix, _ capacities: [Int], _ visit: (Assignment) -> Void) {
    var mentorOf = [Int?](repeating: nil, count: scores.mentees)
    var load = [Int](repeating: 0, count: scores.mentors)
    func place(_ mentee: Int) {
        if mentee == scores.mentees {
            visit(Assignment(mentorOf: mentorOf, scores: scores))
            return
        }
        mentorOf[mentee] = nil
        place(mentee + 1)
        for mentor in 0..<scores.mentors where scores[mentee, mentor] != nil && load[mentor] < capacities[mentor] {
            mentorOf[mentee] = mentor
            load[mentor] += 1
            place(mentee + 1)
            load[mentor] -= 1
            mentorOf[mentee] = nil
        }
    }
    place(0)
}

func randomInstance(_ random: inout SplitMix64) -> (ScoreMatrix, [Int]) {
    let mentees = 1 + random.below(6)
    let mentors = 1 + random.below(4)
    var table: [[Int?]] = []
    for _ in 0..<mentees {
        table.append((0..<mentors).map { _ in random.below(5) == 0 ? nil : random.below(101) })
    }
    let capacities = (0..<mentors).map { _ in random.below(3) }
    return (ScoreMatrix(mentees: mentees, mentors: mentors) { table[$0][$1] }, capacities)
}

func respectsCapacitiesAndExclusions(_ assignment: Assignment, _ scores: ScoreMatrix, _ capacities: [Int]) -> Bool {
    var load = [Int](repeating: 0, count: scores.mentors)
    for (mentee, mentor) in assignment.mentorOf.enumerated() {
        guard let mentor else { continue }
        if scores[mentee, mentor] == nil { return false }
        load[mentor] += 1
    }
    return zip(load, capacities).allSatisfy { $0 <= $1 }
}

@Suite("Whole-cohort assignment")
struct AssignmentTests {
    @Test("each objective matches a brute-force optimum on 600 random small instances; capacities and exclusions hold")
    func optimalAgainstBruteForce() {
        var random = SplitMix64(seed: 20261126)
        for instance in 0..<600 {
            let (scores, capacities) = randomInstance(&random)
            var bestTotal = 0
            var bestMatched = (matched: 0, total: 0)
            var mostMatched = 0
            bruteForce(scores, capacities) { candidate in
                bestTotal = max(bestTotal, candidate.total)
                if (candidate.matched, candidate.total) > bestMatched { bestMatched = (candidate.matched, candidate.total) }
                mostMatched = max(mostMatched, candidate.matched)
            }
            var bestFair = (lowest: -1, total: -1)
            bruteForce(scores, capacities) { candidate in
                guard candidate.matched == mostMatched else { return }
                let key = (candidate.lowest ?? -1, candidate.total)
                if key > bestFair { bestFair = key }
            }
            let total = AssignmentSolver.solve(scores, capacities: capacities, objective: .maxTotal)
            let matched = AssignmentSolver.solve(scores, capacities: capacities, objective: .maxMatchedThenTotal)
            let fair = AssignmentSolver.solve(scores, capacities: capacities, objective: .fairest)
            for result in [total, matched, fair] {
                #expect(respectsCapacitiesAndExclusions(result, scores, capacities), "instance \(instance)")
            }
            #expect(total.total == bestTotal, "instance \(instance): max-total \(total.total), brute force \(bestTotal)")
            #expect((matched.matched, matched.total) == bestMatched, "instance \(instance): max-matched")
            #expect(fair.matched == mostMatched && (fair.lowest ?? -1, fair.total) == bestFair, "instance \(instance): fairest")
        }
    }

    @Test("the fast solver and the general min-cost flow agree on 200 medium instances (up to 60 mentees, 15 mentors)")
    func fastSolverAgreesWithMinCostFlow() {
        var random = SplitMix64(seed: 99)
        for instance in 0..<200 {
            let mentees = 1 + random.below(60)
            let mentors = 1 + random.below(15)
            var table: [[Int?]] = []
            for _ in 0..<mentees { table.append((0..<mentors).map { _ in random.below(6) == 0 ? nil : random.below(101) }) }
            let scores = ScoreMatrix(mentees: mentees, mentors: mentors) { table[$0][$1] }
            let capacities = (0..<mentors).map { _ in random.below(6) }
            for bonus in [0, AssignmentSolver.matchBonus(scores)] {
                let fast = Assignment(mentorOf: AssignmentSolver.cohort(scores, capacities: capacities, minimumScore: 0, bonus: bonus), scores: scores)
                let general = Assignment(mentorOf: MinCostFlowOracle.assign(scores, capacities: capacities, minimumScore: 0, bonus: bonus), scores: scores)
                #expect(respectsCapacitiesAndExclusions(fast, scores, capacities), "instance \(instance)")
                #expect((fast.matched * bonus + fast.total) == (general.matched * bonus + general.total), "instance \(instance), bonus \(bonus)")
            }
        }
    }

    @Test("stable matching has no blocking pair, respects capacities and exclusions (600 instances)")
    func stableMatching() {
        var random = SplitMix64(seed: 7)
        for instance in 0..<600 {
            let (scores, capacities) = randomInstance(&random)
            let stable = AssignmentSolver.stable(scores, capacities: capacities)
            #expect(AssignmentSolver.blockingPairs(stable, scores: scores, capacities: capacities) == 0, "instance \(instance)")
            #expect(respectsCapacitiesAndExclusions(stable, scores, capacities), "instance \(instance)")
        }
    }

    @Test("blocking pairs are counted: a mentee and a mentor who both prefer each other")
    func blockingPairsCounted() {
        // Mentee 0 likes mentor 1 best (90); mentor 1 holds mentee 1 at 10 — a blocking pair.
        let scores = ScoreMatrix(mentees: 2, mentors: 2) { mentee, mentor in [[50, 90], [40, 10]][mentee][mentor] }
        let assignment = Assignment(mentorOf: [0, 1], scores: scores)
        #expect(AssignmentSolver.blockingPairs(assignment, scores: scores, capacities: [1, 1]) == 1)
        #expect(AssignmentSolver.blockingPairs(Assignment(mentorOf: [1, 0], scores: scores), scores: scores, capacities: [1, 1]) == 0)
    }

    @Test("the objectives differ where they should")
    func objectivesDiffer() {
        // One mentor with room for one: max-total takes the 90; two mentors show fairest's trade.
        let scores = ScoreMatrix(mentees: 2, mentors: 2) { mentee, mentor in [[90, 60], [80, nil]][mentee][mentor] }
        let capacities = [1, 1]
        let total = AssignmentSolver.solve(scores, capacities: capacities, objective: .maxTotal)
        #expect(total.total == 140 && total.matched == 2)  // 60 + 80
        // Max-total may leave someone out when it pays: the only pairs are 90 and 0-scored.
        let lonely = ScoreMatrix(mentees: 2, mentors: 1) { mentee, _ in [90, 0][mentee] }
        #expect(AssignmentSolver.solve(lonely, capacities: [1], objective: .maxTotal).total == 90)
        let fair = ScoreMatrix(mentees: 2, mentors: 2) { mentee, mentor in [[100, 50], [45, 0]][mentee][mentor] }
        let fairest = AssignmentSolver.solve(fair, capacities: [1, 1], objective: .fairest)
        let best = AssignmentSolver.solve(fair, capacities: [1, 1], objective: .maxMatchedThenTotal)
        #expect(best.total == 100 && best.lowest == 0)     // 100 + 0
        #expect(fairest.total == 95 && fairest.lowest == 45) // 50 + 45
    }
}
