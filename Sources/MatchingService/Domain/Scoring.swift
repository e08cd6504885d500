public import Foundation
public import TandemProtocols

/// What matching needs to know about a participant of a program.
public struct MatchProfile: Sendable, Hashable {
    public var personID: UUID
    /// Skill name (lower-cased) → level 1–5.
    public var skillsOffered: [String: Int]
    public var skillsWanted: [String: Int]
    /// Goal tags and topics the person is open to (lower-cased).
    public var topics: Set<String>
    public var division: String
    public var seniority: Int
    public var languages: Set<String>
    /// IANA time zone and working hours (minutes after local midnight), Monday–Friday.
    public var timeZone: String
    public var workStartMinute: Int
    public var workEndMinute: Int
    public var hireDate: Date?
    /// The person's managers, nearest first (their reporting line).
    public var managerChain: [UUID]
    /// The zone's offset from UTC in seconds, when fixed in advance (`fixingZoneOffset(on:)`) so
    /// that scoring many pairs does not look the zone up for each.
    public var utcOffsetSeconds: Int?

    public init(
        personID: UUID, skillsOffered: [String: Int] = [:], skillsWanted: [String: Int] = [:], topics: Set<String> = [], division: String,
        seniority: Int, languages: Set<String> = ["en"], timeZone: String = "UTC", workStartMinute: Int = 9 * 60, workEndMinute: Int = 17 * 60,
        hireDate: Date? = nil, managerChain: [UUID] = []
    ) {
        self.personID = personID
        self.skillsOffered = skillsOffered
        self.skillsWanted = skillsWanted
        self.topics = topics
        self.division = division
        self.seniority = seniority
        self.languages = languages
        self.timeZone = timeZone
        self.workStartMinute = workStartMinute
        self.workEndMinute = workEndMinute
        self.hireDate = hireDate
        self.managerChain = managerChain
    }

    /// The zone's offset on `date`, in seconds; nil for an unknown zone.
    func utcOffset(on date: Date) -> Double? {
        if let utcOffsetSeconds { return Double(utcOffsetSeconds) }
        return TimeZone(identifier: timeZone).map { Double($0.secondsFromGMT(for: date)) }
    }

    /// The profile with its zone's offset on `date` looked up once.
    public func fixingZoneOffset(on date: Date) -> MatchProfile {
        var copy = self
        copy.utcOffsetSeconds = TimeZone(identifier: timeZone)?.secondsFromGMT(for: date)
        return copy
    }
}

/// One criterion of a program's matching: a "must" (pairs failing it are never proposed) or a
/// weighted "should" (it adds to the 0–100 score).
public struct MatchCriterion: Sendable, Hashable, Codable {
    /// What the criterion compares: the protocol's kinds (Protocols/Matching.md).
    public typealias Kind = CriterionKind
    /// A filter (`must`) or points (`should`).
    public typealias Mode = CriterionMode

    public var kind: Kind
    public var mode: Mode
    /// For "should": its weight (1–100).
    public var weight: Int
    public var preferCrossDivision: Bool
    public var minimumGap: Int
    public var maximumGap: Int
    public var targetHours: Int
    public var newHireDays: Int

    public init(
        _ kind: Kind, _ mode: Mode = .should, weight: Int = 10, preferCrossDivision: Bool = true, minimumGap: Int = 1, maximumGap: Int = 4,
        targetHours: Int = 10, newHireDays: Int = 90
    ) {
        self.kind = kind
        self.mode = mode
        self.weight = weight
        self.preferCrossDivision = preferCrossDivision
        self.minimumGap = minimumGap
        self.maximumGap = maximumGap
        self.targetHours = targetHours
        self.newHireDays = newHireDays
    }
}

/// Why a pair may not be matched at all.
public enum PairExclusion: Error, Sendable, Hashable, CustomStringConvertible {
    case samePerson
    /// The mentor is in the mentee's reporting line (its manager, or above), or the reverse.
    case reportingLine
    /// The pair's earlier match ended badly.
    case endedBadly
    /// A "must" criterion is not met.
    case must(MatchCriterion.Kind, String)

