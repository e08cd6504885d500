#if canImport(FoundationEssentials)
public import FoundationEssentials
#else
public import Foundation
#endif
public import TandemWire

/// The identity service: organisations, programs, people, profiles, sign-in (Protocols/Identity.md).
public enum Identity {
    public static let serviceName = "identity"

    // Authentication
    public static let signIn = MethodDescriptor<SignInRequest, Tokens>(service: serviceName, method: "SignIn")
    public static let refresh = MethodDescriptor<RefreshRequest, Tokens>(service: serviceName, method: "Refresh")
    public static let signOut = MethodDescriptor<RefreshRequest, Empty>(service: serviceName, method: "SignOut", idempotent: true)
    public static let exchangeAPIKey = MethodDescriptor<APIKeyExchangeRequest, Tokens>(service: serviceName, method: "ExchangeAPIKey")
    public static let verificationKeys = MethodDescriptor<Empty, VerificationKeys>(service: serviceName, method: "VerificationKeys", idempotent: true)
    public static let rotateSigningKey = MethodDescriptor<RotateSigningKeyRequest, VerificationKeys>(service: serviceName, method: "RotateSigningKey")
    public static let whoAmI = MethodDescriptor<Empty, Caller>(service: serviceName, method: "WhoAmI", idempotent: true)

    // Organisations and programs
    public static let createOrganisation = MethodDescriptor<CreateOrganisationRequest, Organisation>(service: serviceName, method: "CreateOrganisation")
    public static let createProgram = MethodDescriptor<ProgramInput, Program>(service: serviceName, method: "CreateProgram")
    public static let updateProgram = MethodDescriptor<UpdateProgramRequest, Program>(service: serviceName, method: "UpdateProgram")
    public static let getProgram = MethodDescriptor<ProgramRef, Program>(service: serviceName, method: "GetProgram", idempotent: true)
    public static let listPrograms = MethodDescriptor<Empty, ProgramList>(service: serviceName, method: "ListPrograms", idempotent: true)

    // People
    public static let createPerson = MethodDescriptor<CreatePersonRequest, Person>(service: serviceName, method: "CreatePerson")
    public static let updatePerson = MethodDescriptor<UpdatePersonRequest, Person>(service: serviceName, method: "UpdatePerson")
    public static let getPerson = MethodDescriptor<PersonRef, Person>(service: serviceName, method: "GetPerson", idempotent: true)
    public static let listPeople = MethodDescriptor<ListPeopleRequest, PeoplePage>(service: serviceName, method: "ListPeople", idempotent: true)
    public static let deactivatePerson = MethodDescriptor<PersonRef, Person>(service: serviceName, method: "DeactivatePerson", idempotent: true)
    public static let erasePerson = MethodDescriptor<PersonRef, Empty>(service: serviceName, method: "ErasePerson", idempotent: true)
    public static let setPassword = MethodDescriptor<SetPasswordRequest, Empty>(service: serviceName, method: "SetPassword")
    public static let importPeople = MethodDescriptor<ImportPeopleRequest, ImportReport>(service: serviceName, method: "ImportPeople")

    // Participation in programs
    public static let upsertParticipation = MethodDescriptor<ParticipationInput, ParticipantProfile>(service: serviceName, method: "UpsertParticipation")
    public static let getParticipation = MethodDescriptor<ParticipationRef, ParticipantProfile>(service: serviceName, method: "GetParticipation", idempotent: true)
    public static let listParticipants = MethodDescriptor<ListParticipantsRequest, ParticipantPage>(service: serviceName, method: "ListParticipants", idempotent: true)

    // Service accounts
    public static let createServiceAccount = MethodDescriptor<CreateServiceAccountRequest, ServiceAccount>(service: serviceName, method: "CreateServiceAccount")
    public static let createAPIKey = MethodDescriptor<ServiceAccountRef, CreatedAPIKey>(service: serviceName, method: "CreateAPIKey")
    public static let revokeAPIKey = MethodDescriptor<APIKeyRef, Empty>(service: serviceName, method: "RevokeAPIKey", idempotent: true)
    public static let listServiceAccounts = MethodDescriptor<Empty, ServiceAccountList>(service: serviceName, method: "ListServiceAccounts", idempotent: true)

