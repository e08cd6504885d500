import Foundation
import TandemProtocols
import Testing
@testable import FeedbackService

/// Builds report facts by hand: people are dense indexes, matches are keys.
struct FactsBuilder {
    var facts = ReportFacts()
    let january = Month.parse("2026-01")!

    mutating func division(_ key: Int32, _ name: String) {
        facts.divisions[key] = name
    }

    mutating func match(_ key: Int64, mentor: Int32, mentee: Int32, cohort: String = "2026-01") {
        facts.matches.append(.init(key: key, mentor: mentor, mentee: mentee, cohort: Month.parse(cohort)!))
        facts.people = max(facts.people, Int(max(mentor, mentee)) + 1)
    }

    /// One survey answer: c, r, t are the return measures (-1 unanswered, 0 no, 1 yes).
    mutating func answer(_ person: Int32, match: Int64, role: UInt8, division: Int32 = -1, month: String = "2026-02", _ c: Int8, _ r: Int8, _ t: Int8) {
        facts.answers.person.append(person)
        facts.answers.match.append(match)
        facts.answers.role.append(role)
        facts.answers.division.append(division)
        facts.answers.month.append(Month.parse(month)!)
        facts.answers.competency.append(c)
        facts.answers.relationship.append(r)
        facts.answers.retention.append(t)
        facts.people = max(facts.people, Int(person) + 1)
    }

    mutating func rating(_ person: Int32, match: Int64, role: UInt8, division: Int32 = -1, month: String = "2026-02", _ rating: UInt8) {
        facts.ratings.person.append(person)
        facts.ratings.match.append(match)
        facts.ratings.role.append(role)
        facts.ratings.division.append(division)
        facts.ratings.month.append(Month.parse(month)!)
        facts.ratings.rating.append(rating)
        facts.people = max(facts.people, Int(person) + 1)
    }

    mutating func meeting(_ match: Int64, month: String = "2026-02", minutes: Int32 = 60) {
        facts.meetings.match.append(match)
        facts.meetings.month.append(Month.parse(month)!)
        facts.meetings.seconds.append(minutes * 60)
    }

    mutating func due(_ person: Int32, match: Int64, role: UInt8, month: String = "2026-02", answered: Bool) {
        facts.due.person.append(person)
        facts.due.match.append(match)
        facts.due.role.append(role)
        facts.due.month.append(Month.parse(month)!)
        facts.due.answered.append(answered)
    }
}

extension ProgramReport {
    func cell(_ dimension: ReportDimension, _ group: String) -> ReportCell? {
        cuts.first { $0.dimension == dimension }?.cells.first { $0.group == group }
    }
}

@Suite("Feedback: report figures and k-anonymity")
struct ReportTests {
    let program = UUID()
    let now = Date(timeIntervalSince1970: 1_780_000_000)

    /// 6 pairs (mentors 0–5, mentees 6–11): every mentee and mentor answers; hand-computed below.
    func sixPairs() -> FactsBuilder {
        var builder = FactsBuilder()
        builder.division(1, "Engineering")
        builder.division(2, "Sales")
        for pair in 0..<6 {
            let mentor = Int32(pair), mentee = Int32(pair + 6), match = Int64(100 + pair)
            builder.match(match, mentor: mentor, mentee: mentee, cohort: pair < 3 ? "2026-01" : "2026-02")
            builder.meeting(match, month: "2026-02", minutes: 60)
            builder.meeting(match, month: "2026-03", minutes: 30)
            // Mentees: competency yes for 5 of 6, relationship yes for all, stay yes for 4 of 6.
            builder.answer(mentee, match: match, role: 1, division: 1, pair == 0 ? 0 : 1, 1, pair < 4 ? 1 : 0)
            // Mentors answer no to competency, yes to relationship and stay.
            builder.answer(mentor, match: match, role: 0, division: 2, 0, 1, 1)
            builder.rating(mentee, match: match, role: 1, division: 1, UInt8(pair % 5 + 1))
            builder.due(mentee, match: match, role: 1, answered: true)
            builder.due(mentor, match: match, role: 0, answered: pair < 3)
        }
        return builder
    }

