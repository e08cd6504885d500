import ArgumentParser
import FeedbackService
import Foundation
import Logging
import TandemBenchSupport
import TandemAuth
import TandemProtocols
import TandemRandom

/// A program report over many survey responses (SQLite on disk, release build), against the
/// baseline of one SQL GROUP BY per cut.
struct FeedbackBenchmark: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "feedback", abstract: "Program report over many survey responses vs one GROUP BY per cut.")

    @Option(help: "Mentoring pairs (two people each).") var pairs = 10_000
    @Option(help: "Survey responses (spread over the people and pulse rounds).") var responses = 100_000
    @Option(help: "Held meetings, each rated by its mentee.") var meetings = 50_000
    @Option(help: "Reports to time (the median is printed).") var runs = 11
    @Option(help: "Seed.") var seed: UInt64 = 1

    func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appending(path: "tandem-bench-feedback-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        print("tandem-bench feedback: \(pairs) pairs, \(responses) survey responses, \(meetings) held and rated meetings, one program, SQLite on disk")
        var random = SplitMix64(seed: seed)
        let organisation = UUID(), program = UUID()
        let start = Date(timeIntervalSince1970: 1_767_225_600)  // 2026-01-01
        let divisions = ["Engineering", "Sales", "Support", "Finance", "Legal", "Marketing", "Operations", "People", "Product", "Design", "Data", "Security"]
        var matches: [Match] = []
        var division: [UUID: String] = [:]
        for _ in 0..<pairs {
            let mentor = UUID(), mentee = UUID()
            division[mentor] = divisions[Int(random.next() % UInt64(divisions.count))]
            division[mentee] = divisions[Int(random.next() % UInt64(divisions.count))]
            let started = start.addingTimeInterval(Double(random.next() % (300 * 86_400)))
            matches.append(Match(
                id: UUID(), organisationID: organisation, programID: program, mentorID: mentor, menteeID: mentee, groupID: nil, status: .active, source: .cohort,
                score: 70, parts: [], mentorAccepted: true, menteeAccepted: true, proposedAt: started, expiresAt: nil, startedAt: started, endedAt: nil,
                endReason: nil, notAGoodFit: false, declinedBy: nil, rematchOf: nil, rematchID: nil, agreement: nil, version: 1, updatedAt: started
            ))
        }
        var meetingList: [Meeting] = []
        for index in 0..<meetings {
            let match = matches[index % matches.count]
            let begins = match.startedAt!.addingTimeInterval(Double(index / matches.count + 1) * 14 * 86_400)
            meetingList.append(Meeting(
                id: UUID(), matchID: match.id, programID: program, participantIDs: [match.mentorID, match.menteeID], start: begins,
                end: begins.addingTimeInterval(3600), timeZone: "UTC", status: .held, agenda: nil, videoURL: "https://v.example/r", seriesID: nil,
                occurrence: nil, sequence: 0, cancelReason: nil, version: 2, createdAt: begins, updatedAt: begins
            ))
        }
        var configuration = FeedbackConfiguration()
        configuration.now = { Date(timeIntervalSince1970: 1_798_761_600) }  // 2027-01-01
        let feedback = try FeedbackServer.open(
            dataDirectory: directory, configuration: configuration,
            peers: FeedbackPeers(meetings: StaticMeetingFeed(meetings: meetingList, organisation: organisation), matches: StaticMatchFeed(matches: matches)),
            logger: Logger(label: "bench.feedback")
        )
        defer { feedback.close() }

        let loadStarted = DispatchTime.now().uptimeNanoseconds
        try await feedback.syncNow()
        var batch: [ImportedSurveyResponse] = []
        for index in 0..<responses {
            let match = matches[index % matches.count]
            let mentee = (index / matches.count) % 2 == 0
            let person = mentee ? match.menteeID : match.mentorID
            let round = index / (2 * matches.count) + 1
            func likert() -> Int { [5, 5, 4, 4, 4, 3, 5, 4, 2, 5][Int(random.next() % 10)] }
            batch.append(ImportedSurveyResponse(
                organisationID: organisation, programID: program, matchID: match.id, personID: person, role: mentee ? 1 : 0, division: division[person],
                kind: .pulse, round: round,
                answers: [SurveyAnswer(questionID: "competency", value: likert()), SurveyAnswer(questionID: "relationship", value: likert()),
                          SurveyAnswer(questionID: "stay", value: likert())],
                submittedAt: match.startedAt!.addingTimeInterval(Double(30 + 60 * (round - 1)) * 86_400 + Double(random.next() % 86_400))
            ))
            if batch.count == 5000 {
                try await feedback.importSurveyResponses(batch)
                batch.removeAll(keepingCapacity: true)
            }
        }
        try await feedback.importSurveyResponses(batch)
        var ratings: [ImportedRating] = []
        for meeting in meetingList {
            ratings.append(ImportedRating(
                organisationID: organisation, meeting: meeting, personID: meeting.participantIDs[1], role: 1, division: division[meeting.participantIDs[1]],
                rating: Int(random.next() % 3) + 3, submittedAt: meeting.end
            ))
            if ratings.count == 5000 {
                try await feedback.importRatings(ratings)
                ratings.removeAll(keepingCapacity: true)
            }
        }
        try await feedback.importRatings(ratings)
        print(String(format: "load: %.1f s (feeds, then imports in transactions of 5000)", Double(DispatchTime.now().uptimeNanoseconds - loadStarted) / 1e9))

        func milliseconds(_ duration: Duration) -> Double {
            Double(duration.components.seconds) * 1000 + Double(duration.components.attoseconds) / 1e15
        }
        /// Median, min and max of `runs` reports, with the median run's read and aggregate phases.
        func time(cold: Bool) async throws -> (median: Double, min: Double, max: Double, read: Double, aggregate: Double, report: ProgramReport) {
            var samples: [(total: Double, read: Double, aggregate: Double)] = []
            var last: ProgramReport?
            for _ in 0..<runs {
                if cold { feedback.forgetCachedReports() }
                let began = DispatchTime.now().uptimeNanoseconds
                last = try await feedback.report(organisation: organisation, ReportRequest(programID: program))
                let total = Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6
                let phase = feedback.lastReportPhases.withLock { $0 }
                samples.append((total, milliseconds(phase.read), milliseconds(phase.aggregate)))
            }
            samples.sort { $0.total < $1.total }
            let median = samples[samples.count / 2]
            return (median.total, samples.first!.total, samples.last!.total, median.read, median.aggregate, last!)
        }
        let cold = try await time(cold: true)
        let warm = try await time(cold: false)
        var baselineTimes: [Double] = []
        var groups = 0
        for _ in 0..<runs {
            let began = DispatchTime.now().uptimeNanoseconds
            groups = try await feedback.baselineReportQueries(organisation: organisation, program: program)
            baselineTimes.append(Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6)
        }
        baselineTimes.sort()
        let baseline = baselineTimes[baselineTimes.count / 2]
        let report = warm.report
        let cells = report.cuts.reduce(0) { $0 + $1.cells.count }
        print(String(format: "report: %d groups, k-anonymity applied; overall %d respondents, competency %.1f%%, relationship %.1f%%, stay %.1f%%, rating %.2f",
                     cells + 1, report.overall.respondents ?? 0, report.overall.competency?.percent ?? 0, report.overall.relationship?.percent ?? 0,
                     report.overall.retention?.percent ?? 0, report.overall.averageRating ?? 0))
        print(String(format: "tandem report, facts read from SQLite: median %.1f ms (min %.1f, max %.1f) over %d runs = read %.1f + aggregate and suppress %.1f",
                     cold.median, cold.min, cold.max, runs, cold.read, cold.aggregate))
        print(String(format: "tandem report, facts cached (unchanged data): median %.1f ms (min %.1f, max %.1f) = aggregate and suppress %.1f",
                     warm.median, warm.min, warm.max, warm.aggregate))
        print(String(format: "baseline, one GROUP BY per cut: median %.1f ms (min %.1f, max %.1f): %d groups, per-answer counts, no latest-answer rule, no suppression",
                     baseline, baselineTimes.first!, baselineTimes.last!, groups))
        print(String(format: "from SQLite the full report takes %.2f× the baseline's time; target < 200 ms: %@ from SQLite, %@ cached",
                     cold.median / baseline, cold.median < 200 ? "met" : "MISSED", warm.median < 200 ? "met" : "MISSED"))
        try await invitationPasses(feedback, organisation: organisation, now: configuration.now())
        let median = cold.median
        if median >= 200 { throw ExitCode(1) }
    }

    /// The survey invitation stream's passes (`StreamSurveyInvitations`, every 30 s per open
    /// stream), against the pass as it used to be: every answer of the organisation read again.
    func invitationPasses(_ feedback: FeedbackServer, organisation: UUID, now: Date) async throws {
        func timed<T>(_ body: () async throws -> T) async rethrows -> (ms: Double, value: T) {
            let began = DispatchTime.now().uptimeNanoseconds
            let value = try await body()
            return (Double(DispatchTime.now().uptimeNanoseconds - began) / 1e6, value)
        }
        for (label, days) in [("a week back (the default)", 7.0), ("a year back", 365.0)] {
            let since = now.addingTimeInterval(-days * 86_400)
            var baseline: [Double] = []
            var firstPasses: [Double] = []
            var laterPasses: [Double] = []
            var sent = 0, unanswered = 0
            for _ in 0..<max(runs / 2, 3) {
                var poll = InvitationPoll(organisation: organisation, since: since)
                let first = try await timed { try await poll.next(feedback) }
                firstPasses.append(first.ms)
                sent = first.value.count
                laterPasses.append(try await timed { try await poll.next(feedback) }.ms)
                let old = try await timed { try await feedback.baselineInvitationPass(organisation: organisation, since: since) }
                baseline.append(old.ms)
                unanswered = old.value
            }
            let median = { (samples: [Double]) in samples.sorted()[samples.count / 2] }
            print(String(format: "invitation stream, since %@: first pass %.1f ms (%d sent), each later pass %.2f ms; the old pass (every answer read again) %.1f ms (%d unanswered)",
                         label, median(firstPasses), sent, median(laterPasses), median(baseline), unanswered))
            if sent != unanswered { throw ValidationError("the passes disagree: \(sent) sent, \(unanswered) unanswered") }
        }
    }
}


struct StaticMatchFeed: MatchChangeFeed {
    let matches: [Match]
    func matchChanges(after: Int, limit: Int) async throws -> MatchChangePage {
        let changes = matches.enumerated().dropFirst(after).prefix(limit).map { MatchChange(sequence: $0.offset + 1, match: $0.element) }
        return MatchChangePage(changes: Array(changes), last: changes.last?.sequence ?? after)
    }
}

struct StaticMeetingFeed: MeetingFeed {
    let meetings: [Meeting]
    let organisation: UUID
    func meetingChanges(after: Int, limit: Int) async throws -> MeetingChangePage {
        let changes = meetings.enumerated().dropFirst(after).prefix(limit).map { MeetingChange(sequence: $0.offset + 1, organisationID: organisation, meeting: $0.element) }
        return MeetingChangePage(changes: Array(changes), last: changes.last?.sequence ?? after)
    }
}
