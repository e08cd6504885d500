@testable import MatchingService

/// A general min-cost flow, the oracle the fast cohort solver is checked against.
enum MinCostFlowOracle {
    /// Maximum weight assignment with weights `score + bonus` over pairs scoring at least
    /// `minimumScore`: min-cost flow (costs −weight) by successive shortest paths, Dijkstra on
    /// reduced costs with potentials, stopping when the next path would not add weight.
    static func assign(_ scores: ScoreMatrix, capacities: [Int], minimumScore: Int, bonus: Int) -> [Int?] {
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