    // Internal (service to service, over mutual TLS, no token)
    /// Every erasure in order, for the services that keep personal data of their own (feedback).
    public static let listErasures = MethodDescriptor<ListErasuresRequest, ErasurePage>(service: serviceName, method: "ListErasures", idempotent: true)

    public static let methods: [AnyMethodDescriptor] = [
        signIn.erased, refresh.erased, signOut.erased, exchangeAPIKey.erased, verificationKeys.erased, rotateSigningKey.erased, whoAmI.erased,
        createOrganisation.erased, createProgram.erased, updateProgram.erased, getProgram.erased, listPrograms.erased,
        createPerson.erased, updatePerson.erased, getPerson.erased, listPeople.erased, deactivatePerson.erased, erasePerson.erased,
        setPassword.erased, importPeople.erased,
        upsertParticipation.erased, getParticipation.erased, listParticipants.erased,
        createServiceAccount.erased, createAPIKey.erased, revokeAPIKey.erased, listServiceAccounts.erased,
        listErasures.erased,
    ]

    /// Internal methods and the services (certificate names) allowed to call them. Matching and
    /// scheduling may read the erasure feed but do not follow it yet.
    public static let internalMethods: [String: Set<String>] = [
        listErasures.fullName: ["feedback", "matching", "scheduling"],
    ]
}

/// Role names carried in access tokens.
public enum Role {
    /// Runs the platform: may create organisations and rotate signing keys.
    public static let platformAdmin = "platform-admin"
    /// Administers one organisation.
    public static let organisationAdmin = "org-admin"
    /// Administers one or more programs (listed in the token's `programs` claim).
    public static let programAdmin = "program-admin"
    /// A service account; what it may call is in its scopes.
    public static let service = "service"
}

// MARK: - Authentication

public struct SignInRequest: Codable, Hashable, Sendable {
    /// The organisation's slug, e.g. `acme`.
    public var organisation: String
    public var email: String
    public var password: String

    public init(organisation: String, email: String, password: String) {
        self.organisation = organisation
        self.email = email
        self.password = password
    }

    enum CodingKeys: Int, CodingKey { case organisation = 1, email, password }
}

public struct RefreshRequest: Codable, Hashable, Sendable {
    public var refreshToken: String

    public init(refreshToken: String) {
        self.refreshToken = refreshToken
    }

    enum CodingKeys: Int, CodingKey { case refreshToken = 1 }
}

public struct APIKeyExchangeRequest: Codable, Hashable, Sendable {
    public var apiKey: String

    public init(apiKey: String) {
        self.apiKey = apiKey
    }

    enum CodingKeys: Int, CodingKey { case apiKey = 1 }
}

/// An access token (JWT, EdDSA, short-lived) and, for people, a refresh token.
public struct Tokens: Codable, Hashable, Sendable {
    public var accessToken: String
    public var accessExpiresAt: Date
    /// Opaque; rotated on every refresh. Absent for service accounts.
    public var refreshToken: String?
    public var refreshExpiresAt: Date?
    public var subject: UUID
    public var organisationID: UUID
    public var roles: [String]

    public init(accessToken: String, accessExpiresAt: Date, refreshToken: String?, refreshExpiresAt: Date?, subject: UUID, organisationID: UUID, roles: [String]) {
        self.accessToken = accessToken
        self.accessExpiresAt = accessExpiresAt
        self.refreshToken = refreshToken
        self.refreshExpiresAt = refreshExpiresAt
        self.subject = subject
        self.organisationID = organisationID
        self.roles = roles
    }

    enum CodingKeys: Int, CodingKey {
        case accessToken = 1, accessExpiresAt, refreshToken, refreshExpiresAt, subject, organisationID, roles
    }
}

/// The keys that verify access tokens, so services check tokens without calling identity.
public struct VerificationKeys: Codable, Hashable, Sendable {
    public var keys: [VerificationKey]

    public init(keys: [VerificationKey]) {
        self.keys = keys
    }

    enum CodingKeys: Int, CodingKey { case keys = 1 }
}

