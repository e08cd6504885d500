import Foundation
import TandemProtocols
import TandemStore
import TandemWire

// MARK: - Organisations

extension IdentityStore {
    static func organisation(_ row: SQLiteRow) throws -> Organisation {
        guard let id = row.uuid(0) else { throw StoreError.corrupt("organisation id") }
        return Organisation(id: id, name: row.text(1) ?? "", slug: row.text(2) ?? "", createdAt: Date(timeIntervalSince1970: row.double(3) ?? 0))
    }

    /// Creates an organisation with its first administrator.
    func createOrganisation(
        name: String, slug: String, admin: PersonInput, adminPasswordHash: String, platformAdmin: Bool, now: Date
    ) async throws -> (Organisation, Person) {
        try await database.write { connection in
            if try connection.first("SELECT 1 FROM organisations WHERE slug = ?", slug) != nil {
                throw StoreFailure.alreadyExists(field: "slug", "an organisation with slug '\(slug)' already exists")
            }
            let id = UUID()
            try connection.execute("INSERT INTO organisations (id, name, slug, created_at) VALUES (?, ?, ?, ?)", id, name, slug, now.timeIntervalSince1970)
            var input = admin
            input.organisationAdmin = true
            input.managerID = nil
            let adminID = UUID()
            try Self.insertPerson(connection, id: adminID, organisation: id, input: input, passwordHash: adminPasswordHash, platformAdmin: platformAdmin, now: now)
            guard let organisation = try connection.first("SELECT id, name, slug, created_at FROM organisations WHERE id = ?", id).map(Self.organisation),
                  let person = try Self.fetchPerson(connection, organisation: id, id: adminID) else { throw StoreError.corrupt("new organisation") }
            return (organisation, person)
        }
    }

    func organisation(slug: String) async throws -> Organisation? {
        try await database.read { try $0.first("SELECT id, name, slug, created_at FROM organisations WHERE slug = ?", slug).map(Self.organisation) }
    }

    func organisationCount() async throws -> Int {
        try await database.read { Int(try $0.first("SELECT count(*) FROM organisations")?.int(0) ?? 0) }
    }
}

// MARK: - Programs

extension IdentityStore {
    static func fetchProgram(_ connection: SQLiteConnection, organisation: UUID, id: UUID) throws -> Program? {
        guard let row = try connection.first("SELECT \(programColumns) FROM programs WHERE org_id = ? AND id = ?", organisation, id) else { return nil }
        let admins = try connection.query("SELECT person_id FROM program_admins WHERE program_id = ? ORDER BY person_id", id).compactMap { $0.uuid(0) }
        return try program(row, admins: admins)
    }

    private static func checkProgram(_ connection: SQLiteConnection, organisation: UUID, id: UUID, input: ProgramInput) throws {
        if try connection.first("SELECT 1 FROM programs WHERE org_id = ? AND name = ? COLLATE NOCASE AND id != ?", organisation, input.name, id) != nil {
            throw StoreFailure.alreadyExists(field: "program.name", "a program named '\(input.name)' already exists")
        }
        for (index, admin) in input.adminIDs.enumerated() {
            guard try connection.first("SELECT 1 FROM people WHERE org_id = ? AND id = ? AND erased = 0 AND active = 1", organisation, admin) != nil else {
                throw RPCError.invalidArgument(field: "program.adminIDs[\(index)]", rule: "exists", "no active person \(admin) in this organisation")
            }
        }
    }

    private static func writeAdmins(_ connection: SQLiteConnection, program: UUID, admins: [UUID]) throws {
        try connection.execute("DELETE FROM program_admins WHERE program_id = ?", program)
        for admin in Set(admins) {
            try connection.execute("INSERT INTO program_admins (program_id, person_id) VALUES (?, ?)", program, admin)
        }
    }

    func createProgram(organisation: UUID, input: ProgramInput, now: Date) async throws -> Program {
        try await database.write { connection in
            let id = UUID()
            try Self.checkProgram(connection, organisation: organisation, id: id, input: input)
            try connection.execute("""
                INSERT INTO programs (id, org_id, name, format, starts_on, ends_on, onboarding, version, created_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
                """, id, organisation, input.name, input.format.rawValue, input.startsOn, input.endsOn, input.onboarding, now.timeIntervalSince1970)
            try Self.writeAdmins(connection, program: id, admins: input.adminIDs)
            guard let program = try Self.fetchProgram(connection, organisation: organisation, id: id) else { throw StoreError.corrupt("new program") }
            return program
        }
    }

