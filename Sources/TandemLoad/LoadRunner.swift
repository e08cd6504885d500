public import Foundation
import Histogram
import Synchronization
import TandemProtocols
import TandemRPC
import TandemWire
import TandemRandom

/// What the service acknowledged during a run, for the invariant check afterwards.
public final class Ledger: Sendable {
    public struct Booking: Sendable, Equatable {
        public var pair: Int
        public var start: Int64
        public var end: Int64
    }

    private struct State {
        var booked: [UUID: Booking] = [:]
        /// Booked and not (yet) cancelled, for picking what to cancel.
        var live: [UUID] = []
        var liveIndex: [UUID: Int] = [:]
        var cancelled: Set<UUID> = []
    }

    private let state = Mutex(State())

    public init() {}

    func booked(_ id: UUID, _ booking: Booking) {
        state.withLock { state in
            guard state.booked[id] == nil else { return }
            state.booked[id] = booking
            state.liveIndex[id] = state.live.count
            state.live.append(id)
        }
    }

    /// Takes a live booking to cancel (it is out of the live set while the call runs).
    func takeForCancel(_ random: inout SplitMix64) -> UUID? {
        state.withLock { state in
            guard !state.live.isEmpty else { return nil }
            let index = Int(random.next() % UInt64(state.live.count))
            let id = state.live[index]
            state.live.swapAt(index, state.live.count - 1)
            state.liveIndex[state.live[index]] = index
            state.live.removeLast()
            state.liveIndex[id] = nil
            return id
        }
    }

    func cancelled(_ id: UUID) {
        _ = state.withLock { $0.cancelled.insert(id) }
    }

    /// A cancellation whose outcome is unknown: the meeting may be either; do not check it.
    func forget(_ id: UUID) {
        _ = state.withLock { $0.booked.removeValue(forKey: id) }
    }

    /// Records an acknowledged booking (for tools that book outside the runner).
    public func recordBooking(_ id: UUID, pair: Int, start: Int64, end: Int64) {
        booked(id, Booking(pair: pair, start: start, end: end))
    }

    /// Records an acknowledged cancellation.
    public func recordCancellation(_ id: UUID) {
        cancelled(id)
    }

    public var snapshot: (booked: [UUID: Booking], cancelled: Set<UUID>) {
        state.withLock { ($0.booked, $0.cancelled) }
    }
}

/// Latency and outcomes of one operation.
public struct OperationStats: Sendable, Codable {
    public var calls = 0
    public var ok = 0
    public var conflicts = 0
    public var errors = 0
    public var statusCodes: [String: Int] = [:]
    public var callsPerSecond = 0.0
    public var p50Milliseconds = 0.0
    public var p90Milliseconds = 0.0
    public var p99Milliseconds = 0.0
    public var p999Milliseconds = 0.0
    public var maxMilliseconds = 0.0
}

/// The numbers of a run.
public struct LoadReport: Sendable, Codable {
    public var mode: String
    public var concurrency: Int?
    public var targetRatePerSecond: Double?
    public var seconds = 0.0
    public var calls = 0
    public var callsPerSecond = 0.0
    public var errorRate = 0.0
    /// Bookings acknowledged per second (the durable-booking rate).
    public var bookingsPerSecond = 0.0
    public var operations: [String: OperationStats] = [:]
    public var all = OperationStats()
    public var verification: VerificationReport?
}

/// Runs the plan against the scheduling service and measures it.
public final class LoadRunner: Sendable {
    public let plan: LoadPlan
    public let target: SchedulingTarget
    public let population: Population
    public let ledger = Ledger()
    /// Makes this run's idempotency keys its own.
    let runID = UInt32.random(in: 0...UInt32.max)
    private let progress: (@Sendable (String) -> Void)?

    private final class Shared: Sendable {
        let measuring = Atomic<Bool>(false)
        let stop = Atomic<Bool>(false)
        let measuredCalls = Atomic<Int>(0)
        let issued = Atomic<Int>(0)
        let errors = Atomic<Int>(0)
        let live = Mutex(LoadRunner.latencyHistogram())
        let recorders = Mutex<[Recorder]>([])
    }

    /// Per-task statistics, merged at the end.
    struct Recorder: Sendable {
        var histograms: [LoadOperation: Histogram<UInt64>] = [:]
        var stats: [LoadOperation: OperationStats] = [:]

