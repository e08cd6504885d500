import Foundation
import TandemProtocols
import TandemServiceKit

/// The program report the demo prints.
struct DemoReport {
    var organisation: Organisation
    var program: Program
    var seed: UInt64
    var people: [DemoPerson]
    var sync: SyncReport
    var cohort: CohortResult
    var directory: [UUID: DemoPerson]
    var example: PairExplanation?
    var booked: [BookedMeeting]
    var activeMatches: Int
    var from: Date
    var to: Date
    var outcome: ProgramOutcome
    var weeks: Int
    var feedback: FeedbackView?

    var text: String {
        var lines: [String] = []
        func line(_ text: String = "") { lines.append(text) }
        func percent(_ part: Int, _ whole: Int) -> String { whole == 0 ? "–" : String(format: "%.1f%%", 100 * Double(part) / Double(whole)) }

        let zones = Set(people.map(\.timeZone))
        let continents = Set(people.map(\.continent))
        let divisions = Set(people.map(\.division))
        let languages = Set(people.flatMap(\.languages))
        line("TANDEM PROGRAM REPORT — \(organisation.name) (\(organisation.slug)), \"\(program.name)\", seed \(seed)")
        line(String(repeating: "=", count: 78))
        line("Organisation: \(people.count) people in \(divisions.count) divisions, \(zones.count) time zones on \(continents.count) continents, \(languages.count) languages, \(people.filter(\.isNewHire).count) new hires")
        line("Program:      \(sync.mentors) mentors and \(sync.mentees) mentees (people with role 'both' count in each); capacity \(people.compactMap(\.capacity).reduce(0, +)) places")
        line()

        // Matching
        let scores = cohort.pairs.map(\.score).sorted()
        line("MATCHING (whole cohort, objective \(cohort.objective.rawValue), \(cohort.elapsedMilliseconds) ms)")
        line("  Match rate: \(percent(cohort.matched, cohort.mentees)) — \(cohort.matched) of \(cohort.mentees) mentees matched; \(cohort.blockingPairs) blocking pair\(cohort.blockingPairs == 1 ? "" : "s")")
        if !scores.isEmpty {
            let mean = Double(scores.reduce(0, +)) / Double(scores.count)
            line("  Scores (0–100): lowest \(scores.first!), median \(scores[scores.count / 2]), mean \(String(format: "%.1f", mean)), highest \(scores.last!)")
            let bins: [(String, ClosedRange<Int>)] = [("  0–49", 0...49), (" 50–59", 50...59), (" 60–69", 60...69), (" 70–79", 70...79), (" 80–89", 80...89), (" 90–100", 90...100)]
            let maximum = bins.map { bin in scores.filter { bin.1.contains($0) }.count }.max() ?? 1
            for (label, range) in bins {
                let count = scores.filter { range.contains($0) }.count
                let bar = String(repeating: "█", count: maximum == 0 ? 0 : Int((Double(count) / Double(maximum) * 40).rounded()))
                line("    \(label.padding(toLength: 7, withPad: " ", startingAt: 0)) \(String(count).leftPad(4)) \(bar)")
            }
        }
        let pairs = cohort.pairs.compactMap { pair -> (DemoPerson, DemoPerson)? in
            guard let mentee = directory[pair.menteeID], let mentor = directory[pair.mentorID] else { return nil }
            return (mentee, mentor)
        }
        line("  Across divisions: \(percent(pairs.filter { $0.0.division != $0.1.division }.count, pairs.count)); across time zones: \(percent(pairs.filter { $0.0.timeZone != $0.1.timeZone }.count, pairs.count)); across continents: \(percent(pairs.filter { $0.0.continent != $0.1.continent }.count, pairs.count)); new hires matched: \(pairs.filter { $0.0.isNewHire }.count)")
        if !cohort.unmatched.isEmpty {
            let reasons = Dictionary(grouping: cohort.unmatched.filter { $0.role == "mentee" }, by: \.reason).map { ($0.key, $0.value.count) }.sorted { $0.1 > $1.1 }
            for (reason, count) in reasons.prefix(3) { line("  Unmatched (\(count)): \(reason)") }
        }
        if let example, let mentee = directory[example.menteeID], let mentor = directory[example.mentorID] {
            line("  Example: \(mentee.name) (mentee, \(mentee.jobTitle), \(mentee.city)) with \(mentor.name) (mentor, \(mentor.jobTitle), \(mentor.city)): \(example.score.map(String.init) ?? "excluded")/100")
            for part in example.parts {
                line("    \(part.criterion.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(String(part.points).leftPad(3))/\(String(part.maximum).leftPad(3))  \(part.detail)")
            }
        }
        line()

        // Meetings
        line("FIRST MEETINGS (fair slot finding, 45 min, \(DemoData.dateString(from)) to \(DemoData.dateString(to.addingTimeInterval(-1))))")
        line("  Meetings booked: \(booked.count) of \(activeMatches) active pairs (\(percent(booked.count, activeMatches)))")
        if booked.count < activeMatches {
            line("  The other \(activeMatches - booked.count) found no 45 minutes both could attend in those two weeks, within the hours each accepts")
        }
        if !booked.isEmpty {
            let views = booked.flatMap { [$0.mentor, $0.mentee] }
            let inside = booked.filter { $0.mentor.inconvenience == 0 && $0.mentee.inconvenience == 0 }.count
            line("  Inside both people's working hours: \(percent(inside, booked.count)); someone outside them: \(booked.count - inside) (the fairness term takes turns with the awkward hours)")
            let bands: [(String, Range<Int>)] = [("before 07:00", 0..<7), ("07:00–09:00", 7..<9), ("09:00–12:00", 9..<12), ("12:00–14:00", 12..<14), ("14:00–17:00", 14..<17), ("17:00–19:00", 17..<19), ("19:00 and later", 19..<24)]
            line("  Local start times (each participant's own clock):")
            let hours = views.compactMap { Int($0.localStart.dropFirst(11).prefix(2)) }
            let maximum = bands.map { band in hours.filter { band.1.contains($0) }.count }.max() ?? 1
            for (label, range) in bands {
                let count = hours.filter { range.contains($0) }.count
                let bar = String(repeating: "█", count: maximum == 0 ? 0 : Int((Double(count) / Double(maximum) * 40).rounded()))
                line("    \(label.padding(toLength: 16, withPad: " ", startingAt: 0)) \(String(count).leftPad(4)) \(bar)")
            }
            if let far = booked.max(by: { abs(offsetHours($0)) < abs(offsetHours($1)) }) {
                line("  Widest gap: \(far.mentor.localStart.suffix(5)) in \(far.mentor.timeZone) is \(far.mentee.localStart.suffix(5)) in \(far.mentee.timeZone) (\(far.mentor.reasons.first ?? "") / \(far.mentee.reasons.first ?? ""))")
            }
        }
        line()

        // Follow-ups, then the weeks on the dev clock and the return
        let series = booked.filter { $0.followUps > 0 }
        line("FOLLOW-UPS (booked as series keeping the mentee's local time across daylight-saving changes)")
        line("  Series booked: \(series.count) of \(booked.count) pairs — \(series.filter { $0.everyWeeks == 1 }.count) weekly, \(series.filter { $0.everyWeeks == 2 }.count) fortnightly — \(series.map(\.followUps).reduce(0, +)) meetings over \(weeks) weeks")
        if series.count < booked.count {
            line("  \(booked.count - series.count) pairs found no free recurring time (their mentor's other pairs) and meet only once so far")
        }
        line()
        if let feedback {
            let counts = [
                feedback.participants.map { "\($0) participants" }, feedback.matches.map { "\($0) matches" },
                feedback.meetingsHeld.map { "\($0) meetings held so far" },
            ].compactMap { $0 }.joined(separator: ", ")
            line("FEEDBACK SERVICE (live, \(feedback.endpoint)): its copy of the feeds shows \(counts); reports suppress groups under k = \(feedback.k)")
            line("  Meetings count as held once marked after they took place, and surveys fall due 30 days into a match: the weeks below run on the dev clock.")
            line()
        }
        let ledger = outcome.ledger
        line("THE NEXT \(outcome.weeks) WEEKS (through the services on the dev clock, now \(DevClock.describe(offset: outcome.offset)) at \(DemoData.dateString(outcome.clusterTime)); who attends, ratings and answers drawn from seed \(seed))")
        line("  The participants marked \(ledger.held) meetings held and \(ledger.noShows) missed of \(outcome.booked) booked, gave \(ledger.sessionFeedback) session ratings, answered \(ledger.pulseAnswered) of \(ledger.pulseShown) pulse surveys shown due")
        line("  The admin completed \(outcome.completed) matches (matching.EndMatch); \(ledger.closingAnswered) of \(ledger.closingShown) closing surveys answered")
        line()
        let report = outcome.report
        let overall = report.overall
        line("FEEDBACK SERVICE REPORT (feedback.ProgramReport at \(outcome.reportEndpoint), k = \(report.k); computed from the answers submitted above)")
        let hours = overall.mentoringHours.map { String(format: "%.0f", $0) } ?? "–"
        line("  Meetings held: \(overall.meetingsHeld.map(String.init) ?? "–") (\(hours) mentoring hours) in \(overall.matches.map(String.init) ?? "–") matches of \(overall.participants.map(String.init) ?? "–") participants")
        if overall.suppressed {
            line("  Respondents, ratings, response rate and return figures: hidden (\(overall.suppressedBecause ?? "k-anonymity"): fewer than k = \(report.k) respondents)")
        } else {
            let rating = overall.averageRating.map { String(format: "%.2f/5", $0) } ?? "none"
            line("  Respondents: \(overall.respondents ?? 0); survey response rate \(overall.responseRate.map { String(format: "%.1f%%", $0) } ?? "–") (answered / due, pulse and closing); average session rating \(rating) from \(overall.ratings ?? 0) ratings")
        }
        line()
        line("RETURN (feedback.ProgramReport: share of respondents answering agree or strongly agree; the article's figures in brackets)")
        func question(_ measure: String) -> String { feedback?.questions[measure].map { "  \"\($0)\"" } ?? "" }
        func figure(_ figure: ReturnFigure?) -> String {
            if overall.suppressed { return "hidden (k = \(report.k))".padding(toLength: 22, withPad: " ", startingAt: 0) }
            guard let figure else { return "no answers".padding(toLength: 22, withPad: " ", startingAt: 0) }
            return String(format: "%5.1f%% of %d", figure.percent, figure.respondents).padding(toLength: 22, withPad: " ", startingAt: 0)
        }
        line("  Competency improvement:  \(figure(overall.competency)) (91%)\(question("competency"))")
        line("  Positive relationship:   \(figure(overall.relationship)) (90%)\(question("relationship"))")
        line("  Intention to stay:       \(figure(overall.retention)) (83%)\(question("retention"))")
        return lines.joined(separator: "\n")
    }

    private func offsetHours(_ meeting: BookedMeeting) -> Double {
        let mentor = TimeZone(identifier: meeting.mentor.timeZone)?.secondsFromGMT(for: meeting.start) ?? 0
        let mentee = TimeZone(identifier: meeting.mentee.timeZone)?.secondsFromGMT(for: meeting.start) ?? 0
        return Double(mentor - mentee) / 3600
    }
}

/// FNV-1a of a text: the same on every run and machine (unlike `Hasher`).
func stableHash(_ text: String) -> UInt64 {
    var hash: UInt64 = 0xCBF2_9CE4_8422_2325
    for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
    return hash
}

extension String {
    func leftPad(_ width: Int) -> String { count >= width ? self : String(repeating: " ", count: width - count) + self }
}