    func updateProgram(organisation: UUID, id: UUID, version: Int, input: ProgramInput) async throws -> Program {
        try await database.write { connection in
            guard let current = try Self.fetchProgram(connection, organisation: organisation, id: id) else {
                throw RPCError.notFound("program", id.uuidString.lowercased())
            }
            guard current.version == version else { throw StoreFailure.stale("program", sent: version, current: current.version) }
            try Self.checkProgram(connection, organisation: organisation, id: id, input: input)
            try connection.execute("""
                UPDATE programs SET name = ?, format = ?, starts_on = ?, ends_on = ?, onboarding = ?, version = version + 1 WHERE id = ?
                """, input.name, input.format.rawValue, input.startsOn, input.endsOn, input.onboarding, id)
            try Self.writeAdmins(connection, program: id, admins: input.adminIDs)
            guard let program = try Self.fetchProgram(connection, organisation: organisation, id: id) else { throw StoreError.corrupt("program") }
            return program
        }
    }

    func program(organisation: UUID, id: UUID) async throws -> Program? {
        try await database.read { try Self.fetchProgram($0, organisation: organisation, id: id) }
    }

    func programs(organisation: UUID) async throws -> [Program] {
        try await database.read { connection in
            let ids = try connection.query("SELECT id FROM programs WHERE org_id = ? ORDER BY name, id", organisation).compactMap { $0.uuid(0) }
            return try ids.compactMap { try Self.fetchProgram(connection, organisation: organisation, id: $0) }
        }
    }

    /// Programs a person administers.
    func administeredPrograms(person: UUID) async throws -> [UUID] {
        try await database.read { try $0.query("SELECT program_id FROM program_admins WHERE person_id = ?", person).compactMap { $0.uuid(0) } }
    }
}

// MARK: - Participations

extension IdentityStore {
    /// Participation columns, then the person's (`personColumns`), joined.
    static let participationColumns = """
        x.id, x.program_id, x.role, x.profile, x.capacity, x.version, x.updated_at, \(personColumns)
        """

    static func profile(_ row: SQLiteRow) throws -> ParticipantProfile {
        guard let id = row.uuid(0), let program = row.uuid(1), let role = ParticipantRole(rawValue: row.text(2) ?? "") else {
            throw StoreError.corrupt("participation")
        }
        let stored = try CBORDecoder().decode(StoredProfile.self, from: row.blob(3) ?? [])
        let person = try Self.person(SQLiteRow(values: Array(row.values[7...])))
        return ParticipantProfile(
            id: id, personID: person.id, programID: program, role: role, displayName: person.name, division: person.division,
            jobTitle: person.jobTitle, seniority: person.seniority, timeZone: person.timeZone, languages: person.languages,
            skillsOffered: stored.skillsOffered, skillsWanted: stored.skillsWanted, goals: stored.goals, goalTags: stored.goalTags,
            topics: stored.topics, cadence: stored.cadence, capacity: row.int(4).map(Int.init), location: person.location,
            updatedAt: Date(timeIntervalSince1970: row.double(6) ?? 0), version: Int(row.int(5) ?? 1), managerID: person.managerID,
            workingHours: person.workingHours, hireDate: person.hireDate
        )
    }

    static func fetchParticipation(_ connection: SQLiteConnection, organisation: UUID, program: UUID, person: UUID) throws -> ParticipantProfile? {
        try connection.first("""
            SELECT \(participationColumns) FROM participations x JOIN people ON people.id = x.person_id
            WHERE x.org_id = ? AND x.program_id = ? AND x.person_id = ? AND people.erased = 0
            """, organisation, program, person).map(profile)
    }

    /// Creates or replaces a participation (skills are replaced as a whole). When `version`
    /// is given it must be the current one. Returns nil when nothing changed.
    @discardableResult
    static func writeParticipation(
        _ connection: SQLiteConnection, organisation: UUID, program: UUID, person: UUID, role: ParticipantRole,
        profile: StoredProfile, capacity: Int?, version: Int?, requireVersionForUpdate: Bool, now: Date
    ) throws -> Bool {
        let existing = try connection.first(
            "SELECT id, version, role, profile, capacity FROM participations WHERE program_id = ? AND person_id = ?", program, person
        )
        let profileBlob = Array(try CBOREncoder().encode(profile))
        let participationID: UUID
        if let existing, let id = existing.uuid(0) {
            let current = Int(existing.int(1) ?? 1)
            if let version, version != current { throw StoreFailure.stale("participation", sent: version, current: current) }
            if version == nil && requireVersionForUpdate {
                throw RPCError(
                    code: .aborted,
                    message: "this person already takes part in the program (version \(current)); send that version to update the profile",
                    details: [.preconditionFailure([.init(type: "version", subject: "participation", description: "version required to update")])]
                )
            }
            if existing.text(2) == role.rawValue && existing.blob(3) == profileBlob && existing.int(4).map(Int.init) == capacity {
                return false
            }
            participationID = id
            try connection.execute(
                "UPDATE participations SET role = ?, profile = ?, capacity = ?, version = version + 1, updated_at = ? WHERE id = ?",
                role.rawValue, profileBlob, capacity, now.timeIntervalSince1970, id
            )
            try connection.execute("DELETE FROM participation_skills WHERE participation_id = ?", id)
        } else {
            participationID = UUID()
            try connection.execute("""
                INSERT INTO participations (id, org_id, program_id, person_id, role, profile, capacity, version, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, 1, ?)
                """, participationID, organisation, program, person, role.rawValue, profileBlob, capacity, now.timeIntervalSince1970)
        }
        for (kind, skills) in [("offered", profile.skillsOffered), ("wanted", profile.skillsWanted)] {
            for skill in skills {
                try connection.execute(
                    "INSERT INTO participation_skills (participation_id, org_id, person_id, kind, skill, level) VALUES (?, ?, ?, ?, ?, ?)",
                    participationID, organisation, person, kind, skill.name, skill.level
                )
            }
        }
        return true
    }

