import Foundation

/// `PairScorer`'s totals for every pair of a cohort, fast: profiles are compiled once into
/// integers (skills, topics, divisions and languages become small numbers, working weeks become
/// UTC intervals), so scoring a pair allocates nothing and hashes no string. It computes the same
/// fractions with the same floating-point operations in the same order, so its totals equal
/// `PairScorer.score(...).total` exactly (the tests check it on random cohorts).
public struct CohortScorer: Sendable {
    struct Person: Sendable {
        /// (skill, level) sorted by skill name, as `PairScorer` sums them.
        var wanted: [(skill: Int32, level: Int32)]
        /// Sorted topic numbers.
        var topics: [Int32]
        var division: Int32
        var seniority: Int
        var languages: [Int32]
        /// Monday–Friday working intervals in seconds, as in `PairScorer.weeklyOverlapHours`; empty for an unknown zone.
        var week: [(Double, Double)]
        /// The person's working week among the cohort's distinct ones.
        var weekID: Int32
        var hired: Date?
        /// Indices (in the cohort's person table) of the person's managers.
        var managers: [Int32]
        var index: Int32
    }

    let scorer: PairScorer
    let mentees: [Person]
    let mentors: [Person]
    /// What every pair reads of a mentor, one flat array per field, so that scoring a pair copies
    /// no struct holding arrays (each copy would retain and release them).
    let mentorDivision: [Int32]
    let mentorSeniority: [Int]
    let mentorWeekID: [Int32]
    let mentorPerson: [Int32]
    /// Seconds since 1970, NaN when unknown.
    let mentorHired: [Double]
    let anyMentorManagers: Bool
    /// Mentor by skill: the level offered (`notOffered`: none), `skillCount` per mentor.
    let offered: [Int32]
    let skillCount: Int
    static let notOffered = Int32.min
    let endedBadly: Set<Int64>
    /// Hours in common of every two distinct working weeks (mentee's × mentor's), when the
    /// program scores working hours and the table is small enough; otherwise computed per pair.
    let overlapHours: [Double]
    let mentorWeeks: Int

    public init(scorer: PairScorer, mentees menteeProfiles: [MatchProfile], mentors mentorProfiles: [MatchProfile]) {
        self.scorer = scorer
        var skills: [String: Int32] = [:]
        var words: [String: Int32] = [:]
        var people: [UUID: Int32] = [:]
        var menteeWeeks: [[Double]: Int32] = [:]
        var mentorWeekTable: [[Double]: Int32] = [:]
        func number<Key: Hashable>(_ text: Key, in table: inout [Key: Int32]) -> Int32 {
            if let known = table[text] { return known }
            let next = Int32(table.count)
            table[text] = next
            return next
        }
        for profile in menteeProfiles + mentorProfiles where people[profile.personID] == nil {
            people[profile.personID] = Int32(people.count)
        }
        func compile(_ profile: MatchProfile, weeks: inout [[Double]: Int32]) -> Person {
            let wanted = profile.skillsWanted.sorted { $0.key < $1.key }.map { (number($0.key, in: &skills), Int32($0.value)) }
            for name in profile.skillsOffered.keys { _ = number(name, in: &skills) }
            var week: [(Double, Double)] = []
            if let offset = profile.utcOffset(on: scorer.today) {
                week = (0..<5).map { day in
                    (Double(day * 86_400 + profile.workStartMinute * 60) - offset, Double(day * 86_400 + profile.workEndMinute * 60) - offset)
                }
            }
            return Person(
                wanted: wanted, topics: profile.topics.map { number("t:" + $0, in: &words) }.sorted(),
                division: number("d:" + profile.division, in: &words), seniority: profile.seniority,
                languages: profile.languages.map { number("l:" + $0, in: &words) }.sorted(), week: week,
                weekID: number(week.flatMap { [$0.0, $0.1] }, in: &weeks), hired: profile.hireDate,
                managers: profile.managerChain.compactMap { people[$0] }, index: people[profile.personID]!
            )
        }
        mentees = menteeProfiles.map { compile($0, weeks: &menteeWeeks) }
        mentors = mentorProfiles.map { compile($0, weeks: &mentorWeekTable) }
        mentorWeeks = mentorWeekTable.count
        if scorer.criteria.contains(where: { $0.kind == .workingHours }), menteeWeeks.count * mentorWeekTable.count <= 1 << 20 {
            var table = [Double](repeating: 0, count: menteeWeeks.count * mentorWeekTable.count)
            let menteeWeek = Dictionary(mentees.map { ($0.weekID, $0.week) }, uniquingKeysWith: { first, _ in first })
            let mentorWeek = Dictionary(mentors.map { ($0.weekID, $0.week) }, uniquingKeysWith: { first, _ in first })
            for (a, weekA) in menteeWeek {
                for (b, weekB) in mentorWeek { table[Int(a) * mentorWeekTable.count + Int(b)] = Self.overlapHours(weekA, weekB) }
            }
            overlapHours = table
        } else {
            overlapHours = []
        }
        skillCount = skills.count
        var levels = [Int32](repeating: Self.notOffered, count: skills.count * mentorProfiles.count)
        for (index, profile) in mentorProfiles.enumerated() {
            for (name, level) in profile.skillsOffered { levels[index * skills.count + Int(skills[name]!)] = Int32(clamping: level) }
        }
        offered = levels
        mentorDivision = mentors.map(\.division)
        mentorSeniority = mentors.map(\.seniority)
        mentorWeekID = mentors.map(\.weekID)
        mentorPerson = mentors.map(\.index)
        mentorHired = mentors.map { $0.hired?.timeIntervalSince1970 ?? .nan }
        anyMentorManagers = mentors.contains { !$0.managers.isEmpty }
        var ended = Set<Int64>()
        for pair in scorer.endedBadly where pair.count == 2 {
            if let a = people[pair[0]], let b = people[pair[1]] { ended.insert(Int64(a) << 32 | Int64(b)) }
        }
        endedBadly = ended
    }

