import Foundation
import TandemProtocols

/// Turns an HR system's CSV export into the changes an import makes: people to create or
/// update (matched by external id, else email), participations, deactivations — and a report
/// line for every row that cannot be imported. Pure: the store applies the plan.
enum ImportPlanner {
    /// One valid row.
    struct Row: Equatable {
        var line: Int
        var person: PersonInput
        var managerEmail: String?
        var participation: Participation?
    }

    struct Participation: Equatable {
        var role: ParticipantRole
        var skillsOffered: [SkillLevel]
        var skillsWanted: [SkillLevel]
        var capacity: Int?
    }

    /// What identity already has, for matching and for spotting unchanged rows.
    struct Existing {
        var id: UUID
        var email: String
        var externalID: String?
        var input: PersonInput
        var active: Bool
    }

    enum Action: Equatable {
        case create
        case update(UUID)
        case unchanged(UUID)
    }

    struct Plan {
        var rows: [(row: Row, action: Action)] = []
        var errors: [ImportRowError] = []
        var rowCount = 0
    }

    static let columns: Set<String> = [
        "email", "name", "external_id", "division", "job_title", "seniority", "manager_email", "time_zone", "working_days",
        "working_hours", "languages", "location", "hire_date", "role", "skills_offered", "skills_wanted", "capacity",
    ]

    /// Parses and validates every row.
    static func parse(_ csv: String, hasProgram: Bool) -> (rows: [Row], errors: [ImportRowError], rowCount: Int) {
        let table: [CSV.Row]
        do {
            table = try CSV.parse(csv)
        } catch {
            let line: Int
            switch error {
            case .unterminatedQuote(let at), .textAfterQuote(let at): line = at
            }
            return ([], [ImportRowError(line: line, field: "(file)", rule: "csv", message: "not valid CSV: \(error)")], 0)
        }
        guard let header = table.first else {
            return ([], [ImportRowError(line: 1, field: "(file)", rule: "required", message: "the file is empty; it needs a header row")], 0)
        }
        let names = header.fields.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
        var headerErrors: [ImportRowError] = []
        for name in names where !columns.contains(name) {
            headerErrors.append(ImportRowError(line: header.line, field: name, rule: "column", message: "unknown column '\(name)'"))
        }
        var seenColumns: Set<String> = []
        for name in names where columns.contains(name) && !seenColumns.insert(name).inserted {
            headerErrors.append(ImportRowError(line: header.line, field: name, rule: "unique", message: "column '\(name)' appears twice"))
        }
        for required in ["email", "name", "time_zone"] where !names.contains(required) {
            headerErrors.append(ImportRowError(line: header.line, field: required, rule: "column", message: "column '\(required)' is required"))
        }
        if names.contains("role") && !hasProgram {
            headerErrors.append(ImportRowError(line: header.line, field: "role", rule: "program", message: "a 'role' column needs programID"))
        }
        guard headerErrors.isEmpty else { return ([], headerErrors, table.count - 1) }

        var rows: [Row] = []
        var errors: [ImportRowError] = []
        var seenEmails: [String: Int] = [:]
        var seenExternal: [String: Int] = [:]
        for record in table.dropFirst() {
            var values: [String: String] = [:]
            for (index, name) in names.enumerated() where index < record.fields.count {
                let value = record.fields[index].trimmingCharacters(in: .whitespaces)
                if !value.isEmpty { values[name] = value }
            }
            if record.fields.count > names.count {
                errors.append(ImportRowError(line: record.line, field: "(row)", rule: "columns", message: "\(record.fields.count) fields but the header has \(names.count)"))
                continue
            }
            switch parseRow(values, line: record.line) {
            case .failure(let error):
                errors.append(error)
            case .success(let row):
                let email = Validation.normalizedEmail(row.person.email)
                if let first = seenEmails[email] {
                    errors.append(ImportRowError(line: row.line, field: "email", rule: "unique", message: "\(email) already appears on line \(first)"))
                    continue
                }
                if let external = row.person.externalID, let first = seenExternal[external] {
                    errors.append(ImportRowError(line: row.line, field: "external_id", rule: "unique", message: "\(external) already appears on line \(first)"))
                    continue
                }
                seenEmails[email] = row.line
                if let external = row.person.externalID { seenExternal[external] = row.line }
                rows.append(row)
            }
        }
        return (rows, errors, table.count - 1)
    }

