import Foundation
@testable import TandemLoad
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

@Suite("tandem-load against a real scheduling service")
struct LoadToolTests {
    @Test("a short mixed run books, finds and cancels; the invariant check passes; the report adds up")
    func mixedRun() async throws {
        try await withCluster { cluster in
            var plan = LoadPlan(horizonStart: monday(days: 7, hours: 0))
            plan.pace = .closed(concurrency: 8)
            plan.mix = try LoadPlan.parseMix("book=60,find=20,cancel=20")
            plan.duration = 1.5
            plan.warmup = 0.3
            plan.people = 40
            plan.pairs = 20
            plan.horizonDays = 3
            let runner = LoadRunner(plan: plan, target: SchedulingTarget(client: cluster.scheduling, tokens: TokenSource(token: cluster.admin.accessToken)))
            try await runner.setUp(concurrency: 8)
            let report = try await runner.run()
            #expect(report.calls > 0 && report.operations["book"]?.ok ?? 0 > 0 && report.operations["find"]?.ok ?? 0 > 0)
            #expect(report.errorRate == 0, "\(report.all.statusCodes)")
            let total = report.operations.values.reduce(0) { $0 + $1.calls }
            #expect(total == report.calls && report.all.ok + report.all.conflicts + report.all.errors == report.calls)
            // Three days of half hours for 20 pairs of distinct people fill up: conflicts happen.
            let verification = try await Verifier.verify(population: runner.population, ledger: runner.ledger, target: runner.target)
            #expect(verification.passed, "\(verification)")
            #expect(verification.acknowledgedBookings > 0 && verification.meetingsRead >= verification.acknowledgedBookings)
        }
    }

    @Test("a second run over the same population with the same seed passes its own invariant check")
    func secondRunOverTheSamePopulation() async throws {
        try await withCluster { cluster in
            var plan = LoadPlan(horizonStart: monday(days: 7, hours: 0))
            plan.pace = .closed(concurrency: 4)
            plan.mix = try LoadPlan.parseMix("book=70,cancel=30")
            plan.requests = 150
            plan.warmup = 0
            plan.people = 20
            plan.pairs = 10
            plan.horizonDays = 14
            let target = SchedulingTarget(client: cluster.scheduling, tokens: TokenSource(token: cluster.admin.accessToken))
            let first = LoadRunner(plan: plan, target: target)
            try await first.setUp(concurrency: 4)
            _ = try await first.run()
            #expect(try await Verifier.verify(population: first.population, ledger: first.ledger, target: target).passed)
            // Same seed, same draws (its bookings mostly conflict with the first run's): its
            // idempotency keys are still its own, so it gets no meeting of the first run back.
            let second = LoadRunner(plan: plan, target: target)
            let report = try await second.run()
            #expect(report.calls > 0 && report.errorRate == 0)
            let verification = try await Verifier.verify(population: second.population, ledger: second.ledger, target: target)
            #expect(verification.passed, "\(verification)")
        }
    }