    func upsertParticipation(organisation: UUID, input: ParticipationInput, profile: StoredProfile, now: Date) async throws -> ParticipantProfile {
        try await database.write { connection in
            guard try connection.first("SELECT 1 FROM programs WHERE org_id = ? AND id = ?", organisation, input.programID) != nil else {
                throw RPCError.notFound("program", input.programID.uuidString.lowercased())
            }
            guard try connection.first("SELECT 1 FROM people WHERE org_id = ? AND id = ? AND erased = 0", organisation, input.personID) != nil else {
                throw RPCError.notFound("person", input.personID.uuidString.lowercased())
            }
            try Self.writeParticipation(
                connection, organisation: organisation, program: input.programID, person: input.personID, role: input.role, profile: profile,
                capacity: input.capacity, version: input.version, requireVersionForUpdate: true, now: now
            )
            guard let result = try Self.fetchParticipation(connection, organisation: organisation, program: input.programID, person: input.personID) else {
                throw StoreError.corrupt("participation")
            }
            return result
        }
    }

    func participation(organisation: UUID, program: UUID, person: UUID) async throws -> ParticipantProfile? {
        try await database.read { try Self.fetchParticipation($0, organisation: organisation, program: program, person: person) }
    }

    /// Whether two people take part in the same program (so they may see each other's profiles).
    func shareProgram(_ a: UUID, _ b: UUID, program: UUID) async throws -> Bool {
        try await database.read { connection in
            try connection.first("""
                SELECT 1 FROM participations p1 JOIN participations p2 ON p1.program_id = p2.program_id
                WHERE p1.person_id = ? AND p2.person_id = ? AND p1.program_id = ?
                """, a, b, program) != nil
        }
    }

    /// Active participants of a program, by participation id; `limit + 1` rows at most.
    func participants(organisation: UUID, program: UUID, role: ParticipantRole?, after: UUID?, limit: Int) async throws -> [ParticipantProfile]? {
        let query = Self.participantsQuery(organisation: organisation, program: program, role: role, after: after, limit: limit)
        return try await database.read { connection in
            guard try connection.first("SELECT 1 FROM programs WHERE org_id = ? AND id = ?", organisation, program) != nil else { return nil }
            return try connection.query(query.sql, query.values).map(Self.profile)
        }
    }

    /// The statement `participants` runs, with its values.
    static func participantsQuery(organisation: UUID, program: UUID, role: ParticipantRole?, after: UUID?, limit: Int) -> (sql: String, values: [SQLiteValue]) {
        var sql = """
            SELECT \(participationColumns) FROM participations x JOIN people ON people.id = x.person_id
            WHERE x.org_id = ? AND x.program_id = ? AND people.active = 1 AND people.erased = 0
            """
        var values: [SQLiteValue] = [organisation.sqliteValue, program.sqliteValue]
        if let role {
            sql += role == .both ? " AND x.role = ?" : " AND x.role IN (?, 'both')"
            values.append(.text(role.rawValue))
        }
        if let after {
            sql += " AND x.id > ?"
            values.append(after.sqliteValue)
        }
        sql += " ORDER BY x.id LIMIT ?"
        values.append((limit + 1).sqliteValue)
        return (sql, values)
    }

    /// The roles a person plays in programs, as stored.
    static let participationRolesSQL = "SELECT DISTINCT role FROM participations WHERE person_id = ?"

    /// The roles a person plays in programs (`mentor`, `mentee`).
    func participationRoles(person: UUID) async throws -> Set<String> {
        try await database.read { connection in
            var roles: Set<String> = []
            for row in try connection.query(Self.participationRolesSQL, person) {
                switch row.text(0) {
                case "mentor": roles.insert("mentor")
                case "mentee": roles.insert("mentee")
                case "both": roles.formUnion(["mentor", "mentee"])
                default: break
                }
            }
            return roles
        }
    }
}
