import Foundation
import TandemProtocols
import TandemStore
import TandemWire

/// Errors the store reports, already in the words a caller should see.
enum StoreFailure {
    static func alreadyExists(field: String, _ description: String) -> RPCError {
        RPCError(
            code: .alreadyExists, message: "\(field): \(description)",
            details: [.badRequest([.init(field: field, rule: "unique", description: description)])]
        )
    }

    /// ABORTED for an optimistic-concurrency conflict.
    static func stale(_ what: String, sent: Int, current: Int) -> RPCError {
        let message = "\(what) changed: you sent version \(sent), the current version is \(current); read it again and reapply your change"
        return RPCError(code: .aborted, message: message, details: [.preconditionFailure([.init(type: "version", subject: what, description: message)])])
    }
}

/// What a page of people is filtered by.
struct PeopleFilter: Sendable {
    var programID: UUID?
    var role: ParticipantRole?
    var skill: String?
    var division: String?
    var query: String?
    var includeInactive = false
}

/// Where the next page starts: after this (name, id).
struct PeopleCursor: Sendable, Equatable {
    var name: String
    var id: UUID

    var token: String {
        Data((id.uuidString + "|" + name).utf8).base64EncodedString()
    }

    init(name: String, id: UUID) {
        self.name = name
        self.id = id
    }

    init?(token: String) {
        guard let data = Data(base64Encoded: token), let text = String(data: data, encoding: .utf8),
              let bar = text.firstIndex(of: "|"), let id = UUID(uuidString: String(text[..<bar])) else { return nil }
        self.id = id
        self.name = String(text[text.index(after: bar)...])
    }
}

// MARK: - People

extension IdentityStore {
    static func workingHoursBlob(_ hours: WorkingHours?) throws -> [UInt8] {
        Array(try CBOREncoder().encode(hours ?? WorkingHours()))
    }

    /// Checks what only the database can: unique email and external id, and a manager who is
    /// in the organisation and not in the person's own reporting line.
    static func checkPerson(_ connection: SQLiteConnection, organisation: UUID, id: UUID, input: PersonInput, prefix: String) throws {
        if try connection.first(
            "SELECT 1 FROM people WHERE org_id = ? AND email = ? AND id != ? LIMIT 1", organisation, input.email, id
        ) != nil {
            throw StoreFailure.alreadyExists(field: prefix + "email", "\(input.email) already belongs to another person in this organisation")
        }
        if let external = input.externalID, try connection.first(
            "SELECT 1 FROM people WHERE org_id = ? AND external_id = ? AND id != ? LIMIT 1", organisation, external, id
        ) != nil {
            throw StoreFailure.alreadyExists(field: prefix + "externalID", "\(external) already belongs to another person in this organisation")
        }
        if let manager = input.managerID {
            guard manager != id else {
                throw RPCError.invalidArgument(field: prefix + "managerID", rule: "self", "a person cannot be their own manager")
            }
            guard try connection.first("SELECT 1 FROM people WHERE org_id = ? AND id = ? AND erased = 0", organisation, manager) != nil else {
                throw RPCError.invalidArgument(field: prefix + "managerID", rule: "exists", "no person \(manager) in this organisation")
            }
            // Walk up from the new manager: reaching this person would make a cycle.
            var current: UUID? = manager
            var steps = 0
            while let next = current, steps < 1000 {
                if next == id {
                    throw RPCError.invalidArgument(field: prefix + "managerID", rule: "cycle", "this manager reports (directly or not) to the person")
                }
                current = try connection.first("SELECT manager_id FROM people WHERE id = ?", next)?.uuid(0)
                steps += 1
            }
        }
    }

    static func insertPerson(
        _ connection: SQLiteConnection, id: UUID, organisation: UUID, input: PersonInput, passwordHash: String?, platformAdmin: Bool, now: Date
    ) throws {
        try connection.execute("""
            INSERT INTO people (id, org_id, external_id, email, name, division, job_title, seniority, manager_id, time_zone, working_hours,
                                languages, location, hire_date, active, org_admin, platform_admin, password_hash, version, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?, ?, 1, ?)
            """,
            id, organisation, input.externalID, input.email, input.name, input.division, input.jobTitle, input.seniority, input.managerID,
            input.timeZone, try workingHoursBlob(input.workingHours), input.languages.joined(separator: ";"), input.location, input.hireDate,
            input.organisationAdmin ?? false, platformAdmin, passwordHash, now.timeIntervalSince1970
        )
    }

