import Foundation
import Logging
import SchedulingService
import TandemAuth
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing

@Suite("Scheduling: people erased in identity")
struct ErasureFollowerTests {
    @Test("identity's erasure feed removes the person's availability, stops their pairs and cancels their meetings to come; the cursor holds")
    func erasureReachesScheduling() async throws {
        let directory = temporaryDirectory()
        try await withCluster(schedulingDirectory: directory) { cluster in
            let mentor = try await cluster.person("Maya", zone: "Europe/London")
            let mentee = try await cluster.person("Ravi", zone: "Europe/Berlin")
            _ = try await cluster.call(Scheduling.setAvailability, Availability(
                personID: mentee.id, timeZone: "Europe/Berlin", workingHours: WorkingHours(days: [1, 2, 3, 4, 5], startMinute: 9 * 60, endMinute: 17 * 60),
                exceptions: [AvailabilityException(date: "2027-03-01", available: false, note: "Ravi at the dentist")]
            ), token: cluster.admin.accessToken)
            let pair = try await cluster.pair(mentor.id, mentee.id)
            func book(_ start: Date, key: String) async throws -> Meeting {
                try await cluster.call(
                    Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: start, durationMinutes: 45, timeZone: "Europe/London"),
                    token: mentee.token, idempotencyKey: key
                )
            }
            let held = try await book(monday(hours: 10), key: "first")
            let upcoming = try await book(monday(days: 7, hours: 10), key: "second")
            cluster.clock.advance(4 * 86_400)                   // the first meeting is behind us
            let admin = try await cluster.adminToken()
            _ = try await cluster.call(Identity.erasePerson, PersonRef(personID: mentee.id), token: admin)

            // Scheduling reads the feed with its own certificate, as deployed.
            let identity = try RPCClient(
                endpoints: [try #require(cluster.identityEndpoint)], tls: TestPKI.shared.clientTLS(serverName: "identity", clientName: "scheduling"),
                logger: Logger(label: "test.erasures")
            )
            defer { identity.close() }
            let source = RPCErasureFeed(client: identity)
            #expect(try await cluster.schedulingServer.syncErasures(source) == 1)
            #expect(try await cluster.schedulingServer.syncErasures(source) == 0, "the cursor moved with the erasure")
            // The availability is in neither the database file (overwritten) nor an old page of the log.
            for file in ["scheduling.sqlite", "scheduling.sqlite-wal"] {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: directory + "/" + file))) ?? Data()
                #expect(bytes.range(of: Data("Ravi at the dentist".utf8)) == nil, "the erased person's availability is still in \(file)")
            }

            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.getAvailability, PersonRef(personID: mentee.id), token: admin) }
            let cancelled = try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: upcoming.id), token: admin)
            #expect(cancelled.status == .cancelled)
            #expect(cancelled.cancelReason?.contains("erased") == true)
            #expect(cancelled.sequence == upcoming.sequence + 1, "calendar apps see the cancellation")
            let past = try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: held.id), token: admin)
            #expect(past.status == .scheduled, "a meeting that has taken place stays as it was")
            // The mentor keeps their calendar, and the time is free again; the pair books no more.
            _ = try await cluster.call(Scheduling.getAvailability, PersonRef(personID: mentor.id), token: admin)
            let mentorToken = try await cluster.call(
                Identity.signIn, SignInRequest(organisation: "acme", email: "maya@acme.example", password: Cluster.password), token: nil
            ).accessToken
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(
                    Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(days: 14, hours: 10), durationMinutes: 45, timeZone: "Europe/London"),
                    token: mentorToken, idempotencyKey: "third"
                )
            }
            let lena = try await cluster.call(Identity.createPerson, CreatePersonRequest(
                person: PersonInput(email: "lena@acme.example", name: "Lena", division: "Engineering", jobTitle: "Engineer", seniority: 3, timeZone: "Europe/Berlin"),
                password: Cluster.password
            ), token: admin)
            let other = try await cluster.call(
                Identity.signIn, SignInRequest(organisation: "acme", email: "lena@acme.example", password: Cluster.password), token: nil
            )
            let next = try await cluster.call(
                Scheduling.registerPair, Pair(matchID: UUID(), programID: Cluster.program, mentorID: mentor.id, menteeID: lena.id), token: admin
            )
            _ = try await cluster.call(
                Scheduling.bookMeeting, BookMeetingRequest(matchID: next.matchID, start: upcoming.start, durationMinutes: 45, timeZone: "Europe/London"),
                token: other.accessToken, idempotencyKey: "freed"
            )
        }
    }
}
