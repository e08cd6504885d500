import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// Carries a dry run's report out of the transaction it rolls back.
private struct DryRunRollback: Error {
    let report: ImportReport
}

extension IdentityStore {
    /// Applies an import in one transaction: plans it against the people stored now, resolves
    /// managers by email, writes people, participations and deactivations. A dry run does
    /// exactly the same and then rolls back, so its report is the real one.
    func importPeople(
        organisation: UUID, parsed: (rows: [ImportPlanner.Row], errors: [ImportRowError], rowCount: Int),
        dryRun: Bool, deactivateMissing: Bool, program: UUID?, caller: UUID, now: Date
    ) async throws -> ImportReport {
        do {
            return try await database.write { connection in
                let report = try Self.applyImport(
                    connection, organisation: organisation, parsed: parsed, deactivateMissing: deactivateMissing, program: program, caller: caller, now: now
                )
                if dryRun { throw DryRunRollback(report: report) }
                return report
            }
        } catch let rollback as DryRunRollback {
            var report = rollback.report
            report.dryRun = true
            return report
        }
    }

    private static func applyImport(
        _ connection: SQLiteConnection, organisation: UUID, parsed: (rows: [ImportPlanner.Row], errors: [ImportRowError], rowCount: Int),
        deactivateMissing: Bool, program: UUID?, caller: UUID, now: Date
    ) throws -> ImportReport {
        if let program, try connection.first("SELECT 1 FROM programs WHERE org_id = ? AND id = ?", organisation, program) == nil {
            throw RPCError.notFound("program", program.uuidString.lowercased())
        }
        var existing: [ImportPlanner.Existing] = []
        var idByEmail: [String: UUID] = [:]
        var managerOf: [UUID: UUID] = [:]
        /// Never deactivated for being missing from the file: the caller and the administrators.
        var keep: Set<UUID> = [caller]
        try connection.forEachRow("SELECT \(personColumns) FROM people WHERE org_id = ? AND erased = 0", [organisation]) { row in
            let person = try Self.person(row)
            if person.roles.contains(Role.organisationAdmin) || person.roles.contains(Role.platformAdmin) { keep.insert(person.id) }
            existing.append(.init(id: person.id, email: person.email, externalID: person.externalID, input: input(of: person), active: person.active))
            idByEmail[person.email] = person.id
            if let manager = person.managerID { managerOf[person.id] = manager }
        }

        // Plan, then drop rows whose manager cannot be resolved (or would make a cycle) until
        // what is left is consistent.
        var plan = ImportPlanner.plan(rows: parsed.rows, errors: parsed.errors, rowCount: parsed.rowCount, existing: existing)
        var newIDs: [Int: UUID] = [:]
        for (index, entry) in plan.rows.enumerated() {
            switch entry.action {
            case .create: newIDs[index] = UUID()
            case .update(let id), .unchanged(let id): newIDs[index] = id
            }
        }
        var dropped: Set<Int> = []
        while true {
            var known = idByEmail
            for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) { known[entry.row.person.email] = newIDs[index] }
            var managers = managerOf
            for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) {
                if let email = entry.row.managerEmail, let manager = known[email] { managers[newIDs[index]!] = manager }
            }
            var newlyDropped: [(Int, ImportRowError)] = []
            for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) {
                guard let email = entry.row.managerEmail else { continue }
                guard known[email] != nil else {
                    newlyDropped.append((index, ImportRowError(line: entry.row.line, field: "manager_email", rule: "exists", message: "no person with email \(email) in this organisation or file")))
                    continue
                }
                let id = newIDs[index]!
                var current = managers[id]
                var steps = 0
                while let next = current, steps < 10_000 {
                    if next == id {
                        newlyDropped.append((index, ImportRowError(line: entry.row.line, field: "manager_email", rule: "cycle", message: "\(email) reports (directly or not) to this person")))
                        break
                    }
                    current = managers[next]
                    steps += 1
                }
            }
            if newlyDropped.isEmpty { break }
            for (index, error) in newlyDropped {
                dropped.insert(index)
                plan.errors.append(error)
            }
        }
        plan.errors.sort { $0.line < $1.line }

        var report = ImportReport(dryRun: false, rows: parsed.rowCount, created: 0, updated: 0, unchanged: 0, deactivated: 0, participations: 0, errors: [])
        let existingByID = Dictionary(existing.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
        var resolvedEmails = idByEmail
        for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) { resolvedEmails[entry.row.person.email] = newIDs[index] }

        for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) {
            let id = newIDs[index]!
            var input = entry.row.person
            switch entry.action {
            case .create:
                input.managerID = nil
                try insertPerson(connection, id: id, organisation: organisation, input: input, passwordHash: nil, platformAdmin: false, now: now)
                report.created += 1
            case .update(let id):
                let current = existingByID[id]
                input.organisationAdmin = current?.input.organisationAdmin
                input.managerID = current?.input.managerID
                try updatePersonRow(connection, id: id, input: input, reactivate: true, now: now)
                report.updated += 1
            case .unchanged:
                break
            }
        }
        // Managers last, once everybody in the file exists.
        var managerChanged: Set<Int> = []
        for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) {
            guard let email = entry.row.managerEmail, let manager = resolvedEmails[email] else { continue }
            let id = newIDs[index]!
            if managerOf[id] == manager { continue }
            try connection.execute("UPDATE people SET manager_id = ? WHERE id = ?", manager, id)
            if case .unchanged = entry.action {
                try connection.execute("UPDATE people SET version = version + 1, updated_at = ? WHERE id = ?", now.timeIntervalSince1970, id)
                managerChanged.insert(index)
            }
        }
        for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) {
            if case .unchanged = entry.action {
                if managerChanged.contains(index) { report.updated += 1 } else { report.unchanged += 1 }
            }
        }
        if let program {
            for (index, entry) in plan.rows.enumerated() where !dropped.contains(index) {
                guard let participation = entry.row.participation else { continue }
                let id = newIDs[index]!
                var profile = StoredProfile(skillsOffered: [], skillsWanted: [], goals: nil, goalTags: [], topics: [], cadence: nil)
                if let row = try connection.first("SELECT profile FROM participations WHERE program_id = ? AND person_id = ?", program, id),
                   let blob = row.blob(0) {
                    profile = try CBORDecoder().decode(StoredProfile.self, from: blob)
                }
                // An empty skills column keeps what the person entered themselves.
                if !participation.skillsOffered.isEmpty { profile.skillsOffered = participation.skillsOffered }
                if !participation.skillsWanted.isEmpty { profile.skillsWanted = participation.skillsWanted }
                let changed = try writeParticipation(
                    connection, organisation: organisation, program: program, person: id, role: participation.role, profile: profile,
                    capacity: participation.role == .mentee ? nil : participation.capacity, version: nil, requireVersionForUpdate: false, now: now
                )
                if changed { report.participations += 1 }
            }
        }
        if deactivateMissing {
            if plan.errors.isEmpty {
                let inFile = Set(plan.rows.indices.compactMap { newIDs[$0] })
                var kept = 0
                for person in existing where person.active && !inFile.contains(person.id) {
                    if keep.contains(person.id) {
                        kept += 1
                        continue
                    }
                    try connection.execute("UPDATE people SET active = 0, version = version + 1, updated_at = ? WHERE id = ?", now.timeIntervalSince1970, person.id)
                    try connection.execute("UPDATE refresh_tokens SET revoked = 1 WHERE person_id = ?", person.id)
                    report.deactivated += 1
                }
                report.keptActive = kept
            } else {
                plan.errors.append(ImportRowError(
                    line: 0, field: "deactivateMissing", rule: "errors", message: "nobody was deactivated because some rows have errors; fix them and import again"
                ))
            }
        }
        report.errors = plan.errors
        return report
    }
}