    /// Writes a person's fields. `reactivate` (an import that lists the person again) also
    /// marks them active; an edit leaves a deactivated person deactivated.
    static func updatePersonRow(_ connection: SQLiteConnection, id: UUID, input: PersonInput, reactivate: Bool = false, now: Date) throws {
        try connection.execute("""
            UPDATE people SET external_id = ?, email = ?, name = ?, division = ?, job_title = ?, seniority = ?, manager_id = ?, time_zone = ?,
                              working_hours = ?, languages = ?, location = ?, hire_date = ?, org_admin = ?, active = CASE WHEN ? THEN 1 ELSE active END,
                              version = version + 1, updated_at = ?
            WHERE id = ?
            """,
            input.externalID, input.email, input.name, input.division, input.jobTitle, input.seniority, input.managerID, input.timeZone,
            try workingHoursBlob(input.workingHours), input.languages.joined(separator: ";"), input.location, input.hireDate,
            input.organisationAdmin ?? false, reactivate, now.timeIntervalSince1970, id
        )
    }

    static func fetchPerson(_ connection: SQLiteConnection, organisation: UUID, id: UUID) throws -> Person? {
        try connection.first("SELECT \(personColumns) FROM people WHERE org_id = ? AND id = ? AND erased = 0", organisation, id).map(person)
    }

    func createPerson(organisation: UUID, input: PersonInput, passwordHash: String?, now: Date) async throws -> Person {
        try await database.write { connection in
            let id = UUID()
            try Self.checkPerson(connection, organisation: organisation, id: id, input: input, prefix: "person.")
            try Self.insertPerson(connection, id: id, organisation: organisation, input: input, passwordHash: passwordHash, platformAdmin: false, now: now)
            guard let person = try Self.fetchPerson(connection, organisation: organisation, id: id) else { throw StoreError.corrupt("new person") }
            return person
        }
    }

    func updatePerson(organisation: UUID, id: UUID, version: Int, input: PersonInput, now: Date) async throws -> Person {
        try await database.write { connection in
            guard let current = try Self.fetchPerson(connection, organisation: organisation, id: id) else {
                throw RPCError.notFound("person", id.uuidString.lowercased())
            }
            guard current.version == version else { throw StoreFailure.stale("person", sent: version, current: current.version) }
            try Self.checkPerson(connection, organisation: organisation, id: id, input: input, prefix: "person.")
            try Self.updatePersonRow(connection, id: id, input: input, now: now)
            guard let person = try Self.fetchPerson(connection, organisation: organisation, id: id) else { throw StoreError.corrupt("updated person") }
            return person
        }
    }

    func person(organisation: UUID, id: UUID) async throws -> Person? {
        try await database.read { try Self.fetchPerson($0, organisation: organisation, id: id) }
    }

    /// One page of people, ordered by name then id; returns `limit + 1` rows at most so the
    /// caller can tell whether there is a next page.
    func people(organisation: UUID, filter: PeopleFilter, after cursor: PeopleCursor?, limit: Int) async throws -> [Person] {
        let query = Self.peopleQuery(organisation: organisation, filter: filter, after: cursor, limit: limit)
        return try await database.read { connection in
            try connection.query(query.sql, query.values).map(Self.person)
        }
    }

    /// The statement `people` runs, with its values: the organisation's people walked in name
    /// order (`people_by_org_name`), or a division's (`people_by_org_division`, in the same order),
    /// each filter a check on the row or an index probe.
    static func peopleQuery(organisation: UUID, filter: PeopleFilter, after cursor: PeopleCursor?, limit: Int) -> (sql: String, values: [SQLiteValue]) {
        var sql = "SELECT \(personColumns) FROM people WHERE people.org_id = ? AND people.erased = 0"
        var values: [SQLiteValue] = [organisation.sqliteValue]
        if !filter.includeInactive { sql += " AND people.active = 1" }
        if let division = filter.division {
            sql += " AND people.division = ? COLLATE NOCASE"
            values.append(.text(division))
        }
        if let query = filter.query {
            let pattern = "%" + query.replacing("\\", with: "\\\\").replacing("%", with: "\\%").replacing("_", with: "\\_") + "%"
            sql += " AND (people.name LIKE ? ESCAPE '\\' OR people.email LIKE ? ESCAPE '\\')"
            values += [.text(pattern), .text(pattern)]
        }
        if filter.programID != nil || filter.role != nil {
            sql += " AND EXISTS (SELECT 1 FROM participations x WHERE x.person_id = people.id AND x.org_id = people.org_id"
            if let program = filter.programID {
                sql += " AND x.program_id = ?"
                values.append(program.sqliteValue)
            }
            if let role = filter.role {
                sql += role == .both ? " AND x.role = ?" : " AND x.role IN (?, 'both')"
                values.append(.text(role.rawValue))
            }
            sql += ")"
        }
        if let skill = filter.skill {
            sql += " AND EXISTS (SELECT 1 FROM participation_skills s WHERE s.person_id = people.id AND s.org_id = people.org_id AND s.kind = 'offered' AND s.skill = ?"
            values.append(.text(skill.lowercased()))
            if let program = filter.programID {
                sql += " AND s.participation_id IN (SELECT x.id FROM participations x WHERE x.program_id = ?)"
                values.append(program.sqliteValue)
            }
            sql += ")"
        }
        if let cursor {
            sql += " AND (people.name, people.id) > (?, ?)"
            values += [.text(cursor.name), cursor.id.sqliteValue]
        }
        sql += " ORDER BY people.name, people.id LIMIT ?"
        values.append((limit + 1).sqliteValue)
        return (sql, values)
    }

