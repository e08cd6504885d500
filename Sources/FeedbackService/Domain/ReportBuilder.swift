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

        mutating func reserve(_ capacity: Int) {
            person.reserveCapacity(capacity)
            match.reserveCapacity(capacity)
            role.reserveCapacity(capacity)
            division.reserveCapacity(capacity)
            month.reserveCapacity(capacity)
            competency.reserveCapacity(capacity)
            relationship.reserveCapacity(capacity)
            retention.reserveCapacity(capacity)
        }
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
///
/// Every group is created up front; answers then go into flat arrays indexed by group and
/// person (one byte per person, group and measure), so that keeping each person's latest answer
/// is a store into memory rather than a hash, and the hot loops touch no shared state.
enum ReportBuilder {
    static let roles = ["mentor", "mentee"]

    /// One group's activity totals (answers live in the flat arrays).
    private struct Cell {
        var dimension: ReportDimension?
        var group: String
        var participants = 0
        var matches = 0
        var meetingsHeld = 0
        var seconds = 0
        var ratingSum = 0
        var ratings = 0
        var due = 0
        var answered = 0

        var hasActivity: Bool { dimension != .division }
        var hasResponseRate: Bool { dimension != .division }
    }

    static func build(programID: UUID, facts: ReportFacts, k: Int, now: Date) -> ProgramReport {
        // Groups: overall, roles, cohorts, divisions, months.
        var cells = [Cell(dimension: nil, group: "all"), Cell(dimension: .role, group: roles[0]), Cell(dimension: .role, group: roles[1])]
        let roleCells = [1, 2]
        var cohortCellOf: [Int32: Int] = [:]
        for cohort in Set(facts.matches.map(\.cohort)).sorted() {
            cohortCellOf[cohort] = cells.count
            cells.append(Cell(dimension: .cohort, group: Month.label(cohort)))
        }
        let slots = MatchSlots(facts.matches.map(\.key))
        let cohortOfSlot = facts.matches.map { cohortCellOf[$0.cohort]! }
        func cohort(ofMatch key: Int64) -> Int? {
            let slot = slots[key]
            return slot < 0 ? nil : cohortOfSlot[slot]
        }
        let divisionKeys = distinct([facts.answers.division, facts.ratings.division])
        var divisionCellOf = [Int](repeating: -1, count: Int(divisionKeys.last ?? 0) + 1)
        for key in divisionKeys {
            divisionCellOf[Int(key)] = cells.count
            cells.append(Cell(dimension: .division, group: facts.divisions[key] ?? "unknown"))
        }
        func division(_ key: Int32) -> Int? {
            key >= 0 && Int(key) < divisionCellOf.count && divisionCellOf[Int(key)] >= 0 ? divisionCellOf[Int(key)] : nil
        }
        let allMonths = distinct([facts.answers.month, facts.ratings.month, facts.meetings.month, facts.due.month])
        let firstMonth = allMonths.first ?? 0
        var monthCellOf = [Int](repeating: -1, count: allMonths.isEmpty ? 0 : Int((allMonths.last ?? 0) - firstMonth) + 1)
        for month in allMonths {
            monthCellOf[Int(month - firstMonth)] = cells.count
            cells.append(Cell(dimension: .month, group: Month.label(month)))
        }
        let people = facts.people, groupCount = cells.count, matchCount = facts.matches.count

        // Activity: participants and matches by role and cohort; meetings by role, cohort and month
        // (marks in flat group × person and group × match arrays, counted at the end).
        var participantMarks = [Bool](repeating: false, count: groupCount * people)
        var matchMarks = [Bool](repeating: false, count: groupCount * matchCount)
        for (slot, match) in facts.matches.enumerated() {
            for target in [0, cohortOfSlot[slot]] {
                participantMarks[target * people + Int(match.mentor)] = true
                participantMarks[target * people + Int(match.mentee)] = true
                matchMarks[target * matchCount + slot] = true
            }
            participantMarks[roleCells[0] * people + Int(match.mentor)] = true
            participantMarks[roleCells[1] * people + Int(match.mentee)] = true
            matchMarks[roleCells[0] * matchCount + slot] = true
            matchMarks[roleCells[1] * matchCount + slot] = true
        }
        var meetingsAll = 0, secondsAll = 0
        for row in facts.meetings.match.indices {
            let seconds = Int(facts.meetings.seconds[row])
            meetingsAll += 1
            secondsAll += seconds
            let month = monthCellOf[Int(facts.meetings.month[row] - firstMonth)]
            cells[month].meetingsHeld += 1
            cells[month].seconds += seconds
            let slot = slots[facts.meetings.match[row]]
            guard slot >= 0 else { continue }
            matchMarks[month * matchCount + slot] = true
            participantMarks[month * people + Int(facts.matches[slot].mentor)] = true
            participantMarks[month * people + Int(facts.matches[slot].mentee)] = true
            cells[cohortOfSlot[slot]].meetingsHeld += 1
            cells[cohortOfSlot[slot]].seconds += seconds
        }
        for target in [0] + roleCells {
            cells[target].meetingsHeld += meetingsAll
            cells[target].seconds += secondsAll
        }
        for group in 0..<groupCount {
            var participants = 0, matches = 0
            for person in 0..<people where participantMarks[group * people + person] { participants += 1 }
            for slot in 0..<matchCount where matchMarks[group * matchCount + slot] { matches += 1 }
            cells[group].participants = participants
            cells[group].matches = matches
        }

        // Answers and ratings into flat arrays: [group × people].
        var responded = [Bool](repeating: false, count: groupCount * people)
        var competency = [Int8](repeating: -1, count: groupCount * people)
        var relationship = competency
        var retention = competency
        var ratingSums = [Int](repeating: 0, count: groupCount)
        var ratingCounts = [Int](repeating: 0, count: groupCount)
        responded.withUnsafeMutableBufferPointer { responded in
            competency.withUnsafeMutableBufferPointer { competency in
                relationship.withUnsafeMutableBufferPointer { relationship in
                    retention.withUnsafeMutableBufferPointer { retention in
                        var targets = [Int](repeating: 0, count: 5)
                        let answers = facts.answers
                        for row in 0..<answers.count {
                            let person = Int(answers.person[row])
                            var count = 0
                            targets[count] = 0; count += 1
                            targets[count] = roleCells[Int(answers.role[row])]; count += 1
                            if let division = division(answers.division[row]) { targets[count] = division; count += 1 }
                            if let cohort = cohort(ofMatch: answers.match[row]) { targets[count] = cohort; count += 1 }
                            targets[count] = monthCellOf[Int(answers.month[row] - firstMonth)]; count += 1
                            let c = answers.competency[row], r = answers.relationship[row], t = answers.retention[row]
                            for index in 0..<count {
                                let slot = targets[index] * people + person
                                responded[slot] = true
                                if c >= 0 { competency[slot] = c }
                                if r >= 0 { relationship[slot] = r }
                                if t >= 0 { retention[slot] = t }
                            }
                        }
                        let ratings = facts.ratings
                        for row in 0..<ratings.count {
                            let person = Int(ratings.person[row])
                            var count = 0
                            targets[count] = 0; count += 1
                            targets[count] = roleCells[Int(ratings.role[row])]; count += 1
                            if let division = division(ratings.division[row]) { targets[count] = division; count += 1 }
                            if let cohort = cohort(ofMatch: ratings.match[row]) { targets[count] = cohort; count += 1 }
                            targets[count] = monthCellOf[Int(ratings.month[row] - firstMonth)]; count += 1
                            let rating = Int(ratings.rating[row])
                            for index in 0..<count {
                                let target = targets[index]
                                responded[target * people + person] = true
                                ratingSums[target] += rating
                                ratingCounts[target] += 1
                            }
                        }
                    }
                }
            }
        }
        var dueCounts = [Int](repeating: 0, count: groupCount)
        var answeredCounts = [Int](repeating: 0, count: groupCount)
        for row in facts.due.person.indices {
            let answered = facts.due.answered[row] ? 1 : 0
            for target in [0, roleCells[Int(facts.due.role[row])], monthCellOf[Int(facts.due.month[row] - firstMonth)]] {
                dueCounts[target] += 1
                answeredCounts[target] += answered
            }
            if let cohort = cohort(ofMatch: facts.due.match[row]) {
                dueCounts[cohort] += 1
                answeredCounts[cohort] += answered
            }
        }

        // k-anonymity.
        let dimensionNumber: [ReportDimension: Int] = [.cohort: 0, .division: 1, .role: 2, .month: 3]
        let members: [[Int32]] = (0..<groupCount).map { group in
            var list: [Int32] = []
            let base = group * people
            for person in 0..<people where responded[base + person] { list.append(Int32(person)) }
            return list
        }
        let groups = cells.indices.map { index in
            Suppression.Group(
                dimension: cells[index].dimension.map { dimensionNumber[$0]! }, members: members[index], comparable: cells[index].dimension != .month
            )
        }
        let reasons = Suppression.decide(groups: groups, people: people, k: k)

        func figure(_ answers: [Int8], group: Int) -> ReturnFigure? {
            var positive = 0, respondents = 0
            for person in members[group] {
                let answer = answers[group * people + Int(person)]
                guard answer >= 0 else { continue }
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
                result.participants = cell.participants
                result.matches = cell.matches
                result.meetingsHeld = cell.meetingsHeld
                result.mentoringHours = rounded(Double(cell.seconds) / 3600)
            }
            if let reason = reasons[position] {
                result.suppressed = true
                result.suppressedBecause = reason.rawValue
                return result
            }
            result.respondents = members[position].count
            if ratingCounts[position] > 0 {
                result.averageRating = (Double(ratingSums[position]) / Double(ratingCounts[position]) * 100).rounded() / 100
                result.ratings = ratingCounts[position]
            }
            if cell.hasResponseRate, dueCounts[position] > 0 {
                result.responseRate = rounded(Double(answeredCounts[position]) * 100 / Double(dueCounts[position]))
            }
            result.competency = figure(competency, group: position)
            result.relationship = figure(relationship, group: position)
            result.retention = figure(retention, group: position)
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

    /// The distinct non-negative values of some columns, ascending (a presence array between the
    /// smallest and the largest value, no hashing).
    static func distinct(_ columns: [[Int32]]) -> [Int32] {
        var low = Int32.max, high = Int32.min
        for column in columns {
            for value in column where value >= 0 {
                low = min(low, value)
                high = max(high, value)
            }
        }
        guard low <= high else { return [] }
        var present = [Bool](repeating: false, count: Int(high - low) + 1)
        for column in columns {
            for value in column where value >= 0 { present[Int(value - low)] = true }
        }
        return present.indices.filter { present[$0] }.map { Int32($0) + low }
    }

    /// One decimal place.
    static func rounded(_ value: Double) -> Double {
        (value * 10).rounded() / 10
    }
}

/// Match keys to positions: an array indexed by key when the keys are small integers (as the
/// store's are), a dictionary otherwise.
struct MatchSlots {
    private var table: [Int32] = []
    private var dictionary: [Int64: Int] = [:]
    private let dense: Bool

    init(_ keys: [Int64]) {
        let largest = keys.max() ?? 0
        dense = (keys.min() ?? 0) >= 0 && largest < 16_000_000
        if dense {
            table = [Int32](repeating: -1, count: Int(largest) + 1)
            for (slot, key) in keys.enumerated() { table[Int(key)] = Int32(slot) }
        } else {
            for (slot, key) in keys.enumerated() { dictionary[key] = slot }
        }
    }

    /// The position of `key`, or -1.
    subscript(key: Int64) -> Int {
        if dense { return key >= 0 && Int(key) < table.count ? Int(table[Int(key)]) : -1 }
        return dictionary[key] ?? -1
    }
}
