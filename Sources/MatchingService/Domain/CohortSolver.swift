/// The fast exact solver for whole-cohort assignment: the Hungarian method row by row (one
/// mentee at a time, shortest augmenting path by Dijkstra on reduced costs), on the compact
/// graph — each mentor is one node with a capacity, not a column per seat — with a private
/// "stay unmatched" option per mentee at weight 0.
///
/// Each step keeps the assignment of the mentees seen so far optimal, so the last step leaves
/// the whole cohort optimal. A step costs O(visited mentors × capacity × mentors); most steps
/// end at the first mentor with a free seat.
struct CohortSolver {
    let mentees: Int
    let mentors: Int
    /// weight[mentee * mentors + mentor], or `excluded`.
    let weight: [Int]
    let capacities: [Int]
    static let excluded = Int.min

    init(_ scores: ScoreMatrix, capacities: [Int], minimumScore: Int, bonus: Int) {
        mentees = scores.mentees
        mentors = scores.mentors
        var weight = [Int](repeating: Self.excluded, count: mentees * mentors)
        for mentee in 0..<mentees {
            for mentor in 0..<mentors {
                if let score = scores[mentee, mentor], score >= minimumScore, capacities[mentor] > 0 {
                    weight[mentee * mentors + mentor] = score + bonus
                }
            }
        }
        self.weight = weight
        self.capacities = capacities
    }

    func solve() -> [Int?] {
        let n = mentees
        guard n > 0 else { return [] }
        var state = State(solver: self)
        while state.phase() {}
        return state.mentorOf.map { $0 >= 0 ? $0 : nil }
    }

    /// Primal–dual min-cost flow: each phase runs one Dijkstra from every mentee still
    /// without a place (to a mentor's free seat, or its own "unmatched" option), moves the
    /// potentials so that the shortest paths have zero reduced cost, then sends as many
    /// mentees as it can along zero-cost paths (depth-first, each node once per phase). Costs
    /// are −weight; reduced costs: source→mentee σ − p, mentee→mentor −w + p − q,
    /// mentor→seated mentee w + q − p (always 0), mentee→option p − r, option→sink r − τ,
    /// mentor with a free seat→sink q − τ.
    struct State {
        let solver: CohortSolver
        let n: Int
        let m: Int
        /// -1: no place yet; -2: on its "unmatched" option; else its mentor.
        var mentorOf: [Int]
        var seatStart: [Int]
        var seats: [Int]
        var load: [Int]
        var p: [Int]
        var q: [Int]
        var r: [Int]
        var sourcePotential = 0
        var sinkPotential: Int
        var waiting: Int
        // Per phase.
        var mentorDistance: [Int]
        var menteeDistance: [Int]
        var mentorSettled: [Bool]
        var reached: [Int] = []
        var settled: [Int] = []
        var menteeVisited: [Int]   // phase number when last expanded in the augmenting search
        var mentorVisited: [Int]
        var phaseNumber = 0
        static let infinity = Int.max / 4

        init(solver: CohortSolver) {
            self.solver = solver
            n = solver.mentees
            m = solver.mentors
            mentorOf = Array(repeating: -1, count: n)
            seatStart = Array(repeating: 0, count: m + 1)
            for j in 0..<m { seatStart[j + 1] = seatStart[j] + solver.capacities[j] }
            seats = Array(repeating: -1, count: seatStart[m])
            load = Array(repeating: 0, count: m)
            let largest = solver.weight.lazy.filter { $0 != CohortSolver.excluded }.max() ?? 0
            p = Array(repeating: 0, count: n)
            q = Array(repeating: -largest, count: m)
            r = Array(repeating: 0, count: n)
            sinkPotential = -largest
            waiting = n
            mentorDistance = Array(repeating: Self.infinity, count: m)
            menteeDistance = Array(repeating: Self.infinity, count: n)
            mentorSettled = Array(repeating: false, count: m)
            menteeVisited = Array(repeating: -1, count: n)
            mentorVisited = Array(repeating: -1, count: m)
        }

        /// One phase; false when every mentee has a place.
        mutating func phase() -> Bool {
            guard waiting > 0 else { return false }
            phaseNumber += 1
            let end = shortestPaths()
            updatePotentials(end)
            var sent = 0
            for mentee in 0..<n where mentorOf[mentee] == -1 && sourcePotential - p[mentee] == 0 {
                if augment(from: mentee) { sent += 1 }
            }
            waiting -= sent
            precondition(sent > 0, "a phase sends at least one mentee")
            return waiting > 0
        }

