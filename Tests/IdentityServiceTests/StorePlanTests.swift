import Foundation
import Logging
import TandemStore
import TandemProtocols
import Testing
@testable import IdentityService

@Suite("Identity store: a person's participations are found by the person")
struct IdentityStorePlanTests {
    /// SQLite's plan for a statement on a new identity database.
    static func plan(_ sql: String) async throws -> [String] {
        let directory = temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let store = try IdentityStore(path: directory + "/identity.sqlite", logger: Logger(label: "test"))
        defer { store.close() }
        return try await store.database.plan(sql)
    }

    @Test("the roles read at every sign-in and token refresh, and the skills deleted at erasure, use indexes instead of reading every organisation's rows")
    func participationsByPerson() async throws {
        for sql in [IdentityStore.participationRolesSQL, IdentityStore.eraseSkillsSQL] {
            let plan = try await Self.plan(sql)
            #expect(plan.contains { $0.contains("participations_by_person (person_id=?)") }, "\(sql): \(plan)")
            #expect(!plan.contains { $0.hasPrefix("SCAN") }, "\(sql): \(plan)")
        }
    }
}

extension IdentityStorePlanTests {
    @Test("a page of a program's participants is one index range in page order, not all of the program's participants sorted", arguments: [nil, ParticipantRole.mentor, .both])
    func participantPages(role: ParticipantRole?) async throws {
        for after in [nil, UUID()] {
            let query = IdentityStore.participantsQuery(organisation: UUID(), program: UUID(), role: role, after: after, limit: 100)
            let plan = try await Self.plan(query.sql)
            #expect(plan.first?.contains("participations_by_program (program_id=?") == true, "plan: \(plan)")
            #expect(!SQLiteConnection.readsWholeTableOrSorts(plan), "plan: \(plan)")
        }
    }
}

extension IdentityStorePlanTests {
    static func peoplePlan(_ filter: PeopleFilter, cursor: PeopleCursor? = nil) async throws -> [String] {
        try await plan(IdentityStore.peopleQuery(organisation: UUID(), filter: filter, after: cursor, limit: 50).sql)
    }

    @Test("a directory page by division comes from the division index in page order, whatever the division's case", arguments: [nil, PeopleCursor(name: "M", id: UUID())])
    func divisionPages(cursor: PeopleCursor?) async throws {
        let plan = try await Self.peoplePlan(PeopleFilter(division: "sales"), cursor: cursor)
        #expect(plan.first?.contains("people_by_org_division (org_id=? AND division=?") == true, "plan: \(plan)")
        #expect(!SQLiteConnection.readsWholeTableOrSorts(plan), "plan: \(plan)")
    }

    @Test("a directory page by skill checks each person with one look-up in the skill index, not a walk over everyone with the skill")
    func skillProbe() async throws {
        for filter in [PeopleFilter(skill: "Swift"), PeopleFilter(programID: UUID(), skill: "Swift")] {
            let plan = try await Self.peoplePlan(filter)
            #expect(plan.contains { $0.contains("skills_by_org_skill (org_id=? AND skill=? AND kind=? AND person_id=?)") }, "plan: \(plan)")
            #expect(!SQLiteConnection.readsWholeTableOrSorts(plan), "plan: \(plan)")
        }
        let unfiltered = try await Self.peoplePlan(PeopleFilter())
        #expect(unfiltered.first?.contains("people_by_org_name (org_id=?)") == true && !SQLiteConnection.readsWholeTableOrSorts(unfiltered), "plan: \(unfiltered)")
    }
}

extension IdentityStorePlanTests {
    @Test("erasing a person clears their reports' manager through the manager index")
    func erasedManager() async throws {
        let plan = try await Self.plan(IdentityStore.clearManagerSQL)
        #expect(plan.contains { $0.contains("people_by_manager (org_id=? AND manager_id=?)") }, "plan: \(plan)")
    }
}
