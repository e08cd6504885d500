import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemWire

// MARK: - Organisations and programs

extension IdentityServer {
    func createOrganisation(_ request: CreateOrganisationRequest, context: ServerContext) async throws -> Organisation {
        let caller = try context.caller()
        guard caller.has(role: Role.platformAdmin) else {
            throw RPCError(code: .permissionDenied, message: "creating an organisation needs the platform-admin role")
        }
        var admin = request.admin
        admin.email = Validation.normalizedEmail(admin.email)
        try Validation.check(Self.organisationViolations(name: request.name, slug: request.slug, admin: admin, password: request.adminPassword))
        let hash = try await hashPassword(request.adminPassword)
        let (organisation, _) = try await store.createOrganisation(
            name: request.name, slug: request.slug, admin: admin, adminPasswordHash: hash, platformAdmin: false, now: configuration.now()
        )
        return organisation
    }

    func createProgram(_ request: ProgramInput, context: ServerContext) async throws -> Program {
        let caller = try context.caller()
        try caller.requireOrganisationAuthority("creating a program")
        try Validation.check(Validation.program(request))
        return try await store.createProgram(organisation: caller.organisationID, input: request, now: configuration.now())
    }

    func updateProgram(_ request: UpdateProgramRequest, context: ServerContext) async throws -> Program {
        let caller = try context.caller()
        guard caller.actsForOrganisation || caller.programs.contains(request.programID) else {
            throw RPCError(code: .permissionDenied, message: "changing a program needs the org-admin role or to administer the program")
        }
        try Validation.check(Validation.program(request.program))
        if !caller.actsForOrganisation, let current = try await store.program(organisation: caller.organisationID, id: request.programID),
           Set(current.adminIDs) != Set(request.program.adminIDs) {
            throw RPCError(code: .permissionDenied, message: "only organisation admins change who administers a program")
        }
        return try await store.updateProgram(organisation: caller.organisationID, id: request.programID, version: request.version, input: request.program)
    }

    func getProgram(_ request: ProgramRef, context: ServerContext) async throws -> Program {
        let caller = try context.caller()
        guard let program = try await store.program(organisation: caller.organisationID, id: request.programID) else {
            throw RPCError.notFound("program", request.programID.uuidString.lowercased())
        }
        return program
    }

    func listPrograms(context: ServerContext) async throws -> ProgramList {
        let caller = try context.caller()
        return ProgramList(programs: try await store.programs(organisation: caller.organisationID))
    }
}

// MARK: - People

extension IdentityServer {
    private func normalized(_ input: PersonInput) -> PersonInput {
        var input = input
        input.email = Validation.normalizedEmail(input.email)
        input.name = input.name.trimmingCharacters(in: .whitespaces)
        if input.workingHours == nil { input.workingHours = WorkingHours() }
        return input
    }

    func createPerson(_ request: CreatePersonRequest, context: ServerContext) async throws -> Person {
        let caller = try context.caller()
        try caller.requireOrganisationAuthority("creating a person")
        let input = normalized(request.person)
        var violations = Validation.person(input)
        if let password = request.password, let violation = Validation.password(password) { violations.append(violation) }
        try Validation.check(violations)
        if input.organisationAdmin == true && caller.isService {
            throw RPCError(code: .permissionDenied, message: "service accounts cannot make organisation admins")
        }
        let hash = try await request.password.asyncMap { try await hashPassword($0) }
        return try await store.createPerson(organisation: caller.organisationID, input: input, passwordHash: hash, now: configuration.now())
    }

    func updatePerson(_ request: UpdatePersonRequest, context: ServerContext) async throws -> Person {
        let caller = try context.caller()
        guard let current = try await store.person(organisation: caller.organisationID, id: request.personID) else {
            throw RPCError.notFound("person", request.personID.uuidString.lowercased())
        }
        var input = normalized(request.person)
        let isAdmin = current.roles.contains(Role.organisationAdmin)
        if input.organisationAdmin == nil { input.organisationAdmin = isAdmin }
        if caller.actsForOrganisation {
            if input.organisationAdmin != isAdmin && caller.isService {
                throw RPCError(code: .permissionDenied, message: "service accounts cannot change who is an organisation admin")
            }
            if caller.subject == current.id && isAdmin && input.organisationAdmin == false {
                throw RPCError.failedPrecondition(type: "self", subject: "organisationAdmin", "you cannot remove your own org-admin role; ask another admin")
            }
        } else {
            guard caller.subject == current.id, !caller.isService else {
                throw RPCError(code: .permissionDenied, message: "changing another person needs the org-admin role")
            }
            // People keep their own profile up to date; what HR owns stays as it is.
            let owned = IdentityStore.input(of: current)
            var allowed = owned
            allowed.name = input.name
            allowed.timeZone = input.timeZone
            allowed.workingHours = input.workingHours
            allowed.languages = input.languages
            allowed.location = input.location
            allowed.organisationAdmin = isAdmin
            if input != allowed {
                throw RPCError(
                    code: .permissionDenied,
                    message: "you may change your name, time zone, working hours, languages and location; the rest needs an org admin"
                )
            }
            input = allowed
        }
        try Validation.check(Validation.person(input))
        return try await store.updatePerson(
            organisation: caller.organisationID, id: request.personID, version: request.version, input: input, now: configuration.now()
        )
    }

