import Foundation
import TandemProtocols
import TandemWire

/// The rules for what identity stores. Each check returns a field violation naming the field
/// and the rule, so a request with several problems reports them all at once.
enum Validation {
    typealias Violation = ErrorDetail.FieldViolation

    static func email(_ value: String, field: String = "email") -> Violation? {
        let parts = value.split(separator: "@", omittingEmptySubsequences: false)
        guard value.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."),
              value.allSatisfy({ !$0.isWhitespace && $0 != "," && $0 != ";" }) else {
            return Violation(field: field, rule: "format", description: "'\(value.prefix(80))' is not an email address")
        }
        return nil
    }

    /// Emails are compared without case.
    static func normalizedEmail(_ value: String) -> String {
        value.trimmingCharacters(in: .whitespaces).lowercased()
    }

    static func timeZone(_ value: String, field: String = "timeZone") -> Violation? {
        guard TimeZone(identifier: value) != nil, value.contains("/") || value == "UTC" else {
            return Violation(field: field, rule: "time-zone", description: "'\(value.prefix(60))' is not an IANA time zone (e.g. Europe/London)")
        }
        return nil
    }

    static func range(_ value: Int, _ bounds: ClosedRange<Int>, field: String) -> Violation? {
        guard bounds.contains(value) else {
            return Violation(field: field, rule: "range", description: "must be between \(bounds.lowerBound) and \(bounds.upperBound), got \(value)")
        }
        return nil
    }

    static func nonEmpty(_ value: String, field: String, maxLength: Int = 200) -> Violation? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty { return Violation(field: field, rule: "required", description: "must not be empty") }
        if trimmed.count > maxLength { return Violation(field: field, rule: "length", description: "must be at most \(maxLength) characters") }
        return nil
    }

    /// `YYYY-MM-DD`, a real calendar date.
    static func date(_ value: String, field: String) -> Violation? {
        let parts = value.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2]),
              (1900...2200).contains(year), (1...12).contains(month), (1...daysIn(month: month, year: year)).contains(day) else {
            return Violation(field: field, rule: "date", description: "'\(value.prefix(20))' is not a date (YYYY-MM-DD)")
        }
        return nil
    }

    private static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    static func slug(_ value: String) -> Violation? {
        guard (2...40).contains(value.count), value.allSatisfy({ ($0.isLetter && $0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "-" }),
              value.first != "-", value.last != "-" else {
            return Violation(field: "slug", rule: "format", description: "must be 2–40 lower-case letters, digits or '-'")
        }
        return nil
    }

    static func password(_ value: String, field: String = "password") -> Violation? {
        guard value.count >= 12 else {
            return Violation(field: field, rule: "length", description: "must be at least 12 characters")
        }
        guard value.count <= 1024 else {
            return Violation(field: field, rule: "length", description: "must be at most 1024 characters")
        }
        return nil
    }

    static func workingHours(_ hours: WorkingHours, field: String = "workingHours") -> [Violation] {
        var violations: [Violation] = []
        if hours.days.isEmpty || !hours.days.allSatisfy((1...7).contains) || Set(hours.days).count != hours.days.count {
            violations.append(Violation(field: field + ".days", rule: "range", description: "days must be distinct ISO weekdays 1 (Monday) to 7 (Sunday)"))
        }
        if !(0..<1440).contains(hours.startMinute) || !(1...1440).contains(hours.endMinute) || hours.endMinute <= hours.startMinute {
            violations.append(Violation(field: field, rule: "range", description: "startMinute must be before endMinute, both within the day (0–1440)"))
        }
        return violations
    }

    static func languages(_ languages: [String], field: String = "languages") -> Violation? {
        for language in languages where !(2...20).contains(language.count) || !language.allSatisfy({ $0.isLetter || $0 == "-" }) {
            return Violation(field: field, rule: "format", description: "'\(language.prefix(20))' is not a language tag (e.g. en, pt-BR)")
        }
        return nil
    }

    /// Every rule a person must satisfy.
    static func person(_ person: PersonInput, prefix: String = "person") -> [Violation] {
        var violations: [Violation] = []
        func add(_ violation: Violation?) { if let violation { violations.append(violation) } }
        add(email(person.email, field: prefix + ".email"))
        add(nonEmpty(person.name, field: prefix + ".name"))
        add(nonEmpty(person.division, field: prefix + ".division", maxLength: 100))
        add(nonEmpty(person.jobTitle, field: prefix + ".jobTitle", maxLength: 100))
        add(range(person.seniority, 1...10, field: prefix + ".seniority"))
        add(timeZone(person.timeZone, field: prefix + ".timeZone"))
        add(languages(person.languages, field: prefix + ".languages"))
        if let hours = person.workingHours { violations += workingHours(hours, field: prefix + ".workingHours") }
        if let hireDate = person.hireDate { add(date(hireDate, field: prefix + ".hireDate")) }
        if let external = person.externalID, external.isEmpty || external.count > 100 {
            violations.append(Violation(field: prefix + ".externalID", rule: "length", description: "must be 1–100 characters"))
        }
        return violations
    }

    static func program(_ program: ProgramInput, prefix: String = "program") -> [Violation] {
        var violations: [Violation] = []
        if let violation = nonEmpty(program.name, field: prefix + ".name") { violations.append(violation) }
        if let violation = date(program.startsOn, field: prefix + ".startsOn") { violations.append(violation) }
        if let endsOn = program.endsOn {
            if let violation = date(endsOn, field: prefix + ".endsOn") {
                violations.append(violation)
            } else if date(program.startsOn, field: "") == nil, endsOn < program.startsOn {
                violations.append(Violation(field: prefix + ".endsOn", rule: "order", description: "must not be before startsOn"))
            }
        }
        return violations
    }

    static func participation(_ input: ParticipationInput) -> [Violation] {
        var violations: [Violation] = []
        for (list, name) in [(input.skillsOffered, "skillsOffered"), (input.skillsWanted, "skillsWanted")] {
            for (index, skill) in list.enumerated() {
                if let violation = range(skill.level, 1...5, field: "\(name)[\(index)].level") { violations.append(violation) }
                if let violation = nonEmpty(skill.name, field: "\(name)[\(index)].name", maxLength: 80) { violations.append(violation) }
            }
        }
        for (index, tag) in input.goalTags.enumerated() {
            if let violation = nonEmpty(tag, field: "goalTags[\(index)]", maxLength: 80) { violations.append(violation) }
        }
        if let capacity = input.capacity, capacity < 0 {
            violations.append(Violation(field: "capacity", rule: "range", description: "must be 0 or more, got \(capacity)"))
        }
        if input.capacity != nil && input.role == .mentee {
            violations.append(Violation(field: "capacity", rule: "role", description: "only mentors have a capacity"))
        }
        if let goals = input.goals, goals.count > 2000 {
            violations.append(Violation(field: "goals", rule: "length", description: "must be at most 2000 characters"))
        }
        return violations
    }

    /// Throws INVALID_ARGUMENT listing every violation, if there is any.
    static func check(_ violations: [Violation]) throws(RPCError) {
        guard violations.isEmpty else { throw RPCError.invalidArguments(violations) }
    }
}
