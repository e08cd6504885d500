import Dispatch
import Foundation

/// Scores of every mentee–mentor pair of a cohort, 0–100, or nil where a "must" criterion
/// excludes the pair.
public struct ScoreMatrix: Sendable, Equatable {
    public let mentees: Int
    public let mentors: Int
    /// Row-major, mentee by mentor; -1 marks an excluded pair.
    private var values: [Int16]

    public init(mentees: Int, mentors: Int, score: (_ mentee: Int, _ mentor: Int) -> Int?) {
        precondition(mentees >= 0 && mentors >= 0)
        self.mentees = mentees
        self.mentors = mentors
        var values = [Int16](repeating: -1, count: mentees * mentors)
        for mentee in 0..<mentees {
            for mentor in 0..<mentors {
                if let value = score(mentee, mentor) {
                    precondition((0...100).contains(value), "scores are 0–100")
                    values[mentee * mentors + mentor] = Int16(value)
                }
            }
        }
        self.values = values
    }

    /// Scores filled a row at a time (-1 for an excluded pair), rows computed in parallel on every core.
    public init(mentees: Int, mentors: Int, rows: @Sendable (_ mentee: Int, _ row: UnsafeMutableBufferPointer<Int16>) -> Void) {
        let values = [Int16](unsafeUninitializedCapacity: mentees * mentors) { buffer, count in
            buffer.initialize(repeating: -1)
            nonisolated(unsafe) let base = buffer.baseAddress
            let chunks = max(1, min(mentees, ProcessInfo.processInfo.activeProcessorCount * 4))
            DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
                for mentee in stride(from: chunk, to: mentees, by: chunks) {
                    let row = UnsafeMutableBufferPointer(start: base.map { $0 + mentee * mentors }, count: mentors)
                    rows(mentee, row)
                    precondition(row.allSatisfy { (-1...100).contains($0) }, "scores are 0–100")
                }
            }
            count = mentees * mentors
        }
        self.init(mentees: mentees, mentors: mentors, values: values)
    }

    private init(mentees: Int, mentors: Int, values: [Int16]) {
        self.mentees = mentees
        self.mentors = mentors
        self.values = values
    }

    public subscript(mentee: Int, mentor: Int) -> Int? {
        let value = values[mentee * mentors + mentor]
        return value < 0 ? nil : Int(value)
    }
}

/// What whole-cohort matching optimises.
public enum MatchingObjective: String, Sendable, CaseIterable, Codable {
    /// The largest total score (some mentees may stay unmatched if matching them costs more
    /// than it brings).
    case maxTotal = "max-total"
    /// As many mentees matched as possible; among those assignments, the largest total.
    case maxMatchedThenTotal = "max-matched"
    /// As many matched as possible; among those, the largest lowest pair score; then the
    /// largest total.
    case fairest
}

/// Mentees assigned to mentors.
public struct Assignment: Sendable, Equatable {
    /// For each mentee, its mentor, or nil.
    public var mentorOf: [Int?]
    public var total: Int
    public var matched: Int
    /// The lowest score among matched pairs (nil when nobody is matched).
    public var lowest: Int?

    init(mentorOf: [Int?], scores: ScoreMatrix) {
        self.mentorOf = mentorOf
        var total = 0
        var matched = 0
        var lowest: Int?
        for (mentee, mentor) in mentorOf.enumerated() {
            guard let mentor, let score = scores[mentee, mentor] else { continue }
            total += score
            matched += 1
            lowest = min(lowest ?? score, score)
        }
        self.total = total
        self.matched = matched
        self.lowest = lowest
    }
}

/// Exact whole-cohort assignment (`CohortSolver`: primal–dual min-cost flow on mentors with capacities),
/// stable matching (mentee-proposing deferred acceptance) and the blocking-pair check.
public enum AssignmentSolver {
    /// The optimal assignment for `objective`; no mentor gets more mentees than its capacity.
    public static func solve(_ scores: ScoreMatrix, capacities: [Int], objective: MatchingObjective) -> Assignment {
        precondition(capacities.count == scores.mentors && capacities.allSatisfy { $0 >= 0 })
        switch objective {
        case .maxTotal:
            return Assignment(mentorOf: cohort(scores, capacities: capacities, minimumScore: 0, bonus: 0), scores: scores)
        case .maxMatchedThenTotal:
            return Assignment(mentorOf: cohort(scores, capacities: capacities, minimumScore: 0, bonus: matchBonus(scores)), scores: scores)
        case .fairest:
            let bonus = matchBonus(scores)
            let most = Assignment(mentorOf: cohort(scores, capacities: capacities, minimumScore: 0, bonus: bonus), scores: scores)
            guard most.matched > 0, var low = most.lowest else { return most }
            // The largest threshold at which as many can still be matched.
            var high = 100
            var best = most
            while low < high {
                let middle = (low + high + 1) / 2
                let candidate = Assignment(mentorOf: cohort(scores, capacities: capacities, minimumScore: middle, bonus: bonus), scores: scores)
                if candidate.matched == most.matched {
                    low = middle
                    best = candidate
                } else {
                    high = middle - 1
                }
            }
            return best
        }
    }