    func getPerson(_ request: PersonRef, context: ServerContext) async throws -> Person {
        let caller = try context.caller()
        guard let person = try await store.person(organisation: caller.organisationID, id: request.personID) else {
            throw RPCError.notFound("person", request.personID.uuidString.lowercased())
        }
        return person
    }

    func listPeople(_ request: ListPeopleRequest, context: ServerContext) async throws -> PeoplePage {
        let caller = try context.caller()
        let administersProgram = request.programID.map { caller.programs.contains($0) } ?? false
        guard caller.actsForOrganisation || administersProgram else {
            throw RPCError(code: .permissionDenied, message: "listing people needs the org-admin role, or a programID you administer")
        }
        var violations: [ErrorDetail.FieldViolation] = []
        let pageSize = request.pageSize ?? 50
        if let violation = Validation.range(pageSize, 1...500, field: "pageSize") { violations.append(violation) }
        var cursor: PeopleCursor?
        if let token = request.pageToken {
            cursor = PeopleCursor(token: token)
            if cursor == nil { violations.append(.init(field: "pageToken", rule: "format", description: "is not a token from a previous page")) }
        }
        for (value, field) in [(request.query, "query"), (request.skill, "skill"), (request.division, "division")] {
            if let value, value.isEmpty || value.count > 200 {
                violations.append(.init(field: field, rule: "length", description: "must be 1–200 characters"))
            }
        }
        try Validation.check(violations)
        let filter = PeopleFilter(
            programID: request.programID, role: request.role, skill: request.skill?.trimmingCharacters(in: .whitespaces),
            division: request.division, query: request.query, includeInactive: request.includeInactive ?? false
        )
        var people = try await store.people(organisation: caller.organisationID, filter: filter, after: cursor, limit: pageSize)
        var next: String?
        if people.count > pageSize {
            people.removeLast(people.count - pageSize)
            next = people.last.map { PeopleCursor(name: $0.name, id: $0.id).token }
        }
        return PeoplePage(people: people, nextPageToken: next)
    }

    /// Only a platform admin sets a platform admin's password, deactivates or erases them: an
    /// org-admin of their organisation must not lock the platform's operators out.
    func requirePlatformAuthority(over personID: UUID, caller: AuthenticatedCaller, _ action: String) async throws {
        guard !caller.has(role: Role.platformAdmin),
              let person = try await store.person(organisation: caller.organisationID, id: personID),
              person.roles.contains(Role.platformAdmin) else { return }
        throw RPCError(code: .permissionDenied, message: "\(action) a platform admin needs the platform-admin role")
    }

    func deactivatePerson(_ request: PersonRef, context: ServerContext) async throws -> Person {
        let caller = try context.caller()
        try caller.requireOrganisationAuthority("deactivating a person")
        if request.personID == caller.subject {
            throw RPCError.failedPrecondition(type: "self", subject: "personID", "you cannot deactivate yourself")
        }
        try await requirePlatformAuthority(over: request.personID, caller: caller, "deactivating")
        return try await store.deactivatePerson(organisation: caller.organisationID, id: request.personID, now: configuration.now())
    }

    func erasePerson(_ request: PersonRef, context: ServerContext) async throws -> Empty {
        let caller = try context.caller()
        try caller.requireOrganisationAuthority("erasing a person")
        if request.personID == caller.subject {
            throw RPCError.failedPrecondition(type: "self", subject: "personID", "you cannot erase yourself; ask another admin")
        }
        try await requirePlatformAuthority(over: request.personID, caller: caller, "erasing")
        try await store.erasePerson(organisation: caller.organisationID, id: request.personID, now: configuration.now())
        context.logger.notice("erased a person", metadata: ["person": "\(request.personID)", "organisation": "\(caller.organisationID)"])
        return Empty()
    }