    @Test("figures match hand-computed answers")
    func handComputed() throws {
        let report = ReportBuilder.build(programID: program, facts: sixPairs().facts, k: 5, now: now)
        let all = report.overall
        #expect(!all.suppressed)
        #expect(all.participants == 12 && all.matches == 6 && all.meetingsHeld == 12)
        #expect(all.mentoringHours == 9)                                          // 6 × (1 + 0.5)
        #expect(all.respondents == 12)
        // Competency: mentees 5 yes, mentors 6 no: 5 / 12 = 41.7 %.
        #expect(all.competency == ReturnFigure(percent: 41.7, respondents: 12))
        #expect(all.relationship == ReturnFigure(percent: 100, respondents: 12))
        // Stay: 4 mentees + 6 mentors = 10 / 12.
        #expect(all.retention == ReturnFigure(percent: 83.3, respondents: 12))
        // Ratings 1, 2, 3, 4, 5, 1: 16 / 6.
        #expect(all.averageRating == 2.67 && all.ratings == 6)
        // Due 12, answered 9.
        #expect(all.responseRate == 75)

        let mentees = try #require(report.cell(.role, "mentee"))
        #expect(mentees.competency == ReturnFigure(percent: 83.3, respondents: 6))
        #expect(mentees.retention == ReturnFigure(percent: 66.7, respondents: 6))
        #expect(mentees.responseRate == 100)
        let mentors = try #require(report.cell(.role, "mentor"))
        #expect(mentors.competency == ReturnFigure(percent: 0, respondents: 6) && mentors.responseRate == 50)
        // Cohorts of 3 pairs (6 people) each.
        let january = try #require(report.cell(.cohort, "2026-01"))
        #expect(january.participants == 6 && january.matches == 3 && january.respondents == 6)
        #expect(january.competency == ReturnFigure(percent: 33.3, respondents: 6))   // mentees 7, 8 yes (6 said no)
        // The trend: meetings by month.
        #expect(report.cell(.month, "2026-02")?.meetingsHeld == 6 && report.cell(.month, "2026-03")?.mentoringHours == 3)
        // Divisions: answer figures only.
        let engineering = try #require(report.cell(.division, "Engineering"))
        #expect(engineering.participants == nil && engineering.respondents == 6 && engineering.averageRating == 2.67)
    }

    @Test("a person's latest answer counts, once")
    func latestAnswer() {
        var builder = sixPairs()
        // Mentee 6 answers again later: competency now yes.
        builder.answer(6, match: 100, role: 1, division: 1, month: "2026-04", 1, 1, 1)
        let report = ReportBuilder.build(programID: program, facts: builder.facts, k: 5, now: now)
        #expect(report.overall.competency == ReturnFigure(percent: 50, respondents: 12))
        #expect(report.cell(.role, "mentee")?.competency == ReturnFigure(percent: 100, respondents: 6))
    }

    @Test("groups below k are suppressed; k is the organisation's")
    func belowK() throws {
        let report = ReportBuilder.build(programID: program, facts: sixPairs().facts, k: 7, now: now)
        #expect(report.overall.suppressed == false && report.overall.respondents == 12)
        let mentees = try #require(report.cell(.role, "mentee"))
        #expect(mentees.suppressed && mentees.respondents == nil && mentees.competency == nil && mentees.averageRating == nil)
        #expect(mentees.suppressedBecause == "fewer than k respondents")
        // Activity counts stay.
        #expect(mentees.participants == 6 && mentees.meetingsHeld == 12)
        let tiny = ReportBuilder.build(programID: program, facts: sixPairs().facts, k: 13, now: now)
        #expect(tiny.overall.suppressed && tiny.overall.competency == nil)
    }

