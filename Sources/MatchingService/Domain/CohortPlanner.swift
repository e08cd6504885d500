/// Whole-cohort matching for a program: scores every pair, solves the chosen objective exactly
/// (or by deferred acceptance for `stable`), closes groups below their minimum size, and says
/// why each unmatched person is unmatched.
public struct CohortPlan: Sendable {
    public enum Objective: String, Sendable, CaseIterable {
        case maxTotal = "max-total"
        case maxMatched = "max-matched"
        case fairest
        case stable
    }

    public struct Pair: Sendable, Hashable {
        public var mentee: Int
        public var mentor: Int
        public var score: Int
    }

    public var pairs: [Pair]
    public var total: Int
    public var lowest: Int?
    public var blockingPairs: Int
    /// Mentee index → why it is unmatched.
    public var unmatchedMentees: [(index: Int, reason: String)]
    /// Mentors with room left without anyone, and why (only when their group was closed).
    public var closedGroups: [(index: Int, reason: String)]

    /// Groups: `groupSize` bounds mentees per mentor (each mentor leads one group); a group that
    /// would be smaller than its minimum is closed and the cohort solved again without it, until
    /// every group is big enough. `groupMembers` are the mentees each mentor's group already has
    /// (from an earlier run): they count towards the minimum; `capacities` are the places left.
    public init(
        scorer: CohortScorer, capacities: [Int], objective: Objective, minimumScore: Int = 0, groupSize: ClosedRange<Int>? = nil, groupMembers: [Int]? = nil
    ) {
        precondition(capacities.count == scorer.mentorCount)
        let members = groupMembers ?? [Int](repeating: 0, count: capacities.count)
        precondition(members.count == capacities.count)
        let scores = scorer.matrix(minimumScore: minimumScore)
        var capacities = capacities.map { max(0, $0) }
        if let groupSize { capacities = capacities.indices.map { min(capacities[$0], max(0, groupSize.upperBound - members[$0])) } }
        var closed: [(Int, String)] = []
        var assignment: Assignment
        while true {
            assignment = Self.solve(scores, capacities: capacities, objective: objective)
            guard let groupSize else { break }
            var load = [Int](repeating: 0, count: scores.mentors)
            for mentor in assignment.mentorOf.compactMap({ $0 }) { load[mentor] += 1 }
            let small = load.indices.filter { load[$0] > 0 && members[$0] + load[$0] < groupSize.lowerBound }
            guard !small.isEmpty else { break }
            for mentor in small {
                capacities[mentor] = 0
                closed.append((mentor, "a group of \(members[mentor] + load[mentor]) is below the minimum of \(groupSize.lowerBound)"))
            }
        }
        pairs = assignment.mentorOf.enumerated().compactMap { mentee, mentor in
            mentor.flatMap { mentor in scores[mentee, mentor].map { Pair(mentee: mentee, mentor: mentor, score: $0) } }
        }
        total = assignment.total
        lowest = assignment.lowest
        blockingPairs = AssignmentSolver.blockingPairs(assignment, scores: scores, capacities: capacities)
        closedGroups = closed
        unmatchedMentees = assignment.mentorOf.indices.filter { assignment.mentorOf[$0] == nil }.map { mentee in
            let possible = (0..<scores.mentors).filter { scores[mentee, $0] != nil }
            if possible.isEmpty {
                return (mentee, minimumScore > 0
                    ? "no mentor passes the must criteria and exclusions with a score of at least \(minimumScore)"
                    : "no mentor passes the must criteria and exclusions")
            }
            if possible.allSatisfy({ capacities[$0] == 0 }) {
                return (mentee, "each of the \(possible.count) mentor\(possible.count == 1 ? "" : "s") it could have is full")
            }
            return (mentee, "the places of the \(possible.count) mentor\(possible.count == 1 ? "" : "s") it could have went to mentees they suit better")
        }
    }

    static func solve(_ scores: ScoreMatrix, capacities: [Int], objective: Objective) -> Assignment {
        switch objective {
        case .maxTotal: AssignmentSolver.solve(scores, capacities: capacities, objective: .maxTotal)
        case .maxMatched: AssignmentSolver.solve(scores, capacities: capacities, objective: .maxMatchedThenTotal)
        case .fairest: AssignmentSolver.solve(scores, capacities: capacities, objective: .fairest)
        case .stable: AssignmentSolver.stable(scores, capacities: capacities)
        }
    }
}
