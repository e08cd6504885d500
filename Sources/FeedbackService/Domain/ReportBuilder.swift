import Foundation
import TandemProtocols

/// Months as whole numbers (year × 12 + month − 1), so that cuts by month are integer keys.
enum Month {
    static func index(_ date: Date) -> Int32 {
        let days = Int(floor(date.timeIntervalSince1970 / 86_400))
        let (year, month, _) = civil(days)
        return Int32(year * 12 + month - 1)
    }

    static func label(_ index: Int32) -> String {
        let year = Int(index) / 12, month = Int(index) % 12 + 1
        return String(format: "%04d-%02d", year, month)
    }

    /// `YYYY-MM` to an index; nil when malformed.
    static func parse(_ text: String) -> Int32? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let year = Int(parts[0]), let month = Int(parts[1]),
              (1970...9999).contains(year), (1...12).contains(month) else { return nil }
        return Int32(year * 12 + month - 1)
    }

    /// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
    static func civil(_ days: Int) -> (Int, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}

/// Everything a program report is computed from, in columns of small integers (one entry per
/// row of the store), so that 100,000 answers aggregate in a few milliseconds.
struct ReportFacts: Sendable {
    /// Matches that started (the program's participants), by match key.
    struct MatchRow: Sendable {
        var key: Int64
        var mentor: Int32
        var mentee: Int32
        /// Month the match started (its cohort).
        var cohort: Int32
    }

    /// Survey answers, oldest first. `person` and `match` are dense indexes (persons) and match keys.
    struct Answers: Sendable {
        var person: [Int32] = []
        var match: [Int64] = []
        /// 0 mentor, 1 mentee.
        var role: [UInt8] = []
        var division: [Int32] = []
        var month: [Int32] = []
        /// -1 not answered, 0 negative, 1 positive.
        var competency: [Int8] = []
        var relationship: [Int8] = []
        var retention: [Int8] = []
        var count: Int { person.count }
    }

    /// Session ratings.
    struct Ratings: Sendable {
        var person: [Int32] = []
        var match: [Int64] = []
        var role: [UInt8] = []
        var division: [Int32] = []
        var month: [Int32] = []
        var rating: [UInt8] = []
        var count: Int { person.count }
    }

    /// Held meetings.
    struct Meetings: Sendable {
        var match: [Int64] = []
        var month: [Int32] = []
        var seconds: [Int32] = []
    }

    /// Surveys that fell due, and whether they were answered.
    struct Due: Sendable {
        var person: [Int32] = []
        var match: [Int64] = []
        var role: [UInt8] = []
        var month: [Int32] = []
        var answered: [Bool] = []
    }

    var matches: [MatchRow] = []
    var answers = Answers()
    var ratings = Ratings()
    var meetings = Meetings()
    var due = Due()
    /// Division names by key.
    var divisions: [Int32: String] = [:]
    /// How many dense person indexes there are.
    var people = 0
    /// Free-text answers whose authors allowed admins to read them.
    var sharedComments: [String] = []
}

/// Builds a program report from facts: the whole program, cuts by cohort, division, role and
/// month, then k-anonymity (`Suppression`).
enum ReportBuilder {
    static let roles = ["mentor", "mentee"]

    /// One group's running totals. Answers are kept in arrays indexed by person (one byte per
    /// person and measure), so that taking each person's latest answer is a store, not a hash.
    private struct Cell {
        var dimension: ReportDimension?
        var group: String
        /// Whether each person answered anything in this group.
        var responded: [Bool]
        var participants = Set<Int32>()
        var matches = Set<Int64>()
        var meetingsHeld = 0
        var seconds = 0
        var ratingSum = 0
        var ratings = 0
        var due = 0
        var answered = 0
        /// Latest answer per person for each return measure: -1 none, 0 negative, 1 positive.
        var competency: [Int8]
        var relationship: [Int8]
        var retention: [Int8]
        var hasActivity = true
        var hasResponseRate = true

