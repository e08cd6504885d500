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
        let scores = ScoreMatrix(mentees: mentees, mentors: mentors) { cohort.score(mentee: $0, mentor: $1) }
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

/// Mentees and mentors with generated profiles, and the score of a pair from them: skills
/// wanted vs offered (weighted by level, 60 points), another division (15), a seniority gap of
/// 1–5 levels (15), working hours overlapping across time zones (10).
struct GeneratedCohort {
    struct Person {
        var skills: [(skill: Int, level: Int)]
        var division: Int
        var seniority: Int
        var utcOffsetHours: Int
    }

    var mentees: [Person] = []
    var mentors: [Person] = []

    init(mentees menteeCount: Int, mentors mentorCount: Int, seed: UInt64) {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 &+ 1
        func next(_ bound: Int) -> Int {
            state ^= state << 13
            state ^= state >> 7
            state ^= state << 17
            return Int(state % UInt64(bound))
        }
        func person(skills: Int, seniority: ClosedRange<Int>) -> Person {
            var chosen: [(Int, Int)] = []
            while chosen.count < skills {
                let skill = next(30)
                if !chosen.contains(where: { $0.0 == skill }) { chosen.append((skill, 1 + next(5))) }
            }
            return Person(skills: chosen, division: next(8), seniority: seniority.lowerBound + next(seniority.count), utcOffsetHours: [-8, -5, 0, 1, 2, 5, 8, 10][next(8)])
        }
        mentees = (0..<menteeCount).map { _ in person(skills: 3, seniority: 1...6) }
        mentors = (0..<mentorCount).map { _ in person(skills: 5, seniority: 4...10) }
    }

    func score(mentee: Int, mentor: Int) -> Int {
        let a = mentees[mentee]
        let b = mentors[mentor]
        var skill = 0
        for wanted in a.skills {
            if let offered = b.skills.first(where: { $0.skill == wanted.skill }) { skill += 20 * min(offered.level, wanted.level) / wanted.level }
        }
        let division = a.division != b.division ? 15 : 0
        let gap = b.seniority - a.seniority
        let seniority = (1...5).contains(gap) ? 15 : (gap == 0 || gap == 6 ? 7 : 0)
        let hours = max(0, 8 - abs(a.utcOffsetHours - b.utcOffsetHours))
        return min(100, skill + division + seniority + hours * 10 / 8)
    }
}