    public var menteeCount: Int { mentees.count }
    public var mentorCount: Int { mentors.count }

    /// The pair's total score, or nil when it is excluded (as `PairScorer.score` fails).
    public func total(mentee menteeIndex: Int, mentor mentorIndex: Int) -> Int? {
        let mentee = mentees[menteeIndex]
        return total(mentee, mentorIndex)
    }

    /// Every mentor's score for one mentee (-1: excluded or below `minimumScore`).
    public func row(mentee menteeIndex: Int, minimumScore: Int = 0, into scores: UnsafeMutableBufferPointer<Int16>) {
        let mentee = mentees[menteeIndex]
        for mentor in 0..<mentors.count {
            if let total = total(mentee, mentor), total >= minimumScore { scores[mentor] = Int16(total) } else { scores[mentor] = -1 }
        }
    }

    private func total(_ mentee: Person, _ mentor: Int) -> Int? {
        let person = mentorPerson[mentor]
        if mentee.index == person || (!mentee.managers.isEmpty && mentee.managers.contains(person)) { return nil }
        if anyMentorManagers, mentors[mentor].managers.contains(mentee.index) { return nil }
        if !endedBadly.isEmpty, endedBadly.contains(Int64(mentee.index) << 32 | Int64(person)) { return nil }
        var total = 0
        var should = 0
        for criterion in scorer.criteria {
            let fraction = self.fraction(criterion, mentee, mentor)
            if criterion.mode == .must {
                if fraction <= 0 { return nil }
            } else {
                total += PairScorer.points(scorer.maxima[should], fraction)
                should += 1
            }
        }
        return total
    }

    /// The fraction `PairScorer.evaluate` computes, without the words.
    private func fraction(_ criterion: MatchCriterion, _ mentee: Person, _ mentor: Int) -> Double {
        switch criterion.kind {
        case .skills:
            guard !mentee.wanted.isEmpty else { return 0 }
            var covered = 0.0
            let base = mentor * skillCount
            for (skill, wanted) in mentee.wanted {
                let offered = offered[base + Int(skill)]
                guard offered != Self.notOffered else { continue }
                covered += min(1, Double(offered) / Double(max(1, wanted)))
            }
            return covered / Double(mentee.wanted.count)
        case .topics:
            guard !mentee.topics.isEmpty else { return 0 }
            return Double(Self.commonCount(mentee.topics, mentors[mentor].topics)) / Double(mentee.topics.count)
        case .division:
            return (mentee.division == mentorDivision[mentor]) != criterion.preferCrossDivision ? 1 : 0
        case .seniority:
            let gap = mentorSeniority[mentor] - mentee.seniority
            return (criterion.minimumGap...max(criterion.minimumGap, criterion.maximumGap)).contains(gap) ? 1 : 0
        case .language:
            return Self.commonCount(mentee.languages, mentors[mentor].languages) > 0 ? 1 : 0
        case .workingHours:
            let hours = overlapHours.isEmpty
                ? Self.overlapHours(mentee.week, mentors[mentor].week) : overlapHours[Int(mentee.weekID) * mentorWeeks + Int(mentorWeekID[mentor])]
            return min(1, hours / Double(max(1, criterion.targetHours)))
        case .onboarding:
            guard let hired = mentee.hired, scorer.today.timeIntervalSince(hired) <= Double(criterion.newHireDays) * 86_400 else { return 1 }
            let mentorHired = mentorHired[mentor]
            guard !mentorHired.isNaN else { return 1 }
            return Date(timeIntervalSince1970: mentorHired) < hired.addingTimeInterval(-Double(criterion.newHireDays) * 86_400) ? 1 : 0
        }
    }

    /// Hours two working weeks have in common, summed as `PairScorer.weeklyOverlapHours` does.
    static func overlapHours(_ a: [(Double, Double)], _ b: [(Double, Double)]) -> Double {
        var seconds = 0.0
        for (startA, endA) in a {
            for (startB, endB) in b {
                seconds += max(0, min(endA, endB) - max(startA, startB))
            }
        }
        return seconds / 3600
    }

    /// How many numbers two sorted lists share.
    static func commonCount(_ a: [Int32], _ b: [Int32]) -> Int {
        var i = 0
        var j = 0
        var count = 0
        while i < a.count, j < b.count {
            if a[i] == b[j] {
                count += 1
                i += 1
                j += 1
            } else if a[i] < b[j] {
                i += 1
            } else {
                j += 1
            }
        }
        return count
    }

    /// The cohort's score matrix, rows computed on all cores; pairs scoring below `minimumScore`
    /// count as excluded.
    public func matrix(minimumScore: Int = 0) -> ScoreMatrix {
        ScoreMatrix(mentees: mentees.count, mentors: mentors.count) { mentee, row in
            self.row(mentee: mentee, minimumScore: minimumScore, into: row)
        }
    }
}