public struct VerificationKey: Codable, Hashable, Sendable {
    /// The key id, as in the token header's `kid`.
    public var keyID: String
    /// `EdDSA`.
    public var algorithm: String
    /// `Ed25519`.
    public var curve: String
    /// The 32-byte public key.
    public var publicKey: Data
    /// Tokens are signed with the newest key whose `activeFrom` has passed.
    public var activeFrom: Date
    /// After this, tokens signed with the key are no longer accepted (set when a newer key takes over).
    public var acceptedUntil: Date?

    public init(keyID: String, algorithm: String = "EdDSA", curve: String = "Ed25519", publicKey: Data, activeFrom: Date, acceptedUntil: Date?) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.curve = curve
        self.publicKey = publicKey
        self.activeFrom = activeFrom
        self.acceptedUntil = acceptedUntil
    }

    enum CodingKeys: Int, CodingKey { case keyID = 1, algorithm, curve, publicKey, activeFrom, acceptedUntil }
}

public struct RotateSigningKeyRequest: Codable, Hashable, Sendable {
    /// How long tokens signed with the old key stay valid (default: the access token lifetime).
    public var overlapSeconds: Int?

    public init(overlapSeconds: Int? = nil) {
        self.overlapSeconds = overlapSeconds
    }

    enum CodingKeys: Int, CodingKey { case overlapSeconds = 1 }
}

/// Who a token belongs to.
public struct Caller: Codable, Hashable, Sendable {
    public var subject: UUID
    public var organisationID: UUID
    /// `person` or `service`.
    public var kind: String
    public var roles: [String]
    /// Programs the caller administers.
    public var programs: [UUID]
    /// For service accounts: the methods it may call (`service.Method` or `service.*`).
    public var scopes: [String]

    public init(subject: UUID, organisationID: UUID, kind: String, roles: [String], programs: [UUID], scopes: [String]) {
        self.subject = subject
        self.organisationID = organisationID
        self.kind = kind
        self.roles = roles
        self.programs = programs
        self.scopes = scopes
    }

    enum CodingKeys: Int, CodingKey { case subject = 1, organisationID, kind, roles, programs, scopes }
}

// MARK: - Organisations and programs

public struct CreateOrganisationRequest: Codable, Hashable, Sendable {
    public var name: String
    /// Lower-case letters, digits and `-`; used to sign in.
    public var slug: String
    public var admin: PersonInput
    public var adminPassword: String

    public init(name: String, slug: String, admin: PersonInput, adminPassword: String) {
        self.name = name
        self.slug = slug
        self.admin = admin
        self.adminPassword = adminPassword
    }

    enum CodingKeys: Int, CodingKey { case name = 1, slug, admin, adminPassword }
}

public struct Organisation: Codable, Hashable, Sendable {
    public var id: UUID
    public var name: String
    public var slug: String
    public var createdAt: Date

    public init(id: UUID, name: String, slug: String, createdAt: Date) {
        self.id = id
        self.name = name
        self.slug = slug
        self.createdAt = createdAt
    }

    enum CodingKeys: Int, CodingKey { case id = 1, name, slug, createdAt }
}

/// How a program pairs people.
public enum ProgramFormat: String, Codable, Hashable, Sendable, CaseIterable {
    case oneToOne = "one-to-one"
    case group
    case reverse
    case peer
}

public struct ProgramInput: Codable, Hashable, Sendable {
    public var name: String
    public var format: ProgramFormat
    /// `YYYY-MM-DD`.
    public var startsOn: String
    public var endsOn: String?
    /// New hires are enrolled in onboarding programs.
    public var onboarding: Bool
    public var adminIDs: [UUID]

    public init(name: String, format: ProgramFormat, startsOn: String, endsOn: String? = nil, onboarding: Bool = false, adminIDs: [UUID] = []) {
        self.name = name
        self.format = format
        self.startsOn = startsOn
        self.endsOn = endsOn
        self.onboarding = onboarding
        self.adminIDs = adminIDs
    }

    enum CodingKeys: Int, CodingKey { case name = 1, format, startsOn, endsOn, onboarding, adminIDs }
}

