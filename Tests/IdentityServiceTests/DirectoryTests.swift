import Foundation
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import IdentityService

@Suite("Identity end to end: people, programs, participation")
struct DirectoryTests {
    @Test("bad input is INVALID_ARGUMENT naming every field, duplicates are ALREADY_EXISTS, and nothing is written")
    func badInput() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            var bad = personInput("not-an-email", timeZone: "Mars/Olympus_Mons")
            bad.seniority = 0
            let error = await expectRPCError(.invalidArgument) {
                _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: bad, password: "short"), token: admin)
            }
            #expect(Set(error?.fieldViolations.map(\.field) ?? []) == ["person.email", "person.timeZone", "person.seniority", "password"])

            _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("sam@acme.example", externalID: "E7")), token: admin)
            let duplicate = await expectRPCError(.alreadyExists) {
                _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("SAM@acme.example")), token: admin)
            }
            #expect(duplicate?.fieldViolations.map(\.field) == ["person.email"])
            await expectRPCError(.alreadyExists) {
                _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("other@acme.example", externalID: "E7")), token: admin)
            }
            var unknownManager = personInput("m@acme.example")
            unknownManager.managerID = UUID()
            let manager = await expectRPCError(.invalidArgument) {
                _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: unknownManager), token: admin)
            }
            #expect(manager?.fieldViolations.map(\.field) == ["person.managerID"])
            let everyone = try await identity.call(Identity.listPeople, ListPeopleRequest(includeInactive: true), token: admin)
            #expect(everyone.people.map(\.email).sorted() == ["admin@acme.example", "sam@acme.example"])

            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "Onboarding", format: .oneToOne, startsOn: "2026-01-05", onboarding: true), token: admin)
            await expectRPCError(.alreadyExists) {
                _ = try await identity.call(Identity.createProgram, ProgramInput(name: "onboarding", format: .group, startsOn: "2026-01-05"), token: admin)
            }
            let sam = everyone.people.first { $0.email == "sam@acme.example" }!
            let levels = await expectRPCError(.invalidArgument) {
                _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                    programID: program.id, personID: sam.id, role: .mentor,
                    skillsOffered: [SkillLevel(name: "Swift", level: 6), SkillLevel(name: "swift ", level: 2)], capacity: -1
                ), token: admin)
            }
            #expect(Set(levels?.fieldViolations.map(\.field) ?? []) == ["skillsOffered[0].level", "skillsOffered[1].name", "capacity"])
            await expectRPCError(.notFound) {
                _ = try await identity.call(Identity.getParticipation, ParticipationRef(programID: program.id, personID: sam.id), token: admin)
            }
        }
    }

    @Test("goal tags are stored lower case and trimmed; an empty, over-long or repeated tag, or more than 50 goal tags or topics, is refused naming the field, and writes nothing")
    func goalTagsAndTopics() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let gia = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("gia@acme.example")), token: admin)
            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "Goals", format: .oneToOne, startsOn: "2026-03-02"), token: admin)
            let many = (0..<51).map { "tag \($0)" }
            for (goalTags, topics, expected) in [
                (["growth"], many, ["topics length"]), (many, ["career"], ["goalTags length"]), (many, many, ["goalTags length", "topics length"]),
                // Compared as stored: trimmed and in lower case.
                (["growth", " ", " Growth"], ["career"], ["goalTags[1] required", "goalTags[2] unique"]),
                ([String(repeating: "x", count: 81)], ["career"], ["goalTags[0] length"]),
            ] {
                let error = await expectRPCError(.invalidArgument) {
                    _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                        programID: program.id, personID: gia.id, role: .mentee, goalTags: goalTags, topics: topics
                    ), token: admin)
                }
                #expect(error?.fieldViolations.map { "\($0.field) \($0.rule)" } == expected)
            }
            await expectRPCError(.notFound) {
                _ = try await identity.call(Identity.getParticipation, ParticipationRef(programID: program.id, personID: gia.id), token: admin)
            }
            let profile = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                programID: program.id, personID: gia.id, role: .mentee, goalTags: [" Leadership ", "\tPublic Speaking"], topics: ["Career"]
            ), token: admin)
            #expect(profile.goalTags == ["leadership", "public speaking"])
            let read = try await identity.call(Identity.getParticipation, ParticipationRef(programID: program.id, personID: gia.id), token: admin)
            #expect(read.goalTags == ["leadership", "public speaking"])
        }
    }

    @Test("profile updates use optimistic concurrency: a stale version is ABORTED")
    func versions() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let created = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("vic@acme.example")), token: admin)
            #expect(created.version == 1)
            var change = personInput("vic@acme.example", division: "Sales")
            let updated = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: created.id, version: 1, person: change), token: admin)
            #expect(updated.version == 2 && updated.division == "Sales")
            change.division = "Finance"
            let stale = await expectRPCError(.aborted) {
                _ = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: created.id, version: 1, person: change), token: admin)
            }
            #expect(stale?.message.contains("current version is 2") == true)

            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "Circle", format: .group, startsOn: "2026-02-01"), token: admin)
            let first = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                programID: program.id, personID: created.id, role: .mentor, skillsOffered: [SkillLevel(name: "Negotiation", level: 4)], capacity: 2
            ), token: admin)
            #expect(first.version == 1 && first.skillsOffered == [SkillLevel(name: "negotiation", level: 4)] && first.division == "Sales")
            await expectRPCError(.aborted) {
                _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(programID: program.id, personID: created.id, role: .mentor), token: admin)
            }
            let second = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                programID: program.id, personID: created.id, role: .both, goals: "Coach new managers", capacity: 3, version: 1
            ), token: admin)
            #expect(second.version == 2 && second.capacity == 3 && second.role == .both)
            await expectRPCError(.aborted) {
                _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(programID: program.id, personID: created.id, role: .mentor, version: 1), token: admin)
            }
            let programUpdate = try await identity.call(Identity.updateProgram, UpdateProgramRequest(
                programID: program.id, version: 1, program: ProgramInput(name: "Circle", format: .group, startsOn: "2026-02-01", endsOn: "2026-12-31")
            ), token: admin)
            #expect(programUpdate.version == 2)
            await expectRPCError(.aborted) {
                _ = try await identity.call(Identity.updateProgram, UpdateProgramRequest(programID: program.id, version: 1, program: ProgramInput(name: "C", format: .group, startsOn: "2026-02-01")), token: admin)
            }
        }
    }

    @Test("paging through people is complete and ordered; filters by program, role, skill, division and text")
    func pagingAndSearch() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "Leadership", format: .oneToOne, startsOn: "2026-03-01"), token: admin)
            var people: [Person] = []
            for index in 0..<23 {
                let division = ["Engineering", "Sales", "Finance"][index % 3]
                let person = try await identity.call(Identity.createPerson, CreatePersonRequest(
                    person: personInput("p\(index)@acme.example", name: "Person \(String(format: "%02d", 22 - index))", division: division)
                ), token: admin)
                people.append(person)
                if index < 10 {
                    _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                        programID: program.id, personID: person.id, role: index % 2 == 0 ? .mentor : .mentee,
                        skillsOffered: index % 4 == 0 ? [SkillLevel(name: "public speaking", level: 4)] : [], capacity: index % 2 == 0 ? 2 : nil
                    ), token: admin)
                }
            }
            var seen: [String] = []
            var token: String?
            var pages = 0
            repeat {
                let page = try await identity.call(Identity.listPeople, ListPeopleRequest(pageSize: 10, pageToken: token), token: admin)
                seen += page.people.map(\.name)
                token = page.nextPageToken
                pages += 1
            } while token != nil
            #expect(pages == 3)
            #expect(seen.count == 24 && seen == seen.sorted(), "every person once, by name")

            func names(_ request: ListPeopleRequest) async throws -> Set<String> {
                Set(try await identity.call(Identity.listPeople, request, token: admin).people.map(\.email))
            }
            #expect(try await names(ListPeopleRequest(division: "sales")).count == 8)
            #expect(try await names(ListPeopleRequest(programID: program.id)).count == 10)
            #expect(try await names(ListPeopleRequest(programID: program.id, role: .mentor)) == ["p0@acme.example", "p2@acme.example", "p4@acme.example", "p6@acme.example", "p8@acme.example"])
            #expect(try await names(ListPeopleRequest(skill: "Public Speaking")) == ["p0@acme.example", "p4@acme.example", "p8@acme.example"])
            #expect(try await names(ListPeopleRequest(query: "person 1")).count == 10)
            #expect(try await names(ListPeopleRequest(query: "p1@")) == ["p1@acme.example"])
            #expect(try await names(ListPeopleRequest(query: "%")).isEmpty, "LIKE wildcards are matched literally")
            await expectRPCError(.invalidArgument) { _ = try await identity.call(Identity.listPeople, ListPeopleRequest(pageSize: 0), token: admin) }
            await expectRPCError(.invalidArgument) { _ = try await identity.call(Identity.listPeople, ListPeopleRequest(pageToken: "garbage"), token: admin) }

            let participants = try await identity.call(Identity.listParticipants, ListParticipantsRequest(programID: program.id, role: .mentee, pageSize: 3), token: admin)
            #expect(participants.participants.count == 3 && participants.nextPageToken != nil)
            let rest = try await identity.call(Identity.listParticipants, ListParticipantsRequest(programID: program.id, role: .mentee, pageSize: 3, pageToken: participants.nextPageToken), token: admin)
            #expect(Set((participants.participants + rest.participants).map(\.personID)).count == 5)
        }
    }

    @Test("people may edit parts of their own profile only; non-admins cannot manage others")
    func selfService() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let created = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("lee@acme.example"), password: "lee's first password"), token: admin)
            let lee = try await identity.signIn("lee@acme.example", "lee's first password")
            var mine = personInput("lee@acme.example", timeZone: "Asia/Kolkata")
            mine.workingHours = WorkingHours(days: [1, 2, 3, 4], startMinute: 10 * 60, endMinute: 18 * 60 + 30)
            let updated = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: created.id, version: 1, person: mine), token: lee.accessToken)
            #expect(updated.timeZone == "Asia/Kolkata")
            var promotion = mine
            promotion.division = "Board"
            await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: created.id, version: 2, person: promotion), token: lee.accessToken)
            }
            promotion = mine
            promotion.organisationAdmin = true
            await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: created.id, version: 2, person: promotion), token: lee.accessToken)
            }
            let other = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("mo@acme.example")), token: admin)
            await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: other.id, version: 1, person: personInput("mo@acme.example")), token: lee.accessToken)
            }
            await expectRPCError(.permissionDenied) { _ = try await identity.call(Identity.listPeople, ListPeopleRequest(), token: lee.accessToken) }
            await expectRPCError(.permissionDenied) { _ = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("z@acme.example")), token: lee.accessToken) }
            await expectRPCError(.permissionDenied) { _ = try await identity.call(Identity.erasePerson, PersonRef(personID: other.id), token: lee.accessToken) }
            // Colleagues can be looked up (a directory), programs can be read.
            _ = try await identity.call(Identity.getPerson, PersonRef(personID: other.id), token: lee.accessToken)
            _ = try await identity.call(Identity.listPrograms, token: lee.accessToken)

            // Changing one's password needs the current one, and signs out other sessions.
            await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.setPassword, SetPasswordRequest(personID: created.id, currentPassword: "not my password", newPassword: "lee's second password"), token: lee.accessToken)
            }
            _ = try await identity.call(Identity.setPassword, SetPasswordRequest(personID: created.id, currentPassword: "lee's first password", newPassword: "lee's second password"), token: lee.accessToken)
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: lee.refreshToken!)) }
            await expectRPCError(.unauthenticated) { _ = try await identity.signIn("lee@acme.example", "lee's first password") }
            _ = try await identity.signIn("lee@acme.example", "lee's second password")

            // A deactivated person cannot sign in or refresh.
            let session = try await identity.signIn("lee@acme.example", "lee's second password")
            _ = try await identity.call(Identity.deactivatePerson, PersonRef(personID: created.id), token: admin)
            await expectRPCError(.unauthenticated) { _ = try await identity.signIn("lee@acme.example", "lee's second password") }
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: session.refreshToken!)) }
            // An admin's edit of a deactivated person leaves them deactivated.
            let deactivated = try await identity.call(Identity.getPerson, PersonRef(personID: created.id), token: admin)
            #expect(!deactivated.active)
            var edit = mine
            edit.name = "Lee (left)"
            let edited = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: created.id, version: deactivated.version, person: edit), token: admin)
            #expect(!edited.active && edited.name == "Lee (left)")
            await expectRPCError(.unauthenticated) { _ = try await identity.signIn("lee@acme.example", "lee's second password") }
        }
    }

    @Test("only a platform admin sets a platform admin's password, deactivates or erases them; the last active platform admin stays")
    func platformAdmins() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin()
            var input = personInput("olga@acme.example")
            input.organisationAdmin = true
            let olga = try await identity.call(Identity.createPerson, CreatePersonRequest(person: input, password: "olga's long password"), token: admin.accessToken)
            let olgaToken = try await identity.signIn("olga@acme.example", "olga's long password").accessToken
            let pat = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("pat@acme.example")), token: admin.accessToken)

            // An org-admin who is not a platform admin: refused, and nothing changes.
            let password = await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.setPassword, SetPasswordRequest(personID: admin.subject, newPassword: "olga chose this one"), token: olgaToken)
            }
            #expect(password?.message == "setting the password of a platform admin needs the platform-admin role")
            let deactivate = await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.deactivatePerson, PersonRef(personID: admin.subject), token: olgaToken)
            }
            #expect(deactivate?.message == "deactivating a platform admin needs the platform-admin role")
            await expectRPCError(.permissionDenied) { _ = try await identity.call(Identity.erasePerson, PersonRef(personID: admin.subject), token: olgaToken) }
            #expect(try await identity.call(Identity.getPerson, PersonRef(personID: admin.subject), token: olgaToken).active)
            _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: admin.refreshToken!))
            _ = try await identity.admin()
            // Everyone else's password she still sets.
            _ = try await identity.call(Identity.setPassword, SetPasswordRequest(personID: pat.id, newPassword: "pat's new password"), token: olgaToken)

            // A second platform admin (only the database makes one): each may act on the other,
            // but not on the last one active.
            _ = try await identity.identity.store.database.write { try $0.execute("UPDATE people SET platform_admin = 1 WHERE id = ?", olga.id) }
            let olgaPlatform = try await identity.signIn("olga@acme.example", "olga's long password").accessToken
            _ = try await identity.call(Identity.setPassword, SetPasswordRequest(personID: admin.subject, newPassword: "olga chose this one"), token: olgaPlatform)
            _ = try await identity.call(Identity.deactivatePerson, PersonRef(personID: admin.subject), token: olgaPlatform)
            // The admin's access token still works until it expires; Olga is the last one active.
            let lastDeactivated = await expectRPCError(.failedPrecondition) {
                _ = try await identity.call(Identity.deactivatePerson, PersonRef(personID: olga.id), token: admin.accessToken)
            }
            let lastErased = await expectRPCError(.failedPrecondition) {
                _ = try await identity.call(Identity.erasePerson, PersonRef(personID: olga.id), token: admin.accessToken)
            }
            for last in [lastDeactivated, lastErased] {
                #expect(last?.message.contains("last active platform admin") == true)
            }
            #expect(try await identity.call(Identity.getPerson, PersonRef(personID: olga.id), token: olgaPlatform).active)
        }
    }

    @Test("organisations are sealed off from each other: every cross-organisation attempt fails")
    func crossOrganisation() async throws {
        try await withIdentity { identity in
            let acmeAdmin = try await identity.admin().accessToken
            let acmePerson = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("secret@acme.example")), token: acmeAdmin)
            let acmeProgram = try await identity.call(Identity.createProgram, ProgramInput(name: "Acme only", format: .peer, startsOn: "2026-01-01"), token: acmeAdmin)
            _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(programID: acmeProgram.id, personID: acmePerson.id, role: .mentee), token: acmeAdmin)
            let account = try await identity.call(Identity.createServiceAccount, CreateServiceAccountRequest(name: "sync", scopes: ["identity.*"]), token: acmeAdmin)
            let acmeKey = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: acmeAdmin)

            let globex = try await identity.call(Identity.createOrganisation, CreateOrganisationRequest(
                name: "Globex", slug: "globex", admin: personInput("boss@globex.example"), adminPassword: "globex admin password"
            ), token: acmeAdmin)
            await expectRPCError(.alreadyExists) {
                _ = try await identity.call(Identity.createOrganisation, CreateOrganisationRequest(
                    name: "Globex 2", slug: "globex", admin: personInput("b@globex.example"), adminPassword: "globex admin password"
                ), token: acmeAdmin)
            }
            let boss = try await identity.signIn("boss@globex.example", "globex admin password", organisation: "globex")
            #expect(boss.organisationID == globex.id)
            #expect(!boss.roles.contains(Role.platformAdmin))
            let token = boss.accessToken

            await expectRPCError(.notFound) { _ = try await identity.call(Identity.getPerson, PersonRef(personID: acmePerson.id), token: token) }
            await expectRPCError(.notFound) {
                _ = try await identity.call(Identity.updatePerson, UpdatePersonRequest(personID: acmePerson.id, version: 1, person: personInput("secret@acme.example")), token: token)
            }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.deactivatePerson, PersonRef(personID: acmePerson.id), token: token) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.erasePerson, PersonRef(personID: acmePerson.id), token: token) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.setPassword, SetPasswordRequest(personID: acmePerson.id, newPassword: "taking over acme"), token: token) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.getProgram, ProgramRef(programID: acmeProgram.id), token: token) }
            await expectRPCError(.notFound) {
                _ = try await identity.call(Identity.updateProgram, UpdateProgramRequest(programID: acmeProgram.id, version: 1, program: ProgramInput(name: "Mine", format: .peer, startsOn: "2026-01-01")), token: token)
            }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.getParticipation, ParticipationRef(programID: acmeProgram.id, personID: acmePerson.id), token: token) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.listParticipants, ListParticipantsRequest(programID: acmeProgram.id), token: token) }
            await expectRPCError(.notFound) {
                _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(programID: acmeProgram.id, personID: acmePerson.id, role: .mentor), token: token)
            }
            await expectRPCError(.notFound) {
                _ = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: "email,name,time_zone,role\nx@globex.example,X,UTC,mentee\n", programID: acmeProgram.id), token: token)
            }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: token) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.revokeAPIKey, APIKeyRef(keyID: acmeKey.keyID), token: token) }
            await expectRPCError(.permissionDenied) {
                _ = try await identity.call(Identity.createOrganisation, CreateOrganisationRequest(name: "Mine", slug: "mine", admin: personInput("me@mine.example"), adminPassword: "mine mine mine mine"), token: token)
            }
            await expectRPCError(.permissionDenied) { _ = try await identity.call(Identity.rotateSigningKey, RotateSigningKeyRequest(), token: token) }
            // Lists show only Globex's own data.
            #expect(try await identity.call(Identity.listPeople, ListPeopleRequest(includeInactive: true), token: token).people.map(\.email) == ["boss@globex.example"])
            #expect(try await identity.call(Identity.listPeople, ListPeopleRequest(programID: acmeProgram.id), token: token).people.isEmpty)
            #expect(try await identity.call(Identity.listPrograms, token: token).programs.isEmpty)
            #expect(try await identity.call(Identity.listServiceAccounts, token: token).serviceAccounts.isEmpty)
            // A Globex person with the same email as an Acme person is a different person.
            let twin = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("secret@acme.example")), token: token)
            #expect(twin.id != acmePerson.id && twin.organisationID == globex.id)
            // Acme's service account sees Acme only.
            let service = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: acmeKey.apiKey))
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.getPerson, PersonRef(personID: twin.id), token: service.accessToken) }
        }
    }

    @Test("erasure removes a person's personal data for good, from the database files too")
    func erasure() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "Reverse", format: .reverse, startsOn: "2026-01-01"), token: admin)
            let person = try await identity.call(Identity.createPerson, CreatePersonRequest(
                person: personInput("zebedee.quartermaine@acme.example", name: "Zebedee Quartermaine"), password: "zebedee's password"
            ), token: admin)
            _ = try await identity.call(Identity.upsertParticipation, ParticipationInput(
                programID: program.id, personID: person.id, role: .mentee, goals: "Xylophone-grade negotiation"
            ), token: admin)
            var report = personInput("report@acme.example")
            report.managerID = person.id
            let direct = try await identity.call(Identity.createPerson, CreatePersonRequest(person: report), token: admin)
            let session = try await identity.signIn(person.email, "zebedee's password")

            _ = try await identity.call(Identity.erasePerson, PersonRef(personID: person.id), token: admin)
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.getPerson, PersonRef(personID: person.id), token: admin) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.getParticipation, ParticipationRef(programID: program.id, personID: person.id), token: admin) }
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.erasePerson, PersonRef(personID: person.id), token: admin) }
            await expectRPCError(.unauthenticated) { _ = try await identity.signIn(person.email, "zebedee's password") }
            await expectRPCError(.unauthenticated) { _ = try await identity.call(Identity.refresh, RefreshRequest(refreshToken: session.refreshToken!)) }
            #expect(try await identity.call(Identity.getPerson, PersonRef(personID: direct.id), token: admin).managerID == nil)
            let all = try await identity.call(Identity.listPeople, ListPeopleRequest(includeInactive: true), token: admin)
            #expect(!all.people.contains { $0.id == person.id })
            // The email is free for a new, different person.
            let again = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("zebedee.quartermaine@acme.example")), token: admin)
            #expect(again.id != person.id)
            _ = try await identity.call(Identity.erasePerson, PersonRef(personID: again.id), token: admin)

            // Not a trace in the database, its WAL or free pages.
            for suffix in ["", "-wal", "-shm"] {
                let path = identity.directory + "/identity.sqlite" + suffix
                guard let bytes = FileManager.default.contents(atPath: path) else { continue }
                for secret in ["Quartermaine", "zebedee", "Xylophone"] {
                    #expect(bytes.range(of: Data(secret.utf8)) == nil, "\(secret) found in identity.sqlite\(suffix)")
                }
            }
        }
    }
}