        /// Dijkstra from the source; returns the sink's distance. Distances of nodes not
        /// reached are left at infinity.
        mutating func shortestPaths() -> Int {
            let infinity = Self.infinity
            for j in 0..<m {
                mentorDistance[j] = infinity
                mentorSettled[j] = false
            }
            for index in reached { menteeDistance[index] = infinity }
            reached.removeAll(keepingCapacity: true)
            settled.removeAll(keepingCapacity: true)
            var sinkDistance = infinity
            let weights = solver.weight
            func reach(_ state: inout State, _ mentee: Int, _ distance: Int) {
                state.menteeDistance[mentee] = distance
                state.reached.append(mentee)
                let viaOption = distance + state.p[mentee] - state.sinkPotential
                if viaOption < sinkDistance { sinkDistance = viaOption }
                let base = distance + state.p[mentee]
                let m = state.m
                weights.withUnsafeBufferPointer { weights in
                    state.q.withUnsafeBufferPointer { q in
                        state.mentorSettled.withUnsafeBufferPointer { settled in
                            state.mentorDistance.withUnsafeMutableBufferPointer { distances in
                                let row = weights.baseAddress! + mentee * m
                                for j in 0..<m where !settled[j] {
                                    let w = row[j]
                                    if w == CohortSolver.excluded { continue }
                                    let candidate = base - w - q[j]
                                    if candidate < distances[j] { distances[j] = candidate }
                                }
                            }
                        }
                    }
                }
            }
            for mentee in 0..<n where mentorOf[mentee] == -1 { reach(&self, mentee, sourcePotential - p[mentee]) }
            while true {
                var closest = -1
                var closestDistance = infinity
                mentorDistance.withUnsafeBufferPointer { distances in
                    mentorSettled.withUnsafeBufferPointer { settled in
                        for j in 0..<distances.count where distances[j] < closestDistance && !settled[j] {
                            closestDistance = distances[j]
                            closest = j
                        }
                    }
                }
                if closest < 0 || sinkDistance <= closestDistance { break }
                mentorSettled[closest] = true
                settled.append(closest)
                if load[closest] < solver.capacities[closest] {
                    sinkDistance = min(sinkDistance, closestDistance + q[closest] - sinkPotential)
                }
                for seat in seatStart[closest]..<(seatStart[closest] + load[closest]) {
                    reach(&self, seats[seat], closestDistance)
                }
            }
            return sinkDistance
        }

        /// Johnson's update: every node's potential drops by what its distance falls short of
        /// the sink's, so reduced costs stay non-negative and the shortest paths' become 0.
        mutating func updatePotentials(_ end: Int) {
            sourcePotential -= end
            for mentee in reached {
                let distance = menteeDistance[mentee]
                let option = distance + p[mentee] - r[mentee]
                if end > distance { p[mentee] -= end - distance }
                if end > option { r[mentee] -= end - option }
            }
            for j in settled where end > mentorDistance[j] { q[j] -= end - mentorDistance[j] }
        }

        /// Sends `mentee` to the sink along zero-reduced-cost edges, moving seated mentees on
        /// as needed; each node is expanded at most once per phase.
        mutating func augment(from mentee: Int) -> Bool {
            guard menteeVisited[mentee] != phaseNumber else { return false }
            menteeVisited[mentee] = phaseNumber
            // Its "unmatched" option, if tight all the way.
            if p[mentee] - r[mentee] == 0 && r[mentee] - sinkPotential == 0 {
                place(mentee, at: -2)
                return true
            }
            let current = mentorOf[mentee]
            var j = -1
            let menteePotential = p[mentee]
            while true {
                // The next mentor on a tight edge (w = p − q), not yet expanded this phase.
                j = nextTightMentor(after: j, mentee: mentee, potential: menteePotential, skipping: current)
                if j < 0 { break }
                mentorVisited[j] = phaseNumber
                if load[j] < solver.capacities[j] && q[j] - sinkPotential == 0 {
                    place(mentee, at: j)
                    return true
                }
                for seat in seatStart[j]..<(seatStart[j] + load[j]) {
                    let other = seats[seat]
                    if augment(from: other) {
                        // `other` moved on: take its seat.
                        place(mentee, at: j)
                        return true
                    }
                }
            }
            return false
        }

        /// The first mentor after `start` joined to `mentee` by a tight edge and not visited
        /// in this phase, or -1.
        func nextTightMentor(after start: Int, mentee: Int, potential: Int, skipping current: Int) -> Int {
            let m = self.m
            let phase = phaseNumber
            return solver.weight.withUnsafeBufferPointer { weight in
                q.withUnsafeBufferPointer { q in
                    mentorVisited.withUnsafeBufferPointer { visited in
                        let row = weight.baseAddress! + mentee * m
                        var j = start + 1
                        while j < m {
                            let w = row[j]
                            if w != CohortSolver.excluded && potential - w == q[j] && visited[j] != phase && j != current { return j }
                            j += 1
                        }
                        return -1
                    }
                }
            }
        }

        /// Moves `mentee` to mentor `j` (or -2: its option), leaving its current place.
        mutating func place(_ mentee: Int, at j: Int) {
            let current = mentorOf[mentee]
            if current >= 0 {
                let first = seatStart[current]
                let last = first + load[current] - 1
                for seat in first...last where seats[seat] == mentee {
                    seats[seat] = seats[last]
                    break
                }
                load[current] -= 1
            }
            mentorOf[mentee] = j
            if j >= 0 {
                seats[seatStart[j] + load[j]] = mentee
                load[j] += 1
            }
        }
    }
}