    /// The optimal assignment with weights `score + bonus` over pairs scoring at least
    /// `minimumScore` (the tests check it against a general min-cost flow).
    static func cohort(_ scores: ScoreMatrix, capacities: [Int], minimumScore: Int, bonus: Int) -> [Int?] {
        CohortSolver(scores, capacities: capacities, minimumScore: minimumScore, bonus: bonus).solve()
    }

    /// A bonus per match larger than any total score, so that one more match always wins.
    static func matchBonus(_ scores: ScoreMatrix) -> Int {
        100 * scores.mentees + 1
    }
}

extension AssignmentSolver {
    /// Mentee–mentor pairs, both allowed, that would both rather be together than where they
    /// are: the mentee is unmatched or scores its mentor lower, and the mentor has room or
    /// scores one of its mentees lower. 0 for a stable assignment.
    public static func blockingPairs(_ assignment: Assignment, scores: ScoreMatrix, capacities: [Int]) -> Int {
        var load = [Int](repeating: 0, count: scores.mentors)
        var weakest = [Int](repeating: Int.max, count: scores.mentors)
        for (mentee, mentor) in assignment.mentorOf.enumerated() {
            guard let mentor else { continue }
            load[mentor] += 1
            weakest[mentor] = min(weakest[mentor], scores[mentee, mentor] ?? 0)
        }
        var count = 0
        for mentee in 0..<scores.mentees {
            let current = assignment.mentorOf[mentee].flatMap { scores[mentee, $0] } ?? -1
            for mentor in 0..<scores.mentors where mentor != assignment.mentorOf[mentee] {
                guard let score = scores[mentee, mentor], score > current, capacities[mentor] > 0 else { continue }
                if load[mentor] < capacities[mentor] || score > weakest[mentor] { count += 1 }
            }
        }
        return count
    }

    /// Mentee-proposing deferred acceptance with capacities (Gale–Shapley): each mentee asks
    /// mentors from its highest pair score down; a full mentor keeps its best-scoring mentees.
    /// Ties go to the lower index. The result has no blocking pair.
    public static func stable(_ scores: ScoreMatrix, capacities: [Int]) -> Assignment {
        precondition(capacities.count == scores.mentors)
        let n = scores.mentees
        let m = scores.mentors
        let preferences: [[Int]] = (0..<n).map { mentee in
            (0..<m).filter { scores[mentee, $0] != nil && capacities[$0] > 0 }
                .sorted { (scores[mentee, $0]!, -$0) > (scores[mentee, $1]!, -$1) }
        }
        var next = [Int](repeating: 0, count: n)
        var held = [[Int]](repeating: [], count: m)
        var free = Array((0..<n).reversed())
        // A mentor prefers a higher score, then a lower index.
        func better(_ a: Int, than b: Int, at mentor: Int) -> Bool {
            (scores[a, mentor]!, -a) > (scores[b, mentor]!, -b)
        }
        while let mentee = free.popLast() {
            guard next[mentee] < preferences[mentee].count else { continue }
            let mentor = preferences[mentee][next[mentee]]
            next[mentee] += 1
            if held[mentor].count < capacities[mentor] {
                held[mentor].append(mentee)
                continue
            }
            let worstIndex = held[mentor].indices.min { better(held[mentor][$1], than: held[mentor][$0], at: mentor) }!
            let worst = held[mentor][worstIndex]
            if better(mentee, than: worst, at: mentor) {
                held[mentor][worstIndex] = mentee
                free.append(worst)
            } else {
                free.append(mentee)
            }
        }
        var mentorOf = [Int?](repeating: nil, count: n)
        for (mentor, mentees) in held.enumerated() { for mentee in mentees { mentorOf[mentee] = mentor } }
        return Assignment(mentorOf: mentorOf, scores: scores)
    }
}
