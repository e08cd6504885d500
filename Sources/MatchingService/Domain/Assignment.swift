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

/// Exact whole-cohort assignment (min-cost flow by successive shortest paths with potentials),
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
    /// `minimumScore` (the fast solver; `flow` is the general one, kept to check it).
    static func cohort(_ scores: ScoreMatrix, capacities: [Int], minimumScore: Int, bonus: Int) -> [Int?] {
        CohortSolver(scores, capacities: capacities, minimumScore: minimumScore, bonus: bonus).solve()
    }

    /// A bonus per match larger than any total score, so that one more match always wins.
    static func matchBonus(_ scores: ScoreMatrix) -> Int {
        100 * scores.mentees + 1
    }

    /// Maximum weight assignment with weights `score + bonus` over pairs scoring at least
    /// `minimumScore`: min-cost flow (costs −weight) by successive shortest paths, Dijkstra on
    /// reduced costs with potentials, stopping when the next path would not add weight.
    static func flow(_ scores: ScoreMatrix, capacities: [Int], minimumScore: Int, bonus: Int) -> [Int?] {
        let n = scores.mentees
        let m = scores.mentors
        var graph = FlowGraph(nodes: n + m + 2)
        let source = n + m
        let sink = n + m + 1
        for mentee in 0..<n { graph.add(from: source, to: mentee, capacity: 1, cost: 0) }
        var pairEdges: [(mentee: Int, mentor: Int, edge: Int)] = []
        for mentee in 0..<n {
            for mentor in 0..<m {
                guard let score = scores[mentee, mentor], score >= minimumScore else { continue }
                pairEdges.append((mentee, mentor, graph.add(from: mentee, to: n + mentor, capacity: 1, cost: -(score + bonus))))
            }
        }
        for mentor in 0..<m where capacities[mentor] > 0 { graph.add(from: n + mentor, to: sink, capacity: capacities[mentor], cost: 0) }
        graph.minimumCostFlow(from: source, to: sink, stopWhenCostIsNotNegative: true)
        var mentorOf = [Int?](repeating: nil, count: n)
        for pair in pairEdges where graph.edges[pair.edge].capacity == 0 { mentorOf[pair.mentee] = pair.mentor }
        return mentorOf
    }
}

/// A flow network with integer capacities and costs.
struct FlowGraph {
    struct Edge {
        var to: Int
        var capacity: Int
        var cost: Int
    }

    /// Edges in pairs: edge `e` and its residual twin `e ^ 1`.
    var edges: [Edge] = []
    var outgoing: [[Int]]

    init(nodes: Int) {
        outgoing = Array(repeating: [], count: nodes)
    }

    @discardableResult
    mutating func add(from: Int, to: Int, capacity: Int, cost: Int) -> Int {
        let index = edges.count
        edges.append(Edge(to: to, capacity: capacity, cost: cost))
        edges.append(Edge(to: from, capacity: 0, cost: -cost))
        outgoing[from].append(index)
        outgoing[to].append(index + 1)
        return index
    }

    /// Sends flow one shortest path at a time; with `stopWhenCostIsNotNegative`, stops as soon
    /// as the cheapest path would not lower the total cost (the minimum-cost flow of any size).
    mutating func minimumCostFlow(from source: Int, to sink: Int, stopWhenCostIsNotNegative: Bool) {
        let count = outgoing.count
        let infinity = Int.max / 4
        // Initial potentials: shortest distances by Bellman–Ford (costs may be negative; the
        // network has no cycle yet).
        var potential = [Int](repeating: infinity, count: count)
        potential[source] = 0
        var changed = true
        var rounds = 0
        while changed && rounds < count {
            changed = false
            rounds += 1
            for node in 0..<count where potential[node] < infinity {
                for index in outgoing[node] where edges[index].capacity > 0 {
                    let edge = edges[index]
                    if potential[node] + edge.cost < potential[edge.to] {
                        potential[edge.to] = potential[node] + edge.cost
                        changed = true
                    }
                }
            }
        }
        for node in 0..<count where potential[node] == infinity { potential[node] = 0 }

        var distance = [Int](repeating: infinity, count: count)
        var via = [Int](repeating: -1, count: count)
        var heap = MinHeap()
        while true {
            for node in 0..<count {
                distance[node] = infinity
                via[node] = -1
            }
            distance[source] = 0
            heap.push(0, source)
            while let (d, node) = heap.pop() {
                guard d == distance[node] else { continue }
                for index in outgoing[node] where edges[index].capacity > 0 {
                    let edge = edges[index]
                    let reduced = edge.cost + potential[node] - potential[edge.to]
                    let candidate = d + reduced
                    if candidate < distance[edge.to] {
                        distance[edge.to] = candidate
                        via[edge.to] = index
                        heap.push(candidate, edge.to)
                    }
                }
            }
            guard distance[sink] < infinity else { return }
            let pathCost = distance[sink] + potential[sink] - potential[source]
            if stopWhenCostIsNotNegative && pathCost >= 0 { return }
            for node in 0..<count { potential[node] += min(distance[node], distance[sink]) }
            // The path's bottleneck, then push it.
            var bottleneck = infinity
            var node = sink
            while node != source {
                let index = via[node]
                bottleneck = min(bottleneck, edges[index].capacity)
                node = edges[index ^ 1].to
            }
            node = sink
            while node != source {
                let index = via[node]
                edges[index].capacity -= bottleneck
                edges[index ^ 1].capacity += bottleneck
                node = edges[index ^ 1].to
            }
        }
    }
}

/// A binary min-heap of (key, value).
struct MinHeap {
    private var items: [(Int, Int)] = []

    mutating func push(_ key: Int, _ value: Int) {
        items.append((key, value))
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].0 < items[parent].0 else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> (Int, Int)? {
        guard !items.isEmpty else { return nil }
        let top = items[0]
        let last = items.removeLast()
        if !items.isEmpty {
            items[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1
                let right = left + 1
                var smallest = parent
                if left < items.count && items[left].0 < items[smallest].0 { smallest = left }
                if right < items.count && items[right].0 < items[smallest].0 { smallest = right }
                if smallest == parent { break }
                items.swapAt(parent, smallest)
                parent = smallest
            }
        }
        return top
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