    /// The classic attack: the program total minus every published division reveals the one
    /// person in the small division — so the big division is withheld too.
    @Test("differencing: total minus one cut does not reveal the one person left")
    func differencingAttack() throws {
        var builder = FactsBuilder()
        builder.division(1, "Engineering")
        builder.division(2, "Legal")
        // 11 mentees in Engineering answer yes; the one in Legal answers no.
        for person in Int32(0)..<12 {
            builder.match(Int64(person), mentor: 100 + person, mentee: person)
            builder.answer(person, match: Int64(person), role: 1, division: person == 11 ? 2 : 1, person == 11 ? 0 : 1, 1, 1)
        }
        let report = ReportBuilder.build(programID: program, facts: builder.facts, k: 5, now: now)
        #expect(report.overall.competency == ReturnFigure(percent: 91.7, respondents: 12))
        let legal = try #require(report.cell(.division, "Legal"))
        let engineering = try #require(report.cell(.division, "Engineering"))
        #expect(legal.suppressed && legal.suppressedBecause == "fewer than k respondents")
        #expect(engineering.suppressed, "12 − 11 would reveal Legal's one answer")
        #expect(engineering.suppressedBecause?.hasPrefix("complementary") == true)
        #expect(engineering.competency == nil && engineering.respondents == nil)
        // Nothing published lets the attacker isolate the Legal respondent: every published
        // group either holds all 12 or is suppressed.
        for cut in report.cuts where cut.dimension != .month {
            for cell in cut.cells where !cell.suppressed { #expect(cell.respondents == 12 || cell.respondents == 0, "\(cut.dimension) \(cell.group)") }
        }
    }

    /// Two overlapping cuts of different dimensions: a cohort that is all mentees but one.
    @Test("differencing: two overlapping groups that differ by fewer than k are not both published")
    func overlappingCuts() throws {
        var builder = FactsBuilder()
        builder.division(1, "Engineering")
        // 8 mentees (0–7), 8 mentors (10–17). Cohort 2026-01: mentees 0–6 and their mentors'
        // matches… only the mentees answer, so the cohort holds mentees 0–6 and role "mentee" 0–7.
        for person in Int32(0)..<8 {
            builder.match(Int64(person), mentor: 10 + person, mentee: person, cohort: person < 7 ? "2026-01" : "2026-02")
            builder.answer(person, match: Int64(person), role: 1, division: 1, person == 7 ? 0 : 1, 1, 1)
        }
        // Mentors answer too, so that "mentee" is not the whole program.
        for person in Int32(10)..<18 {
            builder.answer(person, match: Int64(person - 10), role: 0, division: 1, 1, 1, 1)
        }
        let report = ReportBuilder.build(programID: program, facts: builder.facts, k: 5, now: now)
        let mentees = try #require(report.cell(.role, "mentee"))
        let cohort = try #require(report.cell(.cohort, "2026-01"))
        // mentee = {0…7}, cohort 2026-01 = {0…6, 10…16}: neither is a subset, but check the pair
        // mentee vs cohort: symmetric difference 1 + 7 = 8 ≥ k, fine. The mentee cell and the
        // cohort-2026-02 cell ({7, 17}) are below k. What must not happen: the attacker learning
        // person 7's answer from two published groups differing only by them.
        var published: [(String, Int)] = []
        if !mentees.suppressed { published.append(("mentee", mentees.respondents!)) }
        if !cohort.suppressed { published.append(("2026-01", cohort.respondents!)) }
        #expect(report.cell(.cohort, "2026-02")?.suppressed == true)
        // Cohort 2026-02 ({7, 17}) is suppressed, so 2026-01 (14) is suppressed too: the program (16)
        // minus it would be those two.
        #expect(cohort.suppressed)
        _ = published

        // A direct overlap: role "mentee" {0…7} and a division holding mentees 0–6 only.
        var second = FactsBuilder()
        second.division(1, "Engineering")
        second.division(2, "Design")
        for person in Int32(0)..<8 {
            second.match(Int64(person), mentor: 10 + person, mentee: person)
            second.answer(person, match: Int64(person), role: 1, division: person == 7 ? 2 : 1, person == 7 ? 0 : 1, 1, 1)
        }
        for person in Int32(10)..<20 {
            second.answer(person, match: Int64(person % 8), role: 0, division: 2, 1, 1, 1)
        }
        // Engineering = mentees 0–6 (7 people); mentee = 0–7 (8); Design = 7 and the 10 mentors (11).
        let overlap = ReportBuilder.build(programID: program, facts: second.facts, k: 5, now: now)
        let menteeCell = try #require(overlap.cell(.role, "mentee"))
        let engineeringCell = try #require(overlap.cell(.division, "Engineering"))
        #expect(menteeCell.suppressed || engineeringCell.suppressed, "mentee − Engineering would be person 7 alone")
        #expect(engineeringCell.suppressedBecause?.hasPrefix("overlap") == true)
    }

    @Test("the suppression rules on their own")
    func suppressionRules() {
        // Overall {0…9}; a partition into {0…7} and {8, 9}: the small one is below k, the big one complementary.
        let groups = [
            Suppression.Group(dimension: nil, members: Array(0..<10)),
            Suppression.Group(dimension: 0, members: Array(0..<8)),
            Suppression.Group(dimension: 0, members: [8, 9]),
        ]
        let reasons = Suppression.decide(groups: groups, people: 10, k: 3)
        #expect(reasons[0] == nil && reasons[1] == .complementary && reasons[2] == .belowK)
        // Two cells both below k but together ≥ k: nothing more to suppress.
        let three = [
            Suppression.Group(dimension: nil, members: Array(0..<10)),
            Suppression.Group(dimension: 0, members: Array(0..<6)),
            Suppression.Group(dimension: 0, members: [6, 7]),
            Suppression.Group(dimension: 0, members: [8, 9]),
        ]
        let threeReasons = Suppression.decide(groups: three, people: 10, k: 3)
        #expect(threeReasons[1] == nil && threeReasons[2] == .belowK && threeReasons[3] == .belowK)
    }

    @Test("CSV: one row per group, suppressed figures empty, formulas defused")
    func csv() {
        let report = ReportBuilder.build(programID: program, facts: sixPairs().facts, k: 7, now: now)
        let csv = ReportCSV.render(report)
        let lines = csv.split(separator: "\r\n")
        #expect(lines.first == Substring(ReportCSV.header.dropLast(1)))
        #expect(lines.contains { $0.hasPrefix("all,all,12,6,12,9.0,12,2.67,6,75.0,41.7,12,100.0,12,83.3,12,no") })
        #expect(lines.contains {
            $0.hasPrefix("role,mentee,6,6,12,9.0,,") && $0.hasSuffix(",yes") && $0.split(separator: ",", omittingEmptySubsequences: false).count == 17
        })
        #expect(ReportCSV.escape("=SUM(A1)") == "'=SUM(A1)" && ReportCSV.escape("a,b") == "\"a,b\"" && ReportCSV.escape("-3") == "-3")
    }
}
