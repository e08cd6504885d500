import Foundation
import Logging
import TandemProtocols
import TandemStore
import TandemWire

/// Identity's data in SQLite. Every query names the organisation: no method of this type can
/// read or change another organisation's rows.
final class IdentityStore: Sendable {
    let database: SQLiteDatabase
    let logger: Logger

    init(path: String, logger: Logger) throws {
        self.logger = logger
        database = try SQLiteDatabase(path: path, migrations: IdentityStore.migrations, secureDelete: true, logger: logger)
    }

    func close() {
        database.close()
    }

    static let migrations: [Migration] = [
        Migration(version: 1, """
            CREATE TABLE organisations (
                id BLOB PRIMARY KEY, name TEXT NOT NULL, slug TEXT NOT NULL UNIQUE, created_at REAL NOT NULL
            );
            CREATE TABLE people (
                id BLOB PRIMARY KEY,
                org_id BLOB NOT NULL REFERENCES organisations(id),
                external_id TEXT,
                email TEXT NOT NULL,
                name TEXT NOT NULL,
                division TEXT NOT NULL,
                job_title TEXT NOT NULL,
                seniority INTEGER NOT NULL CHECK (seniority BETWEEN 1 AND 10),
                manager_id BLOB,
                time_zone TEXT NOT NULL,
                working_hours BLOB NOT NULL,
                languages TEXT NOT NULL,
                location TEXT,
                hire_date TEXT,
                active INTEGER NOT NULL DEFAULT 1,
                org_admin INTEGER NOT NULL DEFAULT 0,
                platform_admin INTEGER NOT NULL DEFAULT 0,
                password_hash TEXT,
                erased INTEGER NOT NULL DEFAULT 0,
                version INTEGER NOT NULL,
                updated_at REAL NOT NULL,
                UNIQUE (org_id, email),
                UNIQUE (org_id, external_id)
            );
            CREATE INDEX people_by_org_division ON people (org_id, division);
            CREATE INDEX people_by_org_name ON people (org_id, name, id);
            CREATE TABLE programs (
                id BLOB PRIMARY KEY,
                org_id BLOB NOT NULL REFERENCES organisations(id),
                name TEXT NOT NULL,
                format TEXT NOT NULL,
                starts_on TEXT NOT NULL,
                ends_on TEXT,
                onboarding INTEGER NOT NULL,
                version INTEGER NOT NULL,
                created_at REAL NOT NULL
            );
            CREATE TABLE program_admins (
                program_id BLOB NOT NULL REFERENCES programs(id),
                person_id BLOB NOT NULL REFERENCES people(id),
                PRIMARY KEY (program_id, person_id)
            );
            CREATE INDEX program_admins_by_person ON program_admins (person_id);
            CREATE TABLE participations (
                id BLOB PRIMARY KEY,
                org_id BLOB NOT NULL,
                program_id BLOB NOT NULL REFERENCES programs(id),
                person_id BLOB NOT NULL REFERENCES people(id),
                role TEXT NOT NULL,
                profile BLOB NOT NULL,
                capacity INTEGER CHECK (capacity IS NULL OR capacity >= 0),
                version INTEGER NOT NULL,
                updated_at REAL NOT NULL,
                UNIQUE (program_id, person_id)
            );
            CREATE TABLE participation_skills (
                participation_id BLOB NOT NULL REFERENCES participations(id) ON DELETE CASCADE,
                org_id BLOB NOT NULL,
                person_id BLOB NOT NULL,
                kind TEXT NOT NULL,
                skill TEXT NOT NULL,
                level INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
                PRIMARY KEY (participation_id, kind, skill)
            );
            CREATE INDEX skills_by_org_skill ON participation_skills (org_id, skill, kind);
            CREATE TABLE refresh_tokens (
                token_hash BLOB PRIMARY KEY,
                family_id BLOB NOT NULL,
                person_id BLOB NOT NULL,
                org_id BLOB NOT NULL,
                expires_at REAL NOT NULL,
                used INTEGER NOT NULL DEFAULT 0,
                revoked INTEGER NOT NULL DEFAULT 0,
                created_at REAL NOT NULL
            );
            CREATE INDEX refresh_tokens_by_family ON refresh_tokens (family_id);
            CREATE INDEX refresh_tokens_by_person ON refresh_tokens (person_id);
            CREATE TABLE signing_keys (
                kid TEXT PRIMARY KEY, private_key BLOB NOT NULL, active_from REAL NOT NULL, accepted_until REAL
            );
            CREATE TABLE service_accounts (
                id BLOB PRIMARY KEY, org_id BLOB NOT NULL REFERENCES organisations(id), name TEXT NOT NULL,
                scopes TEXT NOT NULL, created_at REAL NOT NULL
            );
            CREATE TABLE api_keys (
                id BLOB PRIMARY KEY, account_id BLOB NOT NULL REFERENCES service_accounts(id), org_id BLOB NOT NULL,
                secret_hash BLOB NOT NULL, created_at REAL NOT NULL, revoked INTEGER NOT NULL DEFAULT 0
            );
            """),
        // The erasure feed (identity.ListErasures): every erasure gets the next sequence in its own
        // transaction. AUTOINCREMENT: a sequence is never reused. People erased before the feed
        // existed are numbered in the order of their erasure, so followers erase them too.
        Migration(version: 2, """
            CREATE TABLE erasures (
                sequence INTEGER PRIMARY KEY AUTOINCREMENT, org_id BLOB NOT NULL, person_id BLOB NOT NULL, erased_at REAL NOT NULL
            );
            INSERT INTO erasures (org_id, person_id, erased_at)
                SELECT org_id, id, updated_at FROM people WHERE erased = 1 ORDER BY updated_at, id;
            """),
        // A person's participations (`participationRoles` on every sign-in and token refresh, and
        // erasure): without it, each of those read the whole table, every organisation's rows. A
        // program's participants in page order (`participants`): without it, every page read and
        // sorted all of the program's participants.
        Migration(version: 3, """
            CREATE INDEX participations_by_person ON participations (person_id, role);
            CREATE INDEX participations_by_program ON participations (program_id, id);
            """),
        // ListPeople's filters as index probes. A division compares without case, which the binary
        // division index could not serve, so a division's page walked the organisation by name;
        // now a division's people come from the index in page order. A skill filter probed every
        // holder of the skill for each person walked; with the person in the index it is one look-up.
        Migration(version: 4, """
            DROP INDEX people_by_org_division;
            CREATE INDEX people_by_org_division ON people (org_id, division COLLATE NOCASE, name, id);
            DROP INDEX skills_by_org_skill;
            CREATE INDEX skills_by_org_skill ON participation_skills (org_id, skill, kind, person_id);
            """),
        // An erased person's reports (their `manager_id` is cleared): without it, each erasure
        // walked the organisation's people.
        Migration(version: 5, "CREATE INDEX people_by_manager ON people (org_id, manager_id) WHERE manager_id IS NOT NULL;"),
    ]
}