    public var description: String {
        switch self {
        case .samePerson: "the same person"
        case .reportingLine: "same reporting line (a manager and their report)"
        case .endedBadly: "an earlier match of these two ended badly"
        case .must(let kind, let detail): "must \(kind.rawValue): \(detail)"
        }
    }
}

/// A pair's score and where each point comes from; the parts add up to the total.
public struct PairScore: Sendable, Hashable {
    public struct Part: Sendable, Hashable {
        public var criterion: MatchCriterion.Kind
        /// Points this criterion contributes (0 to its share of 100).
        public var points: Int
        /// The most it could contribute.
        public var maximum: Int
        public var detail: String
    }

    public var total: Int
    public var parts: [Part]
}

/// Scores mentee–mentor pairs under a program's criteria, with an explanation. Each "should"
/// criterion has a share of the 100 points by weight (whole numbers adding up to 100); a pair
/// gets `round(share × fraction met)` of it, so the parts always add up to the score.
/// `CohortScorer` computes the same totals fast for whole cohorts.
public struct PairScorer: Sendable {
    public let criteria: [MatchCriterion]
    /// Pairs (mentee, mentor) whose earlier match ended badly.
    public var endedBadly: Set<[UUID]> = []
    /// The day "new hire" and time-zone offsets are measured on.
    public var today: Date
    /// The "should" criteria and their shares of 100 points.
    let shoulds: [MatchCriterion]
    let maxima: [Int]

    public init(criteria: [MatchCriterion], today: Date = Date()) {
        self.criteria = criteria
        self.today = today
        shoulds = criteria.filter { $0.mode == .should }
        let weights = shoulds.map { max(0, $0.weight) }
        let weightSum = weights.reduce(0, +)
        maxima = weightSum == 0 ? weights.map { _ in 0 } : Self.apportion(weights.map { 100 * Double($0) / Double(weightSum) }, total: 100)
    }

    /// The pair's score, or why it cannot be a pair.
    public func score(mentee: MatchProfile, mentor: MatchProfile) -> Result<PairScore, PairExclusion> {
        if let exclusion = basicExclusion(mentee: mentee, mentor: mentor) { return .failure(exclusion) }
        for criterion in criteria where criterion.mode == .must {
            let (fraction, detail) = evaluate(criterion, mentee, mentor)
            if fraction <= 0 { return .failure(.must(criterion.kind, detail)) }
        }
        let parts = shoulds.indices.map { index in
            let (fraction, detail) = evaluate(shoulds[index], mentee, mentor)
            return PairScore.Part(criterion: shoulds[index].kind, points: Self.points(maxima[index], fraction), maximum: maxima[index], detail: detail)
        }
        return .success(PairScore(total: parts.reduce(0) { $0 + $1.points }, parts: parts))
    }

    /// The same person, a reporting line, or an earlier match that ended badly.
    func basicExclusion(mentee: MatchProfile, mentor: MatchProfile) -> PairExclusion? {
        if mentee.personID == mentor.personID { return .samePerson }
        if mentee.managerChain.contains(mentor.personID) || mentor.managerChain.contains(mentee.personID) { return .reportingLine }
        if !endedBadly.isEmpty, endedBadly.contains([mentee.personID, mentor.personID]) { return .endedBadly }
        return nil
    }

    /// A criterion's points: its share times the fraction met, rounded.
    static func points(_ maximum: Int, _ fraction: Double) -> Int {
        Int((Double(maximum) * min(1, max(0, fraction))).rounded())
    }

    /// Integers adding up to `total`, each the floor of its value or one more (largest remainders first).
    static func apportion(_ values: [Double], total: Int) -> [Int] {
        var result = values.map { Int($0.rounded(.down)) }
        var spare = total - result.reduce(0, +)
        let order = values.indices.sorted { (values[$0] - values[$0].rounded(.down), -$0) > (values[$1] - values[$1].rounded(.down), -$1) }
        for index in order where spare > 0 {
            result[index] += 1
            spare -= 1
        }
        return result
    }

