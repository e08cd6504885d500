import Foundation
import Logging
import TandemProtocols
import TandemRPC
import TandemStore
import TandemTestSupport
import TandemWire
import Testing
@testable import IdentityService

@Suite("Identity: the erasure feed (identity.ListErasures)")
struct ErasureFeedTests {
    /// A client of the harness's identity presenting `certificate`'s certificate.
    func client(_ identity: IdentityHarness, as certificate: String) throws -> RPCClient {
        try RPCClient(
            endpoints: [identity.endpoint], tls: TestPKI.shared.clientTLS(serverName: "identity", clientName: certificate), logger: Logger(label: "test.\(certificate)")
        )
    }

    func erasures(_ client: RPCClient, after: Int, limit: Int? = nil, token: String? = nil) async throws -> ErasurePage {
        var options = CallOptions(timeout: .seconds(30))
        if let token { options.metadata[Metadata.Keys.authorization] = "Bearer " + token }
        return try await client.call(Identity.listErasures, ListErasuresRequest(after: after, limit: limit), options: options)
    }

    @Test("every erasure, in order, with its organisation and time; the cursor pages through them and an empty page keeps it")
    func inOrder() async throws {
        try await withIdentity { identity in
            let adminTokens = try await identity.admin()
            let admin = adminTokens.accessToken
            let feedback = try client(identity, as: "feedback")
            defer { feedback.close() }
            #expect(try await erasures(feedback, after: 0) == ErasurePage(erasures: [], last: 0))

            var erased: [UUID] = []
            for name in ["ann", "bob", "cat"] {
                let person = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("\(name)@acme.example")), token: admin)
                identity.clock.advance(60)
                _ = try await identity.call(Identity.erasePerson, PersonRef(personID: person.id), token: admin)
                erased.append(person.id)
            }
            // Not an erasure: deactivating, and an erasure that fails (already erased).
            let kept = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("dan@acme.example")), token: admin)
            _ = try await identity.call(Identity.deactivatePerson, PersonRef(personID: kept.id), token: admin)
            await expectRPCError(.notFound) { _ = try await identity.call(Identity.erasePerson, PersonRef(personID: erased[0]), token: admin) }

            let all = try await erasures(feedback, after: 0)
            #expect(all.erasures.map(\.personID) == erased)
            #expect(all.erasures.map(\.sequence) == [1, 2, 3] && all.last == 3)
            #expect(all.erasures.allSatisfy { $0.organisationID == adminTokens.organisationID })
            #expect(all.erasures.map(\.erasedAt) == all.erasures.map(\.erasedAt).sorted() && all.erasures[0].erasedAt < all.erasures[2].erasedAt)
            // Paging: two, then the rest, then nothing (the cursor stays).
            let first = try await erasures(feedback, after: 0, limit: 2)
            #expect(first.erasures.map(\.personID) == Array(erased.prefix(2)) && first.last == 2)
            let rest = try await erasures(feedback, after: first.last, limit: 2)
            #expect(rest.erasures.map(\.personID) == [erased[2]] && rest.last == 3)
            #expect(try await erasures(feedback, after: rest.last) == ErasurePage(erasures: [], last: 3))
            // Another organisation's erasures are in the same feed, with their organisation.
            let globex = try await identity.call(Identity.createOrganisation, CreateOrganisationRequest(
                name: "Globex", slug: "globex", admin: personInput("boss@globex.example"), adminPassword: "globex admin password"
            ), token: admin)
            let boss = try await identity.signIn("boss@globex.example", "globex admin password", organisation: "globex").accessToken
            let worker = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("w@globex.example")), token: boss)
            _ = try await identity.call(Identity.erasePerson, PersonRef(personID: worker.id), token: boss)
            let next = try await erasures(feedback, after: 3)
            #expect(next.erasures.map(\.personID) == [worker.id] && next.erasures.first?.organisationID == globex.id && next.last == 4)

            await expectRPCError(.invalidArgument) { _ = try await erasures(feedback, after: -1) }
            await expectRPCError(.invalidArgument) { _ = try await erasures(feedback, after: 0, limit: 1001) }
        }
    }

    @Test("only the services named in Identity.internalMethods may read it: others, and people or service accounts with credentials, are refused")
    func onlyInternalPeers() async throws {
        try await withIdentity { identity in
            let admin = try await identity.admin().accessToken
            let person = try await identity.call(Identity.createPerson, CreatePersonRequest(person: personInput("eve@acme.example")), token: admin)
            _ = try await identity.call(Identity.erasePerson, PersonRef(personID: person.id), token: admin)
            #expect(Identity.internalMethods[Identity.listErasures.fullName] == ["feedback", "matching", "scheduling"])
            for name in ["feedback", "matching", "scheduling"] {
                let peer = try client(identity, as: name)
                defer { peer.close() }
                #expect(try await erasures(peer, after: 0).erasures.map(\.personID) == [person.id], "\(name)")
            }
            // The gateway's certificate (the harness's client), another service's, and a caller
            // with a valid org-admin token or an API key scoped to identity.*.
            let denied = await expectRPCError(.permissionDenied) { _ = try await erasures(identity.client, after: 0) }
            #expect(denied?.message.contains("internal") == true)
            await expectRPCError(.permissionDenied) { _ = try await erasures(identity.client, after: 0, token: admin) }
            let stranger = try client(identity, as: "identity")
            defer { stranger.close() }
            await expectRPCError(.permissionDenied) { _ = try await erasures(stranger, after: 0) }
            let account = try await identity.call(Identity.createServiceAccount, CreateServiceAccountRequest(name: "hr-sync", scopes: ["identity.*"]), token: admin)
            let key = try await identity.call(Identity.createAPIKey, ServiceAccountRef(serviceAccountID: account.id), token: admin)
            var options = CallOptions(timeout: .seconds(30))
            options.metadata[Metadata.Keys.authorization] = "ApiKey " + key.apiKey
            await expectRPCError(.permissionDenied) {
                _ = try await identity.client.call(Identity.listErasures, ListErasuresRequest(after: 0), options: options)
            }
        }
    }

    @Test("an existing database migrates: people erased before the feed existed are in it, in the order of their erasure")
    func migratesErasedPeople() async throws {
        let directory = temporaryDirectory()
        let organisation = UUID(), earlier = UUID(), later = UUID(), active = UUID()
        do {
            // The database as the first schema left it.
            let database = try SQLiteDatabase(path: directory + "/identity.sqlite", migrations: Array(IdentityStore.migrations.prefix(1)), logger: Logger(label: "test"))
            defer { database.close() }
            let hours = Array(try CBOREncoder().encode(WorkingHours(days: [1, 2, 3, 4, 5], startMinute: 540, endMinute: 1020)))
            try await database.write { connection in
                try connection.execute("INSERT INTO organisations (id, name, slug, created_at) VALUES (?, 'Acme', 'acme', 0)", organisation)
                for (id, erased, at) in [(later, 1, 2_000.0), (active, 0, 1_500.0), (earlier, 1, 1_000.0)] {
                    try connection.execute("""
                        INSERT INTO people (id, org_id, email, name, division, job_title, seniority, time_zone, working_hours, languages, erased, version, updated_at)
                        VALUES (?, ?, ?, 'P', '', '', 1, 'UTC', ?, '', ?, 1, ?)
                        """, id, organisation, "\(id)@acme.example", hours, erased, at)
                }
            }
        }
        try await withIdentity(directory: directory) { identity in
            let feedback = try client(identity, as: "feedback")
            defer { feedback.close() }
            let page = try await erasures(feedback, after: 0)
            #expect(page.erasures.map(\.personID) == [earlier, later] && page.last == 2)
            #expect(page.erasures.map(\.erasedAt) == [Date(timeIntervalSince1970: 1_000), Date(timeIntervalSince1970: 2_000)])
            #expect(page.erasures.allSatisfy { $0.organisationID == organisation })
        }
    }
}