// MARK: - Row mapping

/// The CBOR-encoded part of a participation row.
struct StoredProfile: Codable, Equatable {
    var skillsOffered: [SkillLevel]
    var skillsWanted: [SkillLevel]
    var goals: String?
    var goalTags: [String]
    var topics: [String]
    var cadence: MeetingCadence?

    enum CodingKeys: Int, CodingKey { case skillsOffered = 1, skillsWanted, goals, goalTags, topics, cadence }
}

extension IdentityStore {
    /// The columns `person(_:)` reads, from table `people` (not aliased).
    static let personColumns = """
        people.id, people.org_id, people.external_id, people.email, people.name, people.division, people.job_title, people.seniority,
        people.manager_id, people.time_zone, people.working_hours, people.languages, people.location, people.hire_date, people.active,
        people.org_admin, people.platform_admin, people.version, people.updated_at,
        EXISTS (SELECT 1 FROM program_admins WHERE program_admins.person_id = people.id)
        """

    static func person(_ row: SQLiteRow) throws -> Person {
        guard let id = row.uuid(0), let organisation = row.uuid(1) else { throw StoreError.corrupt("person id") }
        var roles: [String] = []
        if row.int(15) == 1 { roles.append(Role.organisationAdmin) }
        if row.int(16) == 1 { roles.append(Role.platformAdmin) }
        if row.int(19) == 1 { roles.append(Role.programAdmin) }
        return Person(
            id: id, organisationID: organisation, externalID: row.text(2), email: row.text(3) ?? "", name: row.text(4) ?? "",
            division: row.text(5) ?? "", jobTitle: row.text(6) ?? "", seniority: Int(row.int(7) ?? 1), managerID: row.uuid(8),
            timeZone: row.text(9) ?? "UTC", workingHours: try CBORDecoder().decode(WorkingHours.self, from: row.blob(10) ?? []),
            languages: (row.text(11) ?? "").split(separator: ";").map(String.init), location: row.text(12), hireDate: row.text(13),
            active: row.int(14) == 1, roles: roles, version: Int(row.int(17) ?? 1), updatedAt: Date(timeIntervalSince1970: row.double(18) ?? 0)
        )
    }

    /// The input a person was written from (for unchanged-row detection in imports).
    static func input(of person: Person) -> PersonInput {
        PersonInput(
            externalID: person.externalID, email: person.email, name: person.name, division: person.division, jobTitle: person.jobTitle,
            seniority: person.seniority, managerID: person.managerID, timeZone: person.timeZone, workingHours: person.workingHours,
            languages: person.languages, location: person.location, hireDate: person.hireDate,
            organisationAdmin: person.roles.contains(Role.organisationAdmin) ? true : nil
        )
    }

    static let programColumns = "id, org_id, name, format, starts_on, ends_on, onboarding, version"

    static func program(_ row: SQLiteRow, admins: [UUID]) throws -> Program {
        guard let id = row.uuid(0), let organisation = row.uuid(1) else { throw StoreError.corrupt("program id") }
        return Program(
            id: id, organisationID: organisation, name: row.text(2) ?? "", format: ProgramFormat(rawValue: row.text(3) ?? "") ?? .oneToOne,
            startsOn: row.text(4) ?? "", endsOn: row.text(5), onboarding: row.int(6) == 1, adminIDs: admins, version: Int(row.int(7) ?? 1)
        )
    }
}

enum StoreError: Error, CustomStringConvertible {
    case corrupt(String)

    var description: String {
        switch self {
        case .corrupt(let what): return "stored data is corrupt (\(what))"
        }
    }
}