public struct Program: Codable, Hashable, Sendable {
    public var id: UUID
    public var organisationID: UUID
    public var name: String
    public var format: ProgramFormat
    public var startsOn: String
    public var endsOn: String?
    public var onboarding: Bool
    public var adminIDs: [UUID]
    public var version: Int

    public init(id: UUID, organisationID: UUID, name: String, format: ProgramFormat, startsOn: String, endsOn: String?, onboarding: Bool, adminIDs: [UUID], version: Int) {
        self.id = id
        self.organisationID = organisationID
        self.name = name
        self.format = format
        self.startsOn = startsOn
        self.endsOn = endsOn
        self.onboarding = onboarding
        self.adminIDs = adminIDs
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case id = 1, organisationID, name, format, startsOn, endsOn, onboarding, adminIDs, version }
}

public struct UpdateProgramRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    /// The version read; a stale one is ABORTED.
    public var version: Int
    public var program: ProgramInput

    public init(programID: UUID, version: Int, program: ProgramInput) {
        self.programID = programID
        self.version = version
        self.program = program
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, version, program }
}

public struct ProgramRef: Codable, Hashable, Sendable {
    public var programID: UUID

    public init(programID: UUID) {
        self.programID = programID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1 }
}

public struct ProgramList: Codable, Hashable, Sendable {
    public var programs: [Program]

    public init(programs: [Program]) {
        self.programs = programs
    }

    enum CodingKeys: Int, CodingKey { case programs = 1 }
}

// MARK: - People

/// A person's working hours in their own time zone.
public struct WorkingHours: Codable, Hashable, Sendable {
    /// ISO weekdays: 1 Monday … 7 Sunday.
    public var days: [Int]
    /// Minutes after local midnight.
    public var startMinute: Int
    public var endMinute: Int

    public init(days: [Int] = [1, 2, 3, 4, 5], startMinute: Int = 9 * 60, endMinute: Int = 17 * 60) {
        self.days = days
        self.startMinute = startMinute
        self.endMinute = endMinute
    }

    enum CodingKeys: Int, CodingKey { case days = 1, startMinute, endMinute }
}

/// What is written about a person (create, update, import).
public struct PersonInput: Codable, Hashable, Sendable {
    /// The id in the HR system the people come from.
    public var externalID: String?
    public var email: String
    public var name: String
    public var division: String
    public var jobTitle: String
    /// 1 (entry) to 10 (executive).
    public var seniority: Int
    public var managerID: UUID?
    /// IANA time zone, e.g. `America/New_York`.
    public var timeZone: String
    public var workingHours: WorkingHours?
    public var languages: [String]
    public var location: String?
    /// `YYYY-MM-DD`.
    public var hireDate: String?
    public var organisationAdmin: Bool?

    public init(
        externalID: String? = nil, email: String, name: String, division: String, jobTitle: String, seniority: Int,
        managerID: UUID? = nil, timeZone: String, workingHours: WorkingHours? = nil, languages: [String] = ["en"],
        location: String? = nil, hireDate: String? = nil, organisationAdmin: Bool? = nil
    ) {
        self.externalID = externalID
        self.email = email
        self.name = name
        self.division = division
        self.jobTitle = jobTitle
        self.seniority = seniority
        self.managerID = managerID
        self.timeZone = timeZone
        self.workingHours = workingHours
        self.languages = languages
        self.location = location
        self.hireDate = hireDate
        self.organisationAdmin = organisationAdmin
    }

    enum CodingKeys: Int, CodingKey {
        case externalID = 1, email, name, division, jobTitle, seniority, managerID, timeZone, workingHours, languages, location, hireDate, organisationAdmin
    }
}

public struct Person: Codable, Hashable, Sendable {
    public var id: UUID
    public var organisationID: UUID
    public var externalID: String?
    public var email: String
    public var name: String
    public var division: String
    public var jobTitle: String
    public var seniority: Int
    public var managerID: UUID?
    public var timeZone: String
    public var workingHours: WorkingHours
    public var languages: [String]
    public var location: String?
    public var hireDate: String?
    public var active: Bool
    public var roles: [String]
    public var version: Int
    public var updatedAt: Date