    /// Refuses to deactivate or erase the platform's last active platform admin: nobody could
    /// run the platform (create organisations, rotate keys) any more.
    static func keepLastPlatformAdmin(_ connection: SQLiteConnection, id: UUID) throws {
        let sql = "SELECT 1 FROM people WHERE platform_admin = 1 AND active = 1 AND erased = 0 AND id"
        guard try connection.first(sql + " = ?", id) != nil, try connection.first(sql + " != ?", id) == nil else { return }
        throw RPCError.failedPrecondition(
            type: "last-platform-admin", subject: "personID", "this is the last active platform admin; the platform would have nobody to run it"
        )
    }

    func deactivatePerson(organisation: UUID, id: UUID, now: Date) async throws -> Person {
        try await database.write { connection in
            guard let current = try Self.fetchPerson(connection, organisation: organisation, id: id) else {
                throw RPCError.notFound("person", id.uuidString.lowercased())
            }
            if current.active {
                try Self.keepLastPlatformAdmin(connection, id: id)
                try connection.execute("UPDATE people SET active = 0, version = version + 1, updated_at = ? WHERE id = ?", now.timeIntervalSince1970, id)
                try connection.execute("UPDATE refresh_tokens SET revoked = 1 WHERE person_id = ?", id)
            }
            guard let person = try Self.fetchPerson(connection, organisation: organisation, id: id) else { throw StoreError.corrupt("person") }
            return person
        }
    }

    /// Clears the manager of an erased person's reports.
    static let clearManagerSQL = "UPDATE people SET manager_id = NULL WHERE org_id = ? AND manager_id = ?"

    /// A person's skills, deleted at erasure: found through their participations (the skills'
    /// primary key starts with the participation), not by reading every skill row.
    static let eraseSkillsSQL = "DELETE FROM participation_skills WHERE participation_id IN (SELECT id FROM participations WHERE person_id = ?)"

    /// Removes a person's personal data for good. The row stays as an anonymous tombstone, so
    /// ids other services hold (meetings, matches, survey aggregates) keep pointing at
    /// something, but nothing about the person can be read back; the email is free again.
    func erasePerson(organisation: UUID, id: UUID, now: Date) async throws {
        try await database.write { connection in
            guard try connection.first("SELECT 1 FROM people WHERE org_id = ? AND id = ? AND erased = 0", organisation, id) != nil else {
                throw RPCError.notFound("person", id.uuidString.lowercased())
            }
            try Self.keepLastPlatformAdmin(connection, id: id)
            try connection.execute("""
                UPDATE people SET external_id = NULL, email = ?, name = 'Erased person', division = '', job_title = '', seniority = 1,
                                  manager_id = NULL, time_zone = 'UTC', working_hours = ?, languages = '', location = NULL, hire_date = NULL,
                                  active = 0, org_admin = 0, platform_admin = 0, password_hash = NULL, erased = 1,
                                  version = version + 1, updated_at = ?
                WHERE id = ?
                """, "erased-\(id.uuidString.lowercased())@erased.invalid", try Self.workingHoursBlob(nil), now.timeIntervalSince1970, id)
            try connection.execute(Self.clearManagerSQL, organisation, id)
            try connection.execute(Self.eraseSkillsSQL, id)
            try connection.execute("DELETE FROM participations WHERE person_id = ?", id)
            try connection.execute("DELETE FROM program_admins WHERE person_id = ?", id)
            try connection.execute("DELETE FROM refresh_tokens WHERE person_id = ?", id)
            try Self.publishErasure(connection, organisation: organisation, person: id, now: now)
        }
        // Old page versions in the write-ahead log would still hold the data.
        await database.truncateLogAfterErasure()
    }

    func passwordHash(organisation: UUID, id: UUID) async throws -> String? {
        try await database.read { connection in
            try connection.first("SELECT password_hash FROM people WHERE org_id = ? AND id = ? AND erased = 0", organisation, id)?.text(0)
        }
    }

    /// Sets a password and signs the person out everywhere.
    func setPasswordHash(organisation: UUID, id: UUID, hash: String, now: Date) async throws {
        try await database.write { connection in
            let changed = try connection.execute(
                "UPDATE people SET password_hash = ?, updated_at = ? WHERE org_id = ? AND id = ? AND erased = 0", hash, now.timeIntervalSince1970, organisation, id
            )
            guard changed == 1 else { throw RPCError.notFound("person", id.uuidString.lowercased()) }
            try connection.execute("UPDATE refresh_tokens SET revoked = 1 WHERE person_id = ?", id)
        }
    }
}