    func setPassword(_ request: SetPasswordRequest, context: ServerContext) async throws -> Empty {
        let caller = try context.caller()
        try caller.requirePerson("setting a password")
        try Validation.check([Validation.password(request.newPassword, field: "newPassword")].compactMap { $0 })
        if request.personID == caller.subject {
            guard let current = request.currentPassword else {
                throw RPCError.invalidArgument(field: "currentPassword", rule: "required", "is needed to change your own password")
            }
            let account = "self/" + caller.subject.uuidString
            let client = clientAddress(context)
            try beginAttempt(account: account, client: client)
            let matches: Bool
            do {
                let stored = try await store.passwordHash(organisation: caller.organisationID, id: caller.subject)
                matches = try await verifyPassword(current, against: stored)
            } catch {
                endAttempt(account: account, client: client, failed: false)
                throw error
            }
            endAttempt(account: account, client: client, failed: !matches)
            guard matches else { throw RPCError(code: .permissionDenied, message: "currentPassword is wrong") }
        } else {
            guard caller.isOrganisationAdmin else {
                throw RPCError(code: .permissionDenied, message: "setting another person's password needs the org-admin role")
            }
            try await requirePlatformAuthority(over: request.personID, caller: caller, "setting the password of")
        }
        let hash = try await hashPassword(request.newPassword)
        try await store.setPasswordHash(organisation: caller.organisationID, id: request.personID, hash: hash, now: configuration.now())
        return Empty()
    }

    func importPeople(_ request: ImportPeopleRequest, context: ServerContext) async throws -> ImportReport {
        let caller = try context.caller()
        try caller.requireOrganisationAuthority("importing people")
        guard !request.csv.isEmpty else { throw RPCError.invalidArgument(field: "csv", rule: "required", "must not be empty") }
        let parsed = ImportPlanner.parse(request.csv, hasProgram: request.programID != nil)
        let report = try await store.importPeople(
            organisation: caller.organisationID, parsed: parsed, dryRun: request.dryRun, deactivateMissing: request.deactivateMissing,
            program: request.programID, caller: caller.subject, now: configuration.now()
        )
        context.logger.info("import", metadata: [
            "rows": "\(report.rows)", "created": "\(report.created)", "updated": "\(report.updated)", "errors": "\(report.errors.count)",
            "dry-run": "\(report.dryRun)",
        ])
        return report
    }
}

// MARK: - Participation

extension IdentityServer {
    static func storedProfile(_ input: ParticipationInput) -> StoredProfile {
        func clean(_ skills: [SkillLevel]) -> [SkillLevel] {
            skills.map { SkillLevel(name: $0.name.trimmingCharacters(in: .whitespaces).lowercased(), level: $0.level) }
        }
        return StoredProfile(
            skillsOffered: clean(input.skillsOffered), skillsWanted: clean(input.skillsWanted), goals: input.goals,
            goalTags: input.goalTags.map { $0.trimmingCharacters(in: .whitespaces).lowercased() }, topics: input.topics, cadence: input.cadence
        )
    }

    func upsertParticipation(_ request: ParticipationInput, context: ServerContext) async throws -> ParticipantProfile {
        let caller = try context.caller()
        guard caller.actsForOrganisation || caller.programs.contains(request.programID) || caller.subject == request.personID else {
            throw RPCError(code: .permissionDenied, message: "changing someone else's participation needs the org-admin role or to administer the program")
        }
        var violations = Validation.participation(request)
        let profile = Self.storedProfile(request)
        for (skills, name) in [(profile.skillsOffered, "skillsOffered"), (profile.skillsWanted, "skillsWanted")] {
            var seen: Set<String> = []
            for (index, skill) in skills.enumerated() where !seen.insert(skill.name).inserted {
                violations.append(.init(field: "\(name)[\(index)].name", rule: "unique", description: "'\(skill.name)' is listed twice"))
            }
        }
        var seenTags: Set<String> = []
        for (index, tag) in profile.goalTags.enumerated() where !tag.isEmpty && !seenTags.insert(tag).inserted {
            violations.append(.init(field: "goalTags[\(index)]", rule: "unique", description: "'\(tag)' is listed twice"))
        }
        for (list, name) in [(request.goalTags, "goalTags"), (request.topics, "topics")] where list.count > 50 {
            violations.append(.init(field: name, rule: "length", description: "at most 50, got \(list.count)"))
        }
        try Validation.check(violations)
        return try await store.upsertParticipation(organisation: caller.organisationID, input: request, profile: profile, now: configuration.now())
    }