    public init(
        id: UUID, organisationID: UUID, externalID: String?, email: String, name: String, division: String, jobTitle: String,
        seniority: Int, managerID: UUID?, timeZone: String, workingHours: WorkingHours, languages: [String], location: String?,
        hireDate: String?, active: Bool, roles: [String], version: Int, updatedAt: Date
    ) {
        self.id = id
        self.organisationID = organisationID
        self.externalID = externalID
        self.email = email
        self.name = name
        self.division = division
        self.jobTitle = jobTitle
        self.seniority = seniority
        self.managerID = managerID
        self.timeZone = timeZone
        self.workingHours = workingHours
        self.languages = languages
        self.location = location
        self.hireDate = hireDate
        self.active = active
        self.roles = roles
        self.version = version
        self.updatedAt = updatedAt
    }

    enum CodingKeys: Int, CodingKey {
        case id = 1, organisationID, externalID, email, name, division, jobTitle, seniority, managerID, timeZone, workingHours,
             languages, location, hireDate, active, roles, version, updatedAt
    }
}

public struct CreatePersonRequest: Codable, Hashable, Sendable {
    public var person: PersonInput
    /// An initial password (at least 12 characters); without one the person cannot sign in yet.
    public var password: String?

    public init(person: PersonInput, password: String? = nil) {
        self.person = person
        self.password = password
    }

    enum CodingKeys: Int, CodingKey { case person = 1, password }
}

public struct UpdatePersonRequest: Codable, Hashable, Sendable {
    public var personID: UUID
    /// The version read; a stale one is ABORTED.
    public var version: Int
    public var person: PersonInput

    public init(personID: UUID, version: Int, person: PersonInput) {
        self.personID = personID
        self.version = version
        self.person = person
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, version, person }
}

public struct PersonRef: Codable, Hashable, Sendable {
    public var personID: UUID

    public init(personID: UUID) {
        self.personID = personID
    }

    enum CodingKeys: Int, CodingKey { case personID = 1 }
}

public struct ListPeopleRequest: Codable, Hashable, Sendable {
    public var programID: UUID?
    public var role: ParticipantRole?
    /// People offering this skill (in the program, when one is given).
    public var skill: String?
    public var division: String?
    /// Matches name or email (case-insensitive substring).
    public var query: String?
    public var includeInactive: Bool?
    /// 1–500, default 50.
    public var pageSize: Int?
    public var pageToken: String?

    public init(programID: UUID? = nil, role: ParticipantRole? = nil, skill: String? = nil, division: String? = nil, query: String? = nil,
                includeInactive: Bool? = nil, pageSize: Int? = nil, pageToken: String? = nil) {
        self.programID = programID
        self.role = role
        self.skill = skill
        self.division = division
        self.query = query
        self.includeInactive = includeInactive
        self.pageSize = pageSize
        self.pageToken = pageToken
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, role, skill, division, query, includeInactive, pageSize, pageToken }
}

public struct PeoplePage: Codable, Hashable, Sendable {
    public var people: [Person]
    /// Pass back to get the next page; absent on the last page.
    public var nextPageToken: String?

    public init(people: [Person], nextPageToken: String?) {
        self.people = people
        self.nextPageToken = nextPageToken
    }

    enum CodingKeys: Int, CodingKey { case people = 1, nextPageToken }
}

public struct SetPasswordRequest: Codable, Hashable, Sendable {
    public var personID: UUID
    /// Required when people change their own password.
    public var currentPassword: String?
    public var newPassword: String

    public init(personID: UUID, currentPassword: String? = nil, newPassword: String) {
        self.personID = personID
        self.currentPassword = currentPassword
        self.newPassword = newPassword
    }

    enum CodingKeys: Int, CodingKey { case personID = 1, currentPassword, newPassword }
}

public struct ImportPeopleRequest: Codable, Hashable, Sendable {
    /// CSV with a header row (columns in Protocols/Identity.md).
    public var csv: String
    /// Validate and report, write nothing.
    public var dryRun: Bool
    /// Deactivate people of the organisation who are not in the file.
    public var deactivateMissing: Bool
    /// The program rows with a `role` column join.
    public var programID: UUID?