    /// How well the pair meets `criterion`, 0–1, and a sentence saying why.
    func evaluate(_ criterion: MatchCriterion, _ mentee: MatchProfile, _ mentor: MatchProfile) -> (Double, String) {
        switch criterion.kind {
        case .skills:
            guard !mentee.skillsWanted.isEmpty else { return (0, "the mentee wants no skills") }
            var covered = 0.0
            var names: [String] = []
            for (skill, wanted) in mentee.skillsWanted.sorted(by: { $0.key < $1.key }) {
                guard let offered = mentor.skillsOffered[skill] else { continue }
                covered += min(1, Double(offered) / Double(max(1, wanted)))
                names.append("\(skill) \(offered)/\(wanted)")
            }
            let fraction = covered / Double(mentee.skillsWanted.count)
            return (fraction, names.isEmpty ? "offers none of the skills wanted" : "offers " + names.joined(separator: ", ") + " (level offered/wanted)")
        case .topics:
            guard !mentee.topics.isEmpty else { return (0, "the mentee named no goals or topics") }
            let common = mentee.topics.intersection(mentor.topics).sorted()
            return (Double(common.count) / Double(mentee.topics.count), common.isEmpty ? "no topic in common" : "in common: " + common.joined(separator: ", "))
        case .division:
            let same = mentee.division == mentor.division
            let met = same != criterion.preferCrossDivision
            return (met ? 1 : 0, same ? "same division (\(mentor.division))" : "another division (\(mentor.division))")
        case .seniority:
            let gap = mentor.seniority - mentee.seniority
            let met = (criterion.minimumGap...max(criterion.minimumGap, criterion.maximumGap)).contains(gap)
            return (met ? 1 : 0, "mentor \(gap) level\(abs(gap) == 1 ? "" : "s") more senior (wanted \(criterion.minimumGap)–\(criterion.maximumGap))")
        case .language:
            let common = mentee.languages.intersection(mentor.languages).sorted()
            return (common.isEmpty ? 0 : 1, common.isEmpty ? "no language in common" : "both speak " + common.joined(separator: ", "))
        case .workingHours:
            let hours = Self.weeklyOverlapHours(mentee, mentor, on: today)
            let target = max(1, criterion.targetHours)
            return (min(1, hours / Double(target)), String(format: "%.1f working hours a week in common (target %d)", hours, target))
        case .onboarding:
            guard let hired = mentee.hireDate, today.timeIntervalSince(hired) <= Double(criterion.newHireDays) * 86_400 else {
                return (1, "the mentee is not a new hire")
            }
            guard let mentorHired = mentor.hireDate else { return (1, "new hire; the mentor's start date is not known") }
            let met = mentorHired < hired.addingTimeInterval(-Double(criterion.newHireDays) * 86_400)
            return (met ? 1 : 0, met ? "new hire, with an established colleague" : "new hire, and the mentor is new too")
        }
    }

    /// Hours per week (Monday–Friday in each person's own zone) when both are at work,
    /// in the week of `date`.
    static func weeklyOverlapHours(_ a: MatchProfile, _ b: MatchProfile, on date: Date) -> Double {
        guard let offsetA = a.utcOffset(on: date), let offsetB = b.utcOffset(on: date) else { return 0 }
        func intervals(_ profile: MatchProfile, _ offset: Double) -> [(Double, Double)] {
            // Local Monday 00:00 of the week, in UTC seconds from an arbitrary Monday origin.
            return (0..<5).map { day in
                let start = Double(day * 86_400 + profile.workStartMinute * 60) - offset
                let end = Double(day * 86_400 + profile.workEndMinute * 60) - offset
                return (start, end)
            }
        }
        var seconds = 0.0
        for (startA, endA) in intervals(a, offsetA) {
            for (startB, endB) in intervals(b, offsetB) {
                seconds += max(0, min(endA, endB) - max(startA, startB))
            }
        }
        return seconds / 3600
    }

    /// "Why not mentor X": the two mentors' scores for `mentee`, criterion by criterion.
    public func compare(mentee: MatchProfile, _ first: MatchProfile, _ second: MatchProfile) -> [(criterion: MatchCriterion.Kind, first: Int?, second: Int?)] {
        let a = try? score(mentee: mentee, mentor: first).get()
        let b = try? score(mentee: mentee, mentor: second).get()
        return criteria.filter { $0.mode == .should }.map { criterion in
            (criterion.kind, a?.parts.first { $0.criterion == criterion.kind }?.points, b?.parts.first { $0.criterion == criterion.kind }?.points)
        }
    }
}
