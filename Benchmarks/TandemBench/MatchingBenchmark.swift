import ArgumentParser
import Foundation
import MatchingService
import TandemBenchSupport

/// Whole-cohort matching (maximum total score) against SciPy's `linear_sum_assignment` on the
/// same score matrix, with mentors copied once per seat for SciPy (it has no capacities).
struct MatchingBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "matching", abstract: "Whole-cohort matching vs SciPy.")

    @Option(help: "Mentees.") var mentees = 5000
    @Option(help: "Mentors.") var mentors = 1000
    @Option(help: "Seats per mentor.") var capacity = 5
    @Option(help: "Seed of the generated profiles.") var seed: UInt64 = 1
    @Option(help: "The SciPy peer script (empty: skip the peer).") var scipy = "Benchmarks/matching_scipy.py"

    func run() throws {
        print("tandem-bench matching: \(mentees) mentees × \(mentors) mentors with \(capacity) seats, maximum total score, seed \(seed)")
        let started = DispatchTime.now().uptimeNanoseconds
        let cohort = GeneratedCohort(mentees: mentees, mentors: mentors, seed: seed)
        let scores = cohort.cohortScorer.matrix()
        let scored = DispatchTime.now().uptimeNanoseconds
        let assignment = AssignmentSolver.solve(scores, capacities: Array(repeating: capacity, count: mentors), objective: .maxTotal)
        let solved = DispatchTime.now().uptimeNanoseconds
        let blocking = AssignmentSolver.blockingPairs(assignment, scores: scores, capacities: Array(repeating: capacity, count: mentors))
        let tandemSeconds = Double(solved - started) / 1e9
        print(String(format: "tandem:  total %d, matched %d, scores %.2f s + solve %.2f s = %.2f s end to end, resident %.0f MiB, blocking pairs %d",
                     assignment.total, assignment.matched, Double(scored - started) / 1e9, Double(solved - scored) / 1e9, tandemSeconds,
                     Double(ProcessUsage.residentBytes) / 1_048_576, blocking))
        guard !scipy.isEmpty else { return }
        // The same matrix for SciPy, as little-endian int16.
        let path = FileManager.default.temporaryDirectory.appending(path: "tandem-matching-\(seed).i16").path
        var bytes = [UInt8]()
        bytes.reserveCapacity(mentees * mentors * 2)
        for mentee in 0..<mentees {
            for mentor in 0..<mentors {
                let value = UInt16(bitPattern: Int16(scores[mentee, mentor] ?? -1))
                bytes.append(UInt8(value & 0xFF))
                bytes.append(UInt8(value >> 8))
            }
        }
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", scipy, path, "\(mentees)", "\(mentors)", "\(capacity)"]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        print("scipy:   " + output.trimmingCharacters(in: .whitespacesAndNewlines))
        if let seconds = output.split(separator: " ").first(where: { $0.hasPrefix("seconds=") }).flatMap({ Double($0.dropFirst(8)) }),
           let total = output.split(separator: " ").first(where: { $0.hasPrefix("total=") }).flatMap({ Int($0.dropFirst(6)) }) {
            print(String(format: "totals %@; Tandem end to end is %.1f× faster than SciPy's solve alone", total == assignment.total ? "equal (both optimal)" : "DIFFER", seconds / tandemSeconds))
            if total != assignment.total { throw ExitCode(1) }
        }
    }
}

/// Mentees and mentors with generated profiles, scored by the service's own `CohortScorer`
/// under a program's criteria: skills wanted vs offered (weighted by level, 60 points), another
/// division (15), a seniority gap of 1–5 levels (15), working hours in common across eight time
/// zones (10).
struct GeneratedCohort {
    static let zones = ["America/Los_Angeles", "America/New_York", "Europe/London", "Europe/Berlin", "Africa/Nairobi", "Asia/Kolkata", "Asia/Singapore", "Australia/Sydney"]
    static let today = Date(timeIntervalSince1970: 1_800_000_000)
    static let criteria = [
        MatchCriterion(.skills, weight: 60), MatchCriterion(.division, weight: 15), MatchCriterion(.seniority, weight: 15, minimumGap: 1, maximumGap: 5),
        MatchCriterion(.workingHours, weight: 10, targetHours: 20),
    ]

    let mentees: [MatchProfile]
    let mentors: [MatchProfile]
    let scorer: PairScorer

    init(mentees menteeCount: Int, mentors mentorCount: Int, seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        func person(skills: Int, seniority: ClosedRange<Int>, mentor: Bool) -> MatchProfile {
            var chosen: [String: Int] = [:]
            while chosen.count < skills { chosen["skill-\(next(30))"] = 1 + next(5) }
            return MatchProfile(
                personID: UUID(), skillsOffered: mentor ? chosen : [:], skillsWanted: mentor ? [:] : chosen, division: "division-\(next(8))",
                seniority: seniority.lowerBound + next(seniority.count), timeZone: Self.zones[next(8)]
            ).fixingZoneOffset(on: Self.today)
        }
        mentees = (0..<menteeCount).map { _ in person(skills: 3, seniority: 1...6, mentor: false) }
        mentors = (0..<mentorCount).map { _ in person(skills: 5, seniority: 4...10, mentor: true) }
        scorer = PairScorer(criteria: Self.criteria, today: Self.today)
    }

    var cohortScorer: CohortScorer { CohortScorer(scorer: scorer, mentees: mentees, mentors: mentors) }
}

/// One mentee's recommendations among `mentors` mentors, as the service computes them (every
/// mentor's score, the best five explained), timed over many mentees.
struct RecommendationBenchmark: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "matching-recommend", abstract: "Recommendations for one mentee among many mentors.")

    @Option(help: "Mentors.") var mentors = 2000
    @Option(help: "Mentees asking (one request each).") var requests = 2000
    @Option(help: "Seed of the generated profiles.") var seed: UInt64 = 1

    func run() throws {
        let cohort = GeneratedCohort(mentees: requests, mentors: mentors, seed: seed)
        let scorer = cohort.cohortScorer
        let open = (0..<mentors).map { $0 % 7 == 0 ? 0 : 3 }
        var latencies: [Double] = []
        latencies.reserveCapacity(requests)
        var explained = 0
        for mentee in 0..<requests {
            let started = DispatchTime.now().uptimeNanoseconds
            let result = Recommender.recommend(mentee: mentee, scorer: scorer, openPlaces: open, skip: [], limit: 5, rotation: UInt64(mentee))
            for mentor in result.mentors {
                if case .success(let score) = cohort.scorer.score(mentee: cohort.mentees[mentee], mentor: cohort.mentors[mentor]) { explained += score.parts.count }
            }
            latencies.append(Double(DispatchTime.now().uptimeNanoseconds - started) / 1e6)
        }
        latencies.sort()
        func percentile(_ p: Double) -> Double { latencies[min(latencies.count - 1, Int(Double(latencies.count) * p))] }
        print(String(format: "tandem-bench matching-recommend: %d requests, %d mentors each: p50 %.2f ms, p99 %.2f ms, max %.2f ms (%d parts explained)",
                     requests, mentors, percentile(0.5), percentile(0.99), latencies.last ?? 0, explained))
    }
}