    public init(csv: String, dryRun: Bool = false, deactivateMissing: Bool = false, programID: UUID? = nil) {
        self.csv = csv
        self.dryRun = dryRun
        self.deactivateMissing = deactivateMissing
        self.programID = programID
    }

    enum CodingKeys: Int, CodingKey { case csv = 1, dryRun, deactivateMissing, programID }
}

public struct ImportReport: Codable, Hashable, Sendable {
    public var dryRun: Bool
    public var rows: Int
    public var created: Int
    public var updated: Int
    public var unchanged: Int
    public var deactivated: Int
    public var participations: Int
    /// Rows that were not imported, and why. The other rows were.
    public var errors: [ImportRowError]
    /// Active people missing from the file whom `deactivateMissing` left active: the caller and
    /// the organisation's administrators (org-admin, platform-admin).
    public var keptActive: Int?

    public init(
        dryRun: Bool, rows: Int, created: Int, updated: Int, unchanged: Int, deactivated: Int, participations: Int, errors: [ImportRowError],
        keptActive: Int? = nil
    ) {
        self.dryRun = dryRun
        self.rows = rows
        self.created = created
        self.updated = updated
        self.unchanged = unchanged
        self.deactivated = deactivated
        self.participations = participations
        self.errors = errors
        self.keptActive = keptActive
    }

    enum CodingKeys: Int, CodingKey { case dryRun = 1, rows, created, updated, unchanged, deactivated, participations, errors, keptActive }
}

public struct ImportRowError: Codable, Hashable, Sendable {
    /// 1-based line number in the file (the header is line 1).
    public var line: Int
    public var field: String
    public var rule: String
    public var message: String

    public init(line: Int, field: String, rule: String, message: String) {
        self.line = line
        self.field = field
        self.rule = rule
        self.message = message
    }

    enum CodingKeys: Int, CodingKey { case line = 1, field, rule, message }
}

// MARK: - Participation

public struct ParticipationInput: Codable, Hashable, Sendable {
    public var programID: UUID
    public var personID: UUID
    public var role: ParticipantRole
    public var skillsOffered: [SkillLevel]
    public var skillsWanted: [SkillLevel]
    public var goals: String?
    public var goalTags: [String]
    public var topics: [String]
    public var cadence: MeetingCadence?
    /// Mentors: most mentees at once (0 or more).
    public var capacity: Int?
    /// The version read when updating; a stale one is ABORTED. Absent when creating.
    public var version: Int?

    public init(programID: UUID, personID: UUID, role: ParticipantRole, skillsOffered: [SkillLevel] = [], skillsWanted: [SkillLevel] = [],
                goals: String? = nil, goalTags: [String] = [], topics: [String] = [], cadence: MeetingCadence? = nil, capacity: Int? = nil, version: Int? = nil) {
        self.programID = programID
        self.personID = personID
        self.role = role
        self.skillsOffered = skillsOffered
        self.skillsWanted = skillsWanted
        self.goals = goals
        self.goalTags = goalTags
        self.topics = topics
        self.cadence = cadence
        self.capacity = capacity
        self.version = version
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, personID, role, skillsOffered, skillsWanted, goals, goalTags, topics, cadence, capacity, version }
}

public struct ParticipationRef: Codable, Hashable, Sendable {
    public var programID: UUID
    public var personID: UUID

    public init(programID: UUID, personID: UUID) {
        self.programID = programID
        self.personID = personID
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, personID }
}

public struct ListParticipantsRequest: Codable, Hashable, Sendable {
    public var programID: UUID
    public var role: ParticipantRole?
    public var pageSize: Int?
    public var pageToken: String?

    public init(programID: UUID, role: ParticipantRole? = nil, pageSize: Int? = nil, pageToken: String? = nil) {
        self.programID = programID
        self.role = role
        self.pageSize = pageSize
        self.pageToken = pageToken
    }

    enum CodingKeys: Int, CodingKey { case programID = 1, role, pageSize, pageToken }
}

public struct ParticipantPage: Codable, Hashable, Sendable {
    public var participants: [ParticipantProfile]
    public var nextPageToken: String?