    @Test("the invariant check notices a missing booking and a cancellation that did not happen")
    func verifierCatchesProblems() async throws {
        try await withCluster { cluster in
            let target = SchedulingTarget(client: cluster.scheduling, tokens: TokenSource(token: cluster.admin.accessToken))
            var plan = LoadPlan(horizonStart: monday(days: 7, hours: 0))
            plan.people = 4
            plan.pairs = 2
            let runner = LoadRunner(plan: plan, target: target)
            try await runner.setUp(concurrency: 2)
            let population = runner.population
            let real = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: population.pairs[0].matchID, start: monday(days: 7, hours: 9), durationMinutes: 30, timeZone: "UTC"
            ), token: cluster.admin.accessToken)
            let ledger = Ledger()
            ledger.recordBooking(real.id, pair: 0, start: Int64(real.start.timeIntervalSince1970), end: Int64(real.end.timeIntervalSince1970))
            ledger.recordBooking(UUID(), pair: 1, start: 0, end: 1800)
            ledger.recordCancellation(real.id)
            let verification = try await Verifier.verify(population: population, ledger: ledger, target: target)
            #expect(!verification.passed)
            #expect(verification.missingBookings == 1 && verification.cancellationsNotApplied == 1 && verification.doubleBookings == 0)
        }
    }

    @Test("a FindSlots answer is checked as a slot list without building its slots; another message is an error")
    func slotListChecked() throws {
        let view = SlotView(personID: UUID(), timeZone: "Asia/Kolkata", localStart: "2026-12-01T09:30", localEnd: "2026-12-01T10:00", inconvenience: 0, reasons: ["within working hours"])
        let slot = Slot(start: Date(timeIntervalSince1970: 1_800_000_000), end: Date(timeIntervalSince1970: 1_800_001_800), score: 0, participants: [view, view], explanation: "Within both participants' working hours")
        let answer = try CBOREncoder().encode(SlotList(slots: [slot, slot], candidates: 7, burden: [0, 1.5]))
        _ = try CBORDecoder().decode(SlotListChecked.self, from: answer)
        #expect(throws: (any Error).self) { try CBORDecoder().decode(SlotListChecked.self, from: try CBOREncoder().encode(FindSlotsRequest(matchID: UUID(), durationMinutes: 30, from: Date(), to: Date()))) }
        #expect(throws: (any Error).self) { try CBOREncoder().encode(try CBORDecoder().decode(SlotListChecked.self, from: answer)) }
    }

    @Test("a booking's or cancellation's answer is read for the meeting's id, times and status only; another message is an error")
    func meetingChecked() throws {
        let meeting = Meeting(
            id: UUID(), matchID: UUID(), programID: UUID(), participantIDs: [UUID(), UUID()], start: Date(timeIntervalSince1970: 1_800_000_000),
            end: Date(timeIntervalSince1970: 1_800_001_800), timeZone: "Europe/London", status: .cancelled, agenda: "goals", videoURL: "https://v.example/r",
            seriesID: UUID(), occurrence: 2, sequence: 3, cancelReason: "load test", version: 4, createdAt: Date(), updatedAt: Date()
        )
        let checked = try CBORDecoder().decode(MeetingChecked.self, from: try CBOREncoder().encode(meeting))
        #expect(checked.id == meeting.id && checked.start == meeting.start && checked.end == meeting.end && checked.status == .cancelled)
        #expect(throws: (any Error).self) { try CBORDecoder().decode(MeetingChecked.self, from: try CBOREncoder().encode(MeetingRef(meetingID: UUID()))) }
        #expect(throws: (any Error).self) { try CBOREncoder().encode(checked) }
    }

    @Test("latencies past two minutes count in the percentiles (an open-loop run far behind); recorders merge per operation")
    func longLatenciesCount() throws {
        var fast = LoadRunner.Recorder()
        for _ in 0..<98 { fast.record(.book, .ok, microseconds: 2_000) }
        var behind = LoadRunner.Recorder()
        behind.record(.book, .ok, microseconds: 300_000_000)
        behind.record(.book, .failed(.deadlineExceeded), microseconds: 400_000_000)
        behind.record(.cancel, .conflict, microseconds: 1_000)
        let report = LoadRunner.report([fast, behind], pace: .open(ratePerSecond: 100), seconds: 2)
        let book = try #require(report.operations["book"])
        #expect(book.calls == 100 && book.ok == 99 && book.errors == 1)
        #expect(book.statusCodes == ["OK": 99, "DEADLINE_EXCEEDED": 1])
        // 2 of 100 took minutes: the p99 is one of them, and so is the max (3 significant digits).
        #expect(abs(book.p99Milliseconds - 300_000) < 300)
        #expect(abs(book.maxMilliseconds - 400_000) < 400)
        #expect(abs(book.p50Milliseconds - 2) < 0.01)
        #expect(report.operations["cancel"]?.conflicts == 1)
        #expect(report.all.calls == 101 && report.mode == "open" && report.bookingsPerSecond == 49.5)
        #expect(abs(report.all.maxMilliseconds - 400_000) < 400)
    }

    @Test("mix parsing")
    func mix() throws {
        #expect(try LoadPlan.parseMix("book=70, find=20,cancel=10") == [.book: 70, .find: 20, .cancel: 10])
        #expect(throws: LoadError.self) { try LoadPlan.parseMix("book=70,dance=5") }
        #expect(throws: LoadError.self) { try LoadPlan.parseMix("book=0") }
    }

    @Test("bad options: one clear line and exit status 64, before anything is driven")
    func badOptions() async throws {
        for (arguments, expected) in [
            (["--concurrency", "8", "--rate", "100"], "not both"),
            (["--duration", "5", "--requests", "10"], "not both"),
            (["--mix", "book=70,dance=5"], "dance"),
            (["--kill-after", "5"], "--kill-after needs --kill-cmd and --restart-cmd"),
            (["--people", "1"], "--people must be at least 2"),
            (["--target", "nowhere", "--token", "t"], "nowhere"),
            (["--threads", "0"], "--connections and --threads must be at least 1"),
            (["--connections", "0"], "--connections and --threads must be at least 1"),
        ] as [([String], String)] {
            let result = try await ServiceProcess.run("tandem-load", arguments)
            #expect(result.status == 64, "\(arguments): \(result.output)")
            #expect(result.output.contains(expected), "\(arguments): \(result.output)")
        }
    }
}