    private static let columnForField: [String: String] = [
        "email": "email", "name": "name", "division": "division", "jobTitle": "job_title", "seniority": "seniority",
        "timeZone": "time_zone", "languages": "languages", "workingHours": "working_hours", "workingHours.days": "working_days",
        "hireDate": "hire_date", "externalID": "external_id",
    ]

    static func parseRow(_ values: [String: String], line: Int) -> Result<Row, ImportRowError> {
        func fail(_ column: String, _ rule: String, _ message: String) -> Result<Row, ImportRowError> {
            .failure(ImportRowError(line: line, field: column, rule: rule, message: message))
        }
        // An empty required value breaks `required`, not the format a value would have to have.
        for column in ["email", "name", "time_zone"] where values[column] == nil {
            return fail(column, "required", "\(column) must not be empty")
        }
        var seniority = 1
        if let text = values["seniority"] {
            guard let value = Int(text) else { return fail("seniority", "integer", "'\(text)' is not a whole number") }
            seniority = value
        }
        var hours = WorkingHours()
        if let text = values["working_days"] {
            guard let days = parseDays(text) else { return fail("working_days", "format", "'\(text)' is not days like 1-5 or 1,2,3") }
            hours.days = days
        }
        if let text = values["working_hours"] {
            guard let (start, end) = parseHours(text) else { return fail("working_hours", "format", "'\(text)' is not hours like 09:00-17:00") }
            hours.startMinute = start
            hours.endMinute = end
        }
        let person = PersonInput(
            externalID: values["external_id"], email: Validation.normalizedEmail(values["email"] ?? ""), name: values["name"] ?? "",
            division: values["division"] ?? "Unassigned", jobTitle: values["job_title"] ?? "Employee", seniority: seniority,
            timeZone: values["time_zone"] ?? "", workingHours: hours,
            languages: values["languages"].map { $0.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) } } ?? ["en"],
            location: values["location"], hireDate: values["hire_date"]
        )
        if let violation = Validation.person(person, prefix: "").first {
            let field = violation.field.hasPrefix(".") ? String(violation.field.dropFirst()) : violation.field
            let column = columnForField[field] ?? columnForField[String(field.split(separator: ".").first ?? "")] ?? field
            return fail(column, violation.rule, violation.description)
        }
        var managerEmail: String?
        if let manager = values["manager_email"] {
            if let violation = Validation.email(manager, field: "manager_email") {
                return fail("manager_email", violation.rule, violation.description)
            }
            managerEmail = Validation.normalizedEmail(manager)
            if managerEmail == person.email { return fail("manager_email", "self", "a person cannot be their own manager") }
        }
        var participation: Participation?
        if let roleText = values["role"] {
            guard let role = ParticipantRole(rawValue: roleText.lowercased()) else {
                return fail("role", "enum", "'\(roleText)' is not mentor, mentee or both")
            }
            var offered: [SkillLevel] = []
            var wanted: [SkillLevel] = []
            for (column, target) in [("skills_offered", 0), ("skills_wanted", 1)] {
                guard let text = values[column] else { continue }
                guard let skills = parseSkills(text) else {
                    return fail(column, "format", "'\(text.prefix(60))' is not skills like swift:4;design:2 (levels 1–5)")
                }
                if Set(skills.map(\.name)).count != skills.count {
                    return fail(column, "unique", "'\(text.prefix(60))' names a skill twice")
                }
                if target == 0 { offered = skills } else { wanted = skills }
            }
            var capacity: Int?
            if let text = values["capacity"] {
                guard let value = Int(text), value >= 0 else { return fail("capacity", "range", "capacity must be a whole number, 0 or more") }
                guard role != .mentee else { return fail("capacity", "role", "only mentors have a capacity") }
                capacity = value
            }
            participation = Participation(role: role, skillsOffered: offered, skillsWanted: wanted, capacity: capacity)
        }
        return .success(Row(line: line, person: person, managerEmail: managerEmail, participation: participation))
    }

    /// `1-5`, `1,2,3`, `1-3,6`.
    static func parseDays(_ text: String) -> [Int]? {
        var days: [Int] = []
        for part in text.split(separator: ",") {
            let bounds = part.split(separator: "-").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
            if bounds.count == 1, (1...7).contains(bounds[0]) {
                days.append(bounds[0])
            } else if bounds.count == 2, (1...7).contains(bounds[0]), (1...7).contains(bounds[1]), bounds[0] <= bounds[1] {
                days += Array(bounds[0]...bounds[1])
            } else {
                return nil
            }
        }
        let unique = Array(Set(days)).sorted()
        return unique.isEmpty ? nil : unique
    }

    /// `09:00-17:00` → minutes after midnight.
    static func parseHours(_ text: String) -> (Int, Int)? {
        let parts = text.split(separator: "-")
        guard parts.count == 2, let start = minutes(parts[0]), let end = minutes(parts[1]), start < end else { return nil }
        return (start, end)
    }

    private static func minutes(_ text: Substring) -> Int? {
        let parts = text.trimmingCharacters(in: .whitespaces).split(separator: ":")
        guard parts.count == 2, let hour = Int(parts[0]), let minute = Int(parts[1]), (0...24).contains(hour), (0..<60).contains(minute),
              hour * 60 + minute <= 1440 else { return nil }
        return hour * 60 + minute
    }

    /// `swift:4;design:2`.
    static func parseSkills(_ text: String) -> [SkillLevel]? {
        var skills: [SkillLevel] = []
        for part in text.split(separator: ";") {
            let pieces = part.split(separator: ":")
            guard pieces.count == 2, let level = Int(pieces[1].trimmingCharacters(in: .whitespaces)), (1...5).contains(level) else { return nil }
            let name = pieces[0].trimmingCharacters(in: .whitespaces).lowercased()
            guard !name.isEmpty, name.count <= 80 else { return nil }
            skills.append(SkillLevel(name: name, level: level))
        }
        return skills
    }

    /// Matches rows to existing people and decides what happens to each. (Managers and
    /// deactivations need the whole picture; the store resolves them in its transaction.)
    static func plan(rows: [Row], errors: [ImportRowError], rowCount: Int, existing: [Existing]) -> Plan {
        var plan = Plan(errors: errors, rowCount: rowCount)
        var byExternal: [String: Existing] = [:]
        var byEmail: [String: Existing] = [:]
        for person in existing {
            if let external = person.externalID { byExternal[external] = person }
            byEmail[person.email] = person
        }
        for row in rows {
            let match = row.person.externalID.flatMap { byExternal[$0] } ?? byEmail[row.person.email]
            if let match {
                // An email that belongs to another person (matched by external id) cannot move.
                if let other = byEmail[row.person.email], other.id != match.id {
                    plan.errors.append(ImportRowError(line: row.line, field: "email", rule: "unique", message: "\(row.person.email) belongs to another person"))
                    continue
                }
                var merged = row.person
                merged.managerID = match.input.managerID
                merged.organisationAdmin = match.input.organisationAdmin
                let same = merged == match.input && match.active
                plan.rows.append((row, same ? .unchanged(match.id) : .update(match.id)))
            } else {
                plan.rows.append((row, .create))
            }
        }
        plan.errors.sort { $0.line < $1.line }
        return plan
    }
}

extension ImportRowError: Error {}