    public init(participants: [ParticipantProfile], nextPageToken: String?) {
        self.participants = participants
        self.nextPageToken = nextPageToken
    }

    enum CodingKeys: Int, CodingKey { case participants = 1, nextPageToken }
}

// MARK: - Service accounts

public struct CreateServiceAccountRequest: Codable, Hashable, Sendable {
    public var name: String
    /// Methods the account may call: `service.Method`, or `service.*` for all of a service.
    public var scopes: [String]

    public init(name: String, scopes: [String]) {
        self.name = name
        self.scopes = scopes
    }

    enum CodingKeys: Int, CodingKey { case name = 1, scopes }
}

public struct ServiceAccount: Codable, Hashable, Sendable {
    public var id: UUID
    public var name: String
    public var scopes: [String]
    public var createdAt: Date
    /// Ids of the account's keys that are not revoked.
    public var activeKeyIDs: [UUID]

    public init(id: UUID, name: String, scopes: [String], createdAt: Date, activeKeyIDs: [UUID]) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.createdAt = createdAt
        self.activeKeyIDs = activeKeyIDs
    }

    enum CodingKeys: Int, CodingKey { case id = 1, name, scopes, createdAt, activeKeyIDs }
}

public struct ServiceAccountRef: Codable, Hashable, Sendable {
    public var serviceAccountID: UUID

    public init(serviceAccountID: UUID) {
        self.serviceAccountID = serviceAccountID
    }

    enum CodingKeys: Int, CodingKey { case serviceAccountID = 1 }
}

public struct ServiceAccountList: Codable, Hashable, Sendable {
    public var serviceAccounts: [ServiceAccount]

    public init(serviceAccounts: [ServiceAccount]) {
        self.serviceAccounts = serviceAccounts
    }

    enum CodingKeys: Int, CodingKey { case serviceAccounts = 1 }
}

/// A new API key. The key itself is shown only here; identity keeps a hash.
public struct CreatedAPIKey: Codable, Hashable, Sendable {
    public var keyID: UUID
    /// `tdm_<key id>_<secret>`: send it to `ExchangeAPIKey` for an access token.
    public var apiKey: String

    public init(keyID: UUID, apiKey: String) {
        self.keyID = keyID
        self.apiKey = apiKey
    }

    enum CodingKeys: Int, CodingKey { case keyID = 1, apiKey }
}

public struct APIKeyRef: Codable, Hashable, Sendable {
    public var keyID: UUID

    public init(keyID: UUID) {
        self.keyID = keyID
    }

    enum CodingKeys: Int, CodingKey { case keyID = 1 }
}

// MARK: - Profiles (read by matching)

/// A skill with a level from 1 (beginner) to 5 (expert).
public struct SkillLevel: Codable, Hashable, Sendable {
    public var name: String
    public var level: Int

    public init(name: String, level: Int) {
        self.name = name
        self.level = level
    }

    enum CodingKeys: Int, CodingKey {
        case name = 1
        case level = 2
    }
}

/// The part a person plays in a program.
public enum ParticipantRole: String, Codable, Hashable, Sendable, CaseIterable {
    case mentor
    case mentee
    /// Mentor to some, mentee of others (peer and reverse programs).
    case both
}

/// How often a pair prefers to meet.
public enum MeetingCadence: String, Codable, Hashable, Sendable, CaseIterable {
    case weekly
    case fortnightly
    case monthly
    case flexible
}

/// A person's profile in one program: what matching reads and what a mentee sees of a mentor.
public struct ParticipantProfile: Codable, Hashable, Sendable {
    /// The participation (person in program) id.
    public var id: UUID
    public var personID: UUID
    public var programID: UUID
    public var role: ParticipantRole
    public var displayName: String
    public var division: String
    public var jobTitle: String
    /// Seniority level, 1 (entry) to 10 (executive).
    public var seniority: Int
    /// IANA time zone, e.g. `Europe/London`.
    public var timeZone: String
    /// BCP 47 language tags, e.g. `en`, `pt-BR`.
    public var languages: [String]
    public var skillsOffered: [SkillLevel]
    public var skillsWanted: [SkillLevel]
    /// The participant's goals in their own words.
    public var goals: String?
    public var goalTags: [String]
    /// Conversation topics the participant is open to.
    public var topics: [String]
    public var cadence: MeetingCadence?
    /// For mentors: the most mentees at once.
    public var capacity: Int?
    /// Optional and never a matching barrier.
    public var location: String?
    public var updatedAt: Date
    /// Incremented on every change; updates must name the version they read (optimistic concurrency).
    public var version: Int
    public var managerID: UUID?
    public var workingHours: WorkingHours?
    /// `YYYY-MM-DD`.
    public var hireDate: String?