        mutating func record(_ operation: LoadOperation, _ outcome: CallOutcome, microseconds: UInt64) {
            _ = histograms[operation, default: LoadRunner.latencyHistogram()].record(microseconds)
            var stats = self.stats[operation, default: OperationStats()]
            stats.calls += 1
            switch outcome {
            case .ok:
                stats.ok += 1
                stats.statusCodes["OK", default: 0] += 1
            case .conflict:
                stats.conflicts += 1
                stats.statusCodes["FAILED_PRECONDITION", default: 0] += 1
            case .failed(let code):
                stats.errors += 1
                stats.statusCodes[code.name, default: 0] += 1
            }
            self.stats[operation] = stats
        }
    }

    public init(plan: LoadPlan, target: SchedulingTarget, progress: (@Sendable (String) -> Void)? = nil) {
        self.plan = plan
        self.target = target
        self.population = Population(people: plan.people, pairs: plan.pairs, seed: plan.seed)
        self.progress = progress
    }

    /// Creates the population through the service's own API (availability, pairs).
    public func setUp(concurrency: Int = 64) async throws {
        let people = population.people
        let pairs = population.pairs
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.add()
                        if index < people.count {
                            try await self.target.setAvailability(people[index].availability)
                        } else if index < people.count + pairs.count {
                            try await self.target.registerPair(pairs[index - people.count])
                        } else {
                            return
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Runs the load; returns the report (without verification).
    public func run() async throws -> LoadReport {
        let shared = Shared()
        let weights = LoadOperation.allCases.map { plan.mix[$0] ?? 0 }
        let total = UInt64(weights.reduce(0, +))
        let executors = try await executors()
        let started = ContinuousClock.now
        var measuredFrom = started
        var measuredTo = started

        let monitor = Task {
            var last = 0
            var tick = 0
            while !shared.stop.load(ordering: .relaxed) {
                try? await Task.sleep(for: .seconds(1))
                tick += 1
                // Calls/s over every finished call (warm-up included); the rest over measured ones.
                let finished = shared.issued.load(ordering: .relaxed)
                let calls = shared.measuredCalls.load(ordering: .relaxed)
                let p99 = Double(shared.live.withLock { $0.valueAtPercentile(99) }) / 1000
                let phase = shared.measuring.load(ordering: .relaxed) ? "" : shared.stop.load(ordering: .relaxed) ? " (finishing)" : " (warm-up)"
                progress?("\(tick) s\(phase): \(finished - last) calls/s, p99 so far \(String(format: "%.2f", p99)) ms, errors \(shared.errors.load(ordering: .relaxed)), measured \(calls)")
                last = finished
            }
        }
        defer { monitor.cancel() }

        // Worker: one call of a weighted-random operation.
        @Sendable func perform(_ random: inout SplitMix64) async -> (LoadOperation, CallOutcome) {
            var pick = random.next() % total
            var operation = LoadOperation.book
            for (index, weight) in weights.enumerated() {
                if pick < UInt64(weight) { operation = LoadOperation.allCases[index]; break }
                pick -= UInt64(weight)
            }
            switch operation {
            case .book: return (.book, await book(&random))
            case .find: return (.find, await find(&random))
            case .cancel:
                guard let id = ledger.takeForCancel(&random) else { return (.book, await book(&random)) }
                return (.cancel, await cancel(id))
            }
        }

        @Sendable func measuring() -> Bool { shared.measuring.load(ordering: .relaxed) }
        @Sendable func finishRecorder(_ recorder: Recorder) {
            shared.recorders.withLock { $0.append(recorder) }
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            switch plan.pace {
            case .closed(let concurrency):
                for worker in 0..<concurrency {
                    group.addTask(executorPreference: executors[worker % executors.count]) {
                        var random = SplitMix64(seed: (self.plan.operationsSeed ?? self.plan.seed) &+ UInt64(worker) &* 7919 &+ 17)
                        var recorder = Recorder()
                        while !shared.stop.load(ordering: .relaxed) {
                            let began = ContinuousClock.now
                            let (operation, outcome) = await perform(&random)
                            shared.issued.wrappingAdd(1, ordering: .relaxed)
                            guard measuring() else { continue }
                            let micros = Self.microseconds(ContinuousClock.now - began)
                            recorder.record(operation, outcome, microseconds: micros)
                            // Straight into the shared live histogram: an uncontended lock costs less
                            // than merging a worker's own histogram (and clearing its ~200 KB of
                            // counts) every few calls.
                            _ = shared.live.withLock { $0.record(micros) }
                            if case .failed = outcome { shared.errors.wrappingAdd(1, ordering: .relaxed) }
                            let count = shared.measuredCalls.wrappingAdd(1, ordering: .relaxed).newValue
                            if let requests = self.plan.requests, count >= requests { shared.stop.store(true, ordering: .relaxed) }
                        }
                        finishRecorder(recorder)
                    }
                }
            case .open(let rate):
                group.addTask {
                    let inFlight = Counter()
                    // One recorder per executor, shared by that executor's calls: a recorder per
                    // call kept a histogram (~150 KB of counts) for every call until the report,
                    // which took tandem-load past 9 GB resident in 20 s at 3,000 calls/s.
                    let slotRecorders = executors.map { _ in Locked(Recorder()) }
                    let begin = ContinuousClock.now
                    let interval = Duration.nanoseconds(Int64(1e9 / rate))
                    var index: Int64 = 0
                    await withDiscardingTaskGroup { calls in
                        while !shared.stop.load(ordering: .relaxed) {
                            let intended = begin + interval * Int(index)
                            let now = ContinuousClock.now
                            if intended > now { try? await Task.sleep(until: intended, clock: .continuous) }
                            if inFlight.current >= self.plan.maxInFlight {
                                // Saturated: this start waits; its latency keeps counting from `intended`.
                                while inFlight.current >= self.plan.maxInFlight && !shared.stop.load(ordering: .relaxed) {
                                    try? await Task.sleep(for: .milliseconds(1))
                                }
                            }
                            let seed = (self.plan.operationsSeed ?? self.plan.seed) &+ UInt64(index) &* 0x9E37
                            let slot = Int(index % Int64(executors.count))
                            inFlight.add()
                            calls.addTask(executorPreference: executors[slot]) {
                                var random = SplitMix64(seed: seed)
                                let (operation, outcome) = await perform(&random)
                                inFlight.add(-1)
                                shared.issued.wrappingAdd(1, ordering: .relaxed)
                                guard measuring() else { return }
                                let micros = Self.microseconds(ContinuousClock.now - intended)
                                slotRecorders[slot].withLock { $0.record(operation, outcome, microseconds: micros) }
                                _ = shared.live.withLock { $0.record(micros) }
                                if case .failed = outcome { shared.errors.wrappingAdd(1, ordering: .relaxed) }
                                let count = shared.measuredCalls.wrappingAdd(1, ordering: .relaxed).newValue
                                if let requests = self.plan.requests, count >= requests { shared.stop.store(true, ordering: .relaxed) }
                            }
                            index += 1
                        }
                    }
                    for recorder in slotRecorders { finishRecorder(recorder.withLock { $0 }) }
                }
            }
            try await Task.sleep(for: .milliseconds(Int64(plan.warmup * 1000)))
            shared.live.withLock { $0.reset() }
            measuredFrom = ContinuousClock.now
            shared.measuring.store(true, ordering: .relaxed)
            if let duration = plan.duration {
                let deadline = ContinuousClock.now + .milliseconds(Int64(duration * 1000))
                while ContinuousClock.now < deadline && !shared.stop.load(ordering: .relaxed) {
                    try await Task.sleep(for: .milliseconds(50))
                }
                shared.stop.store(true, ordering: .relaxed)
            } else {
                while !shared.stop.load(ordering: .relaxed) { try await Task.sleep(for: .milliseconds(20)) }
            }
            measuredTo = ContinuousClock.now
            shared.measuring.store(false, ordering: .relaxed)
            try await group.waitForAll()
        }
        let seconds = Self.seconds(measuredTo - measuredFrom)
        return Self.report(shared.recorders.withLock { $0 }, pace: plan.pace, seconds: seconds)
    }

    // MARK: Operations

    /// A booking for a random pair at a random half-hour in the horizon, retried with the same
    /// idempotency key while the service is unreachable (so an unknown outcome becomes a known one).
    private func book(_ random: inout SplitMix64) async -> CallOutcome {
        let pairIndex = Int(random.next() % UInt64(population.pairs.count))
        let pair = population.pairs[pairIndex]
        let slots = UInt64(plan.horizonDays * 48)
        let start = plan.horizonStart.addingTimeInterval(TimeInterval(random.next() % slots) * 1800)
        let request = BookMeetingRequest(matchID: pair.matchID, start: start, durationMinutes: plan.meetingMinutes, timeZone: "UTC")
        // The run's own prefix: a later run with the same seed (e.g. --skip-setup) draws the same
        // numbers, and must not get this run's meetings back for its keys.
        let key = "load-\(runID)-\(random.next())-\(random.next())"
        var attempt = 0
        while true {
            let (outcome, meeting) = await target.book(request, key: key)
            if let meeting {
                ledger.booked(meeting.id, .init(pair: pairIndex, start: Int64(meeting.start.timeIntervalSince1970), end: Int64(meeting.end.timeIntervalSince1970)))
            }
            if case .failed(let code) = outcome, code == .unavailable || code == .deadlineExceeded || code == .unknown, attempt < 600 {
                attempt += 1
                try? await Task.sleep(for: .milliseconds(100))
                continue
            }
            return outcome
        }
    }

    private func find(_ random: inout SplitMix64) async -> CallOutcome {
        let pair = population.pairs[Int(random.next() % UInt64(population.pairs.count))]
        let from = plan.horizonStart.addingTimeInterval(TimeInterval(random.next() % UInt64(max(1, plan.horizonDays - 14))) * 86_400)
        return await target.find(FindSlotsRequest(matchID: pair.matchID, durationMinutes: plan.meetingMinutes, from: from, to: from.addingTimeInterval(14 * 86_400)))
    }

    private func cancel(_ id: UUID) async -> CallOutcome {
        var attempt = 0
        while true {
            let outcome = await target.cancel(id)
            switch outcome {
            case .ok:
                ledger.cancelled(id)
                return outcome
            case .failed(let code) where (code == .unavailable || code == .deadlineExceeded || code == .unknown) && attempt < 600:
                // Cancelling is idempotent: retry until the answer is known.
                attempt += 1
                try? await Task.sleep(for: .milliseconds(100))
            default:
                ledger.forget(id)
                return outcome
            }
        }
    }

    // MARK: Helpers

    private func executors() async throws -> [any TaskExecutor] {
        var executors: [any TaskExecutor] = []
        for _ in 0..<max(1, target.client.configuration.connectionsPerEndpoint) {
            executors.append(try await target.client.preferredTaskExecutor())
        }
        return executors
    }

    /// Latencies in microseconds, three significant digits. Sized for two minutes up front (no
    /// resizing in any ordinary run) and grown past that: in open-loop mode a call's latency counts
    /// from its intended start, so a run that falls far behind records latencies of minutes, and
    /// each one must count in the percentiles instead of being dropped.
    static func latencyHistogram() -> Histogram<UInt64> {
        var histogram = Histogram<UInt64>(highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: .three)
        histogram.autoResize = true
        return histogram
    }

    static func microseconds(_ duration: Duration) -> UInt64 {
        let (seconds, attoseconds) = duration.components
        return UInt64(max(0, seconds * 1_000_000 + attoseconds / 1_000_000_000_000))
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func report(_ recorders: [Recorder], pace: LoadPlan.Pace, seconds: Double) -> LoadReport {
        var report = LoadReport(mode: "closed")
        switch pace {
        case .closed(let concurrency):
            report.concurrency = concurrency
        case .open(let rate):
            report.mode = "open"
            report.targetRatePerSecond = rate
        }
        report.seconds = seconds
        var allHistogram = Self.latencyHistogram()
        for operation in LoadOperation.allCases {
            var histogram = Self.latencyHistogram()
            var stats = OperationStats()
            for recorder in recorders {
                if let part = recorder.histograms[operation] { histogram.add(part) }
                if let part = recorder.stats[operation] {
                    stats.calls += part.calls
                    stats.ok += part.ok
                    stats.conflicts += part.conflicts
                    stats.errors += part.errors
                    stats.statusCodes.merge(part.statusCodes, uniquingKeysWith: +)
                }
            }
            guard stats.calls > 0 else { continue }
            Self.fill(&stats, histogram, seconds: seconds)
            report.operations[operation.rawValue] = stats
            allHistogram.add(histogram)
            report.all.calls += stats.calls
            report.all.ok += stats.ok
            report.all.conflicts += stats.conflicts
            report.all.errors += stats.errors
            report.all.statusCodes.merge(stats.statusCodes, uniquingKeysWith: +)
        }
        Self.fill(&report.all, allHistogram, seconds: seconds)
        report.calls = report.all.calls
        report.callsPerSecond = report.all.callsPerSecond
        report.errorRate = report.calls == 0 ? 0 : Double(report.all.errors) / Double(report.calls)
        report.bookingsPerSecond = Double(report.operations["book"]?.ok ?? 0) / max(seconds, 0.001)
        return report
    }

    private static func fill(_ stats: inout OperationStats, _ histogram: Histogram<UInt64>, seconds: Double) {
        stats.callsPerSecond = Double(stats.calls) / max(seconds, 0.001)
        stats.p50Milliseconds = Double(histogram.valueAtPercentile(50)) / 1000
        stats.p90Milliseconds = Double(histogram.valueAtPercentile(90)) / 1000
        stats.p99Milliseconds = Double(histogram.valueAtPercentile(99)) / 1000
        stats.p999Milliseconds = Double(histogram.valueAtPercentile(99.9)) / 1000
        stats.maxMilliseconds = Double(histogram.max) / 1000
    }
}