    func getParticipation(_ request: ParticipationRef, context: ServerContext) async throws -> ParticipantProfile {
        let caller = try context.caller()
        let notFound = RPCError.notFound("participation", "\(request.programID.uuidString.lowercased())/\(request.personID.uuidString.lowercased())")
        guard let profile = try await store.participation(organisation: caller.organisationID, program: request.programID, person: request.personID) else {
            throw notFound
        }
        let allowed = caller.actsForOrganisation || caller.programs.contains(request.programID) || caller.subject == request.personID
        if !allowed {
            // Participants of the same program see each other's profiles (a mentee reads a mentor's).
            guard try await store.shareProgram(caller.subject, request.personID, program: request.programID) else { throw notFound }
        }
        return profile
    }

    func listParticipants(_ request: ListParticipantsRequest, context: ServerContext) async throws -> ParticipantPage {
        let caller = try context.caller()
        guard caller.actsForOrganisation || caller.programs.contains(request.programID) else {
            throw RPCError(code: .permissionDenied, message: "listing participants needs the org-admin role or to administer the program")
        }
        let pageSize = request.pageSize ?? 100
        var violations: [ErrorDetail.FieldViolation] = []
        if let violation = Validation.range(pageSize, 1...1000, field: "pageSize") { violations.append(violation) }
        var after: UUID?
        if let token = request.pageToken {
            after = UUID(uuidString: token)
            if after == nil { violations.append(.init(field: "pageToken", rule: "format", description: "is not a token from a previous page")) }
        }
        try Validation.check(violations)
        guard var participants = try await store.participants(
            organisation: caller.organisationID, program: request.programID, role: request.role, after: after, limit: pageSize
        ) else {
            throw RPCError.notFound("program", request.programID.uuidString.lowercased())
        }
        var next: String?
        if participants.count > pageSize {
            participants.removeLast(participants.count - pageSize)
            next = participants.last?.id.uuidString
        }
        return ParticipantPage(participants: participants, nextPageToken: next)
    }
}

// MARK: - Service accounts

extension IdentityServer {
    static func scopeViolations(_ scopes: [String]) -> [ErrorDetail.FieldViolation] {
        var violations: [ErrorDetail.FieldViolation] = []
        if scopes.isEmpty { violations.append(.init(field: "scopes", rule: "required", description: "name at least one method or service.*")) }
        for (index, scope) in scopes.enumerated() {
            let parts = scope.split(separator: ".", omittingEmptySubsequences: false)
            let valid = parts.count == 2 && !parts[0].isEmpty && parts[0].allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber) }
                && (parts[1] == "*" || (!parts[1].isEmpty && parts[1].allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }))
            if !valid {
                violations.append(.init(field: "scopes[\(index)]", rule: "format", description: "'\(scope.prefix(60))' is not service.Method or service.*"))
            }
        }
        return violations
    }

    func createServiceAccount(_ request: CreateServiceAccountRequest, context: ServerContext) async throws -> ServiceAccount {
        let caller = try context.caller()
        try caller.requirePerson("creating a service account")
        try caller.requireOrganisationAdmin("creating a service account")
        var violations = Self.scopeViolations(request.scopes)
        if let violation = Validation.nonEmpty(request.name, field: "name", maxLength: 100) { violations.append(violation) }
        try Validation.check(violations)
        return try await store.createServiceAccount(organisation: caller.organisationID, name: request.name, scopes: request.scopes, now: configuration.now())
    }

    func createAPIKey(_ request: ServiceAccountRef, context: ServerContext) async throws -> CreatedAPIKey {
        let caller = try context.caller()
        try caller.requirePerson("creating an API key")
        try caller.requireOrganisationAdmin("creating an API key")
        let keyID = UUID()
        let key = APIKeyFormat.make(keyID: keyID)
        try await store.createAPIKey(
            organisation: caller.organisationID, account: request.serviceAccountID, keyID: keyID, secretDigest: secretDigest(key), now: configuration.now()
        )
        return CreatedAPIKey(keyID: keyID, apiKey: key)
    }

    func revokeAPIKey(_ request: APIKeyRef, context: ServerContext) async throws -> Empty {
        let caller = try context.caller()
        try caller.requirePerson("revoking an API key")
        try caller.requireOrganisationAdmin("revoking an API key")
        try await store.revokeAPIKey(organisation: caller.organisationID, keyID: request.keyID)
        return Empty()
    }

    func listServiceAccounts(context: ServerContext) async throws -> ServiceAccountList {
        let caller = try context.caller()
        try caller.requireOrganisationAdmin("listing service accounts")
        return ServiceAccountList(serviceAccounts: try await store.serviceAccounts(organisation: caller.organisationID))
    }
}

extension Optional {
    func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