    public init(
        id: UUID, personID: UUID, programID: UUID, role: ParticipantRole, displayName: String,
        division: String, jobTitle: String, seniority: Int, timeZone: String, languages: [String],
        skillsOffered: [SkillLevel], skillsWanted: [SkillLevel], goals: String? = nil, goalTags: [String] = [],
        topics: [String] = [], cadence: MeetingCadence? = nil, capacity: Int? = nil, location: String? = nil,
        updatedAt: Date, version: Int, managerID: UUID? = nil, workingHours: WorkingHours? = nil, hireDate: String? = nil
    ) {
        self.id = id
        self.personID = personID
        self.programID = programID
        self.role = role
        self.displayName = displayName
        self.division = division
        self.jobTitle = jobTitle
        self.seniority = seniority
        self.timeZone = timeZone
        self.languages = languages
        self.skillsOffered = skillsOffered
        self.skillsWanted = skillsWanted
        self.goals = goals
        self.goalTags = goalTags
        self.topics = topics
        self.cadence = cadence
        self.capacity = capacity
        self.location = location
        self.updatedAt = updatedAt
        self.version = version
        self.managerID = managerID
        self.workingHours = workingHours
        self.hireDate = hireDate
    }

    enum CodingKeys: Int, CodingKey {
        case id = 1
        case personID = 2
        case programID = 3
        case role = 4
        case displayName = 5
        case division = 6
        case jobTitle = 7
        case seniority = 8
        case timeZone = 9
        case languages = 10
        case skillsOffered = 11
        case skillsWanted = 12
        case goals = 13
        case goalTags = 14
        case topics = 15
        case cadence = 16
        case capacity = 17
        case location = 18
        case updatedAt = 19
        case version = 20
        case managerID = 21
        case workingHours = 22
        case hireDate = 23
    }
}

// MARK: - Erasure feed (internal)

/// Asks for the erasures after a sequence number.
public struct ListErasuresRequest: Codable, Hashable, Sendable {
    /// The last sequence already seen (`ErasurePage.last`); 0 reads from the start.
    public var after: Int
    /// 1–1000, default 500.
    public var limit: Int?

    public init(after: Int, limit: Int? = nil) {
        self.after = after
        self.limit = limit
    }

    enum CodingKeys: Int, CodingKey { case after = 1, limit }
}

/// One `ErasePerson`: the person's personal data is gone from identity, and services that keep
/// data about them erase theirs.
public struct Erasure: Codable, Hashable, Sendable {
    /// Why the services that follow erasures end or cancel what the person took part in (a match,
    /// a meeting to come), as their partners see it.
    public static let reason = "a participant is no longer in the program (erased)"

    /// Stamped in the erasure's own transaction: increasing in commit order, never reused.
    public var sequence: Int
    public var organisationID: UUID
    public var personID: UUID
    public var erasedAt: Date

    public init(sequence: Int, organisationID: UUID, personID: UUID, erasedAt: Date) {
        self.sequence = sequence
        self.organisationID = organisationID
        self.personID = personID
        self.erasedAt = erasedAt
    }

    enum CodingKeys: Int, CodingKey { case sequence = 1, organisationID, personID, erasedAt }
}

/// Erasures in increasing sequence order.
public struct ErasurePage: Codable, Hashable, Sendable {
    public var erasures: [Erasure]
    /// The cursor for the next request: the last erasure's sequence, or the request's `after`
    /// when there was nothing new.
    public var last: Int

    public init(erasures: [Erasure], last: Int) {
        self.erasures = erasures
        self.last = last
    }

    enum CodingKeys: Int, CodingKey { case erasures = 1, last }
}