        init(dimension: ReportDimension?, group: String, people: Int) {
            self.dimension = dimension
            self.group = group
            responded = [Bool](repeating: false, count: people)
            competency = [Int8](repeating: -1, count: people)
            relationship = competency
            retention = competency
        }

        var respondents: [Int32] { responded.indices.filter { responded[$0] }.map(Int32.init) }
    }

    static func build(programID: UUID, facts: ReportFacts, k: Int, now: Date) -> ProgramReport {
        let people = facts.people
        var cells: [Cell] = [Cell(dimension: nil, group: "all", people: people)]
        var index: [String: Int] = [:]
        func cell(_ dimension: ReportDimension, _ group: String) -> Int {
            let key = dimension.rawValue + "/" + group
            if let existing = index[key] { return existing }
            var new = Cell(dimension: dimension, group: group, people: people)
            new.hasActivity = dimension != .division
            new.hasResponseRate = dimension != .division
            cells.append(new)
            index[key] = cells.count - 1
            return cells.count - 1
        }
        var cohortCells: [Int32: Int] = [:]
        var cohortOf: [Int64: Int] = [:]
        for match in facts.matches {
            if cohortCells[match.cohort] == nil { cohortCells[match.cohort] = cell(.cohort, Month.label(match.cohort)) }
            cohortOf[match.key] = cohortCells[match.cohort]
        }
        func cohortCell(_ match: Int64) -> Int? { cohortOf[match] }
        let roleCells = [cell(.role, roles[0]), cell(.role, roles[1])]
        var divisionCells: [Int32: Int] = [:]
        func divisionCell(_ key: Int32) -> Int? {
            guard key >= 0 else { return nil }
            if let existing = divisionCells[key] { return existing }
            let new = cell(.division, facts.divisions[key] ?? "unknown")
            divisionCells[key] = new
            return new
        }
        var monthCells: [Int32: Int] = [:]
        func monthCell(_ month: Int32) -> Int {
            if let existing = monthCells[month] { return existing }
            let new = cell(.month, Month.label(month))
            monthCells[month] = new
            return new
        }

        // Activity: participants and matches by role and cohort; meetings by cohort and month.
        for match in facts.matches {
            let cohort = cohortOf[match.key]!
            for target in [0, cohort] {
                cells[target].participants.insert(match.mentor)
                cells[target].participants.insert(match.mentee)
                cells[target].matches.insert(match.key)
            }
            cells[roleCells[0]].participants.insert(match.mentor)
            cells[roleCells[0]].matches.insert(match.key)
            cells[roleCells[1]].participants.insert(match.mentee)
            cells[roleCells[1]].matches.insert(match.key)
        }
        let matchPeople = Dictionary(facts.matches.map { ($0.key, ($0.mentor, $0.mentee)) }, uniquingKeysWith: { a, _ in a })
        for row in facts.meetings.match.indices {
            let match = facts.meetings.match[row]
            let month = monthCell(facts.meetings.month[row])
            var targets = [0, month] + roleCells
            if let cohort = cohortCell(match) { targets.append(cohort) }
            for target in targets {
                cells[target].meetingsHeld += 1
                cells[target].seconds += Int(facts.meetings.seconds[row])
            }
            cells[month].matches.insert(match)
            if let people = matchPeople[match] {
                cells[month].participants.insert(people.0)
                cells[month].participants.insert(people.1)
            }
        }

        // Answers: the latest per person and measure in each group they belong to.
        var targets: [Int] = []
        targets.reserveCapacity(5)
        for row in 0..<facts.answers.count {
            let person = facts.answers.person[row]
            targets.removeAll(keepingCapacity: true)
            targets.append(0)
            targets.append(roleCells[Int(facts.answers.role[row])])
            if let division = divisionCell(facts.answers.division[row]) { targets.append(division) }
            if let cohort = cohortCell(facts.answers.match[row]) { targets.append(cohort) }
            targets.append(monthCell(facts.answers.month[row]))
            let competency = facts.answers.competency[row], relationship = facts.answers.relationship[row], retention = facts.answers.retention[row]
            let index = Int(person)
            for target in targets {
                cells[target].responded[index] = true
                if competency >= 0 { cells[target].competency[index] = competency }
                if relationship >= 0 { cells[target].relationship[index] = relationship }
                if retention >= 0 { cells[target].retention[index] = retention }
            }
        }
        for row in 0..<facts.ratings.count {
            let person = facts.ratings.person[row]
            targets.removeAll(keepingCapacity: true)
            targets.append(0)
            targets.append(roleCells[Int(facts.ratings.role[row])])
            if let division = divisionCell(facts.ratings.division[row]) { targets.append(division) }
            if let cohort = cohortCell(facts.ratings.match[row]) { targets.append(cohort) }
            targets.append(monthCell(facts.ratings.month[row]))
            for target in targets {
                cells[target].responded[Int(person)] = true
                cells[target].ratingSum += Int(facts.ratings.rating[row])
                cells[target].ratings += 1
            }
        }
        for row in facts.due.person.indices {
            targets.removeAll(keepingCapacity: true)
            targets.append(0)
            targets.append(roleCells[Int(facts.due.role[row])])
            if let cohort = cohortCell(facts.due.match[row]) { targets.append(cohort) }
            targets.append(monthCell(facts.due.month[row]))
            for target in targets {
                cells[target].due += 1
                if facts.due.answered[row] { cells[target].answered += 1 }
            }
        }

        // k-anonymity.
        let dimensionNumber: [ReportDimension: Int] = [.cohort: 0, .division: 1, .role: 2, .month: 3]
        let members = cells.map(\.respondents)
        let groups = cells.indices.map { index in
            Suppression.Group(
                dimension: cells[index].dimension.map { dimensionNumber[$0]! }, members: members[index], comparable: cells[index].dimension != .month
            )
        }
        let reasons = Suppression.decide(groups: groups, people: facts.people, k: k)

        func figure(_ answers: [Int8]) -> ReturnFigure? {
            var positive = 0, respondents = 0
            for answer in answers where answer >= 0 {
                respondents += 1
                positive += Int(answer)
            }
            guard respondents > 0 else { return nil }
            return ReturnFigure(percent: rounded(Double(positive) * 100 / Double(respondents)), respondents: respondents)
        }
        func report(_ position: Int) -> ReportCell {
            let cell = cells[position]
            var result = ReportCell(group: cell.group)
            if cell.hasActivity {
                result.participants = cell.participants.count
                result.matches = cell.matches.count
                result.meetingsHeld = cell.meetingsHeld
                result.mentoringHours = rounded(Double(cell.seconds) / 3600)
            }
            if let reason = reasons[position] {
                result.suppressed = true
                result.suppressedBecause = reason.rawValue
                return result
            }
            result.respondents = members[position].count
            if cell.ratings > 0 {
                result.averageRating = (Double(cell.ratingSum) / Double(cell.ratings) * 100).rounded() / 100
                result.ratings = cell.ratings
            }
            if cell.hasResponseRate, cell.due > 0 { result.responseRate = rounded(Double(cell.answered) * 100 / Double(cell.due)) }
            result.competency = figure(cell.competency)
            result.relationship = figure(cell.relationship)
            result.retention = figure(cell.retention)
            return result
        }
        var overall = report(0)
        if !overall.suppressed, !facts.sharedComments.isEmpty { overall.sharedComments = facts.sharedComments }
        var cuts: [ReportCut] = []
        for dimension in [ReportDimension.cohort, .division, .role, .month] {
            let positions = cells.indices.filter { cells[$0].dimension == dimension }.sorted { cells[$0].group < cells[$1].group }
            cuts.append(ReportCut(dimension: dimension, cells: positions.map(report)))
        }
        return ProgramReport(programID: programID, k: k, overall: overall, cuts: cuts, generatedAt: now)
    }

    /// One decimal place.
    static func rounded(_ value: Double) -> Double {
        (value * 10).rounded() / 10
    }
}
