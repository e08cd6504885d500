import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import IdentityService

@Suite("Identity end to end: CSV import")
struct ImportTests {
    static let header = "external_id,email,name,division,job_title,seniority,manager_email,time_zone,working_days,working_hours,languages,location,hire_date,role,skills_offered,skills_wanted,capacity"

    @Test("bad rows are reported and skipped, good rows imported; dry run writes nothing; a second run is idempotent")
    func importWithBadRows() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "New hires", format: .oneToOne, startsOn: "2026-01-01", onboarding: true), token: admin)
            let csv = """
                \(Self.header)
                E1,maya@acme.example,Maya Patel,Engineering,Staff engineer,7,,America/New_York,1-5,08:00-16:00,en;hi,New York,2019-04-01,mentor,swift:5;architecture:4,,3
                E2,tom@acme.example,Tom Reed,Engineering,Engineer,2,maya@acme.example,Europe/London,1-5,09:00-17:00,en,,2026-01-12,mentee,,swift:2,
                E3,bad-email,Broken Row,Sales,Rep,2,,UTC,,,,,,mentee,,,
                E4,ana@acme.example,Ana Lima,Sales,Manager,5,,Mars/Crater,,,,,,mentor,,,
                E5,ravi@acme.example,"Ravi, Jr.",Finance,Analyst,3,nobody@acme.example,Asia/Kolkata,,,,,,mentee,,,
                E6,kim@acme.example,Kim Cho,Finance,Analyst,3,,Asia/Seoul,1-5,09:30-18:00,ko;en,Seoul,2025-09-01,both,excel:4,leadership:1,1
                """
            let request = ImportPeopleRequest(csv: csv, dryRun: true, programID: program.id)
            let dry = try await identity.call(Identity.importPeople, request, token: admin)
            #expect(dry.dryRun)
            #expect(dry.rows == 6 && dry.created == 3 && dry.participations == 3)
            #expect(dry.errors.map { "\($0.line) \($0.field) \($0.rule)" } == ["4 email format", "5 time_zone time-zone", "6 manager_email exists"])
            #expect(try await identity.call(Identity.listPeople, ListPeopleRequest(), token: admin).people.count == 1, "a dry run writes nothing")

            var real = request
            real.dryRun = false
            let report = try await identity.call(Identity.importPeople, real, token: admin)
            #expect(!report.dryRun)
            #expect(report.created == dry.created && report.participations == dry.participations && report.errors == dry.errors, "the dry run told the truth")
            let people = try await identity.call(Identity.listPeople, ListPeopleRequest(programID: program.id), token: admin).people
            #expect(people.map(\.email) == ["kim@acme.example", "maya@acme.example", "tom@acme.example"])
            let maya = people.first { $0.email == "maya@acme.example" }!
            let tom = people.first { $0.email == "tom@acme.example" }!
            #expect(tom.managerID == maya.id)
            #expect(maya.workingHours == WorkingHours(days: [1, 2, 3, 4, 5], startMinute: 480, endMinute: 960))
            #expect(maya.languages == ["en", "hi"] && maya.location == "New York" && maya.hireDate == "2019-04-01" && maya.externalID == "E1")
            let profile = try await identity.call(Identity.getParticipation, ParticipationRef(programID: program.id, personID: maya.id), token: admin)
            #expect(profile.role == .mentor && profile.capacity == 3 && profile.skillsOffered == [SkillLevel(name: "swift", level: 5), SkillLevel(name: "architecture", level: 4)])
            #expect(profile.timeZone == "America/New_York")

            // The same file again: nothing changes.
            let again = try await identity.call(Identity.importPeople, real, token: admin)
            #expect(again.created == 0 && again.updated == 0 && again.unchanged == 3 && again.participations == 0)

            // An HR change matched by external id (new email and division) updates in place.
            let moved = """
                \(Self.header)
                E1,maya.patel@acme.example,Maya Patel,Platform,Principal engineer,8,,America/New_York,1-5,08:00-16:00,en;hi,New York,2019-04-01,mentor,swift:5;architecture:4,,4
                """
            let update = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: moved, programID: program.id), token: admin)
            #expect(update.updated == 1 && update.participations == 1)
            let renamed = try await identity.call(Identity.getPerson, PersonRef(personID: maya.id), token: admin)
            #expect(renamed.email == "maya.patel@acme.example" && renamed.division == "Platform" && renamed.version == 2)
        }
    }

    @Test("deactivating people missing from the file happens only when every row is valid")
    func deactivateMissing() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let first = """
                email,name,time_zone
                a@acme.example,A,UTC
                b@acme.example,B,UTC
                c@acme.example,C,UTC
                """
            _ = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: first), token: admin)
            let withError = """
                email,name,time_zone
                a@acme.example,A,UTC
                broken,B,UTC
                """
            let refused = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: withError, deactivateMissing: true), token: admin)
            #expect(refused.deactivated == 0)
            #expect(Set(refused.errors.map(\.field)) == ["deactivateMissing", "email"])
            #expect(try await identity.call(Identity.listPeople, ListPeopleRequest(), token: admin).people.count == 4)

            let clean = """
                email,name,time_zone
                a@acme.example,A,UTC
                """
            let dry = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: clean, dryRun: true, deactivateMissing: true), token: admin)
            // b, c and the admin who ran it are not in the file: the admin stays.
            #expect(dry.deactivated == 2 && dry.keptActive == 1)
            #expect(try await identity.call(Identity.listPeople, ListPeopleRequest(), token: admin).people.count == 4)
        }
    }

    @Test("deactivating people missing from the file leaves the organisation's administrators and the caller active, and counts them")
    func deactivateMissingKeepsAdministrators() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            // An HR sync run by a service account: the org-admin is not in its file.
            let account = try await identity.call(
                Identity.createServiceAccount, CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.ImportPeople"]), token: admin
            )
            let key = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: admin)
            let sync = try await identity.call(Identity.exchangeAPIKey, APIKeyExchangeRequest(apiKey: key.apiKey)).accessToken
            let leaver = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("leaver@acme.example")), token: admin)
            let file = """
                email,name,time_zone
                stays@acme.example,Stays,UTC
                """
            let report = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: file, deactivateMissing: true), token: sync)
            #expect(report.created == 1 && report.deactivated == 1 && report.keptActive == 1)
            let active = try await identity.call(Identity.listPeople, ListPeopleRequest(), token: admin).people
            #expect(Set(active.map(\.email)) == ["admin@acme.example", "stays@acme.example"])
            #expect(try await !identity.call(Identity.getPerson, PersonRef(personID: leaver.id), token: admin).active)
            // The org-admin can still sign in.
            _ = try await identity.admin()
        }
    }

    @Test("a row without a required value is reported with rule required, naming the column; the other rows are imported")
    func requiredValues() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let csv = """
                email,name,time_zone,division
                ,No Email,UTC,Sales
                "  ",Blank Email,UTC,Sales
                zoe@acme.example,Zoe,,Sales
                yan@acme.example,Yan
                ,,,Sales
                xia@acme.example,,UTC,Sales
                ok@acme.example,Ok,UTC,Sales
                """
            let report = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: csv), token: admin)
            #expect(report.errors.map { "\($0.line) \($0.field) \($0.rule)" } == [
                "2 email required", "3 email required", "4 time_zone required", "5 time_zone required", "6 email required", "7 name required",
            ])
            #expect(report.created == 1)
            let people = try await identity.call(Identity.listPeople, ListPeopleRequest(), token: admin).people
            #expect(people.map(\.email).sorted() == ["admin@acme.example", "ok@acme.example"])
        }
    }

    @Test("10,000 rows import in one call, with participations, and re-import as unchanged")
    func largeImport() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let program = try await identity.call(Identity.createProgram, ProgramInput(name: "Everyone", format: .peer, startsOn: "2026-01-01"), token: admin)
            let csv = SampleHRData.csv(rows: 10_000)
            let report = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: csv, programID: program.id), token: admin)
            #expect(report.errors.isEmpty)
            #expect(report.created == 10_000 && report.participations == 10_000)
            let page = try await identity.call(Identity.listParticipants, ListParticipantsRequest(programID: program.id, role: .mentor, pageSize: 1000), token: admin)
            #expect(page.participants.count == 1000 && page.nextPageToken != nil)
            let again = try await identity.call(Identity.importPeople, ImportPeopleRequest(csv: csv, programID: program.id), token: admin)
            #expect(again.unchanged == 10_000 && again.participations == 0)
        }
    }
}
