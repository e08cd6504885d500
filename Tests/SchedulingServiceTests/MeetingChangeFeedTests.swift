import Foundation
import Logging
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import SchedulingService

@Suite("Scheduling: the meeting change feed (internal)")
struct MeetingChangeFeedTests {
    /// A client presenting `name`'s certificate.
    func client(_ cluster: Cluster, as name: String) throws -> RPCClient {
        try RPCClient(
            endpoints: [cluster.schedulingEndpoint], tls: TestPKI.shared.clientTLS(serverName: "scheduling", clientName: name),
            logger: Logger(label: "test.feed")
        )
    }

    @Test("every meeting write appears in change order, compacted to each meeting's latest state; the cursor resumes")
    func feedFollowsWrites() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Maya", zone: "America/New_York")
            let mentee = try await cluster.person("Ravi", zone: "Asia/Kolkata")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let feedback = try client(cluster, as: "feedback")
            defer { feedback.close() }

            let empty = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 0))
            #expect(empty.changes.isEmpty && empty.last == 0)

            let first = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: pair.matchID, start: monday(hours: 14), durationMinutes: 60, timeZone: "UTC"
            ), token: mentor.token)
            let second = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: pair.matchID, start: monday(days: 1, hours: 14), durationMinutes: 30, timeZone: "UTC"
            ), token: mentor.token)
            let page = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 0))
            #expect(page.changes.map(\.meeting.id) == [first.id, second.id])
            #expect(page.changes.map(\.sequence) == [1, 2] && page.last == 2)
            #expect(page.changes.allSatisfy { $0.organisationID == cluster.admin.organisationID })

            // A cancellation moves the first meeting to the end, with its new state.
            _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: first.id, reason: "ill"), token: mentee.token)
            let after = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: page.last))
            #expect(after.changes.count == 1)
            #expect(after.changes.first?.meeting.id == first.id && after.changes.first?.meeting.status == .cancelled)
            #expect(after.changes.first?.sequence == 3 && after.last == 3)
            // From the start, each meeting once, at its latest change.
            let all = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 0, limit: 1))
            #expect(all.changes.map(\.meeting.id) == [second.id] && all.last == 2)
            // Held: the status change is a change too.
            cluster.clock.advance(5 * 86_400)
            _ = try await cluster.call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: second.id, status: .held), token: cluster.adminToken())
            let held = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 3))
            #expect(held.changes.map(\.meeting.status) == [.held] && held.last == 4)
            let nothing = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 4))
            #expect(nothing.changes.isEmpty && nothing.last == 4)
            await expectRPCError(.invalidArgument) {
                _ = try await feedback.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 0, limit: 1001))
            }
        }
    }

    @Test("only the feedback service's certificate may read the feed; tokens do not open it")
    func onlyFeedback() async throws {
        try await withCluster { cluster in
            let gateway = try client(cluster, as: "gateway")
            defer { gateway.close() }
            await expectRPCError(.permissionDenied) {
                _ = try await gateway.call(Scheduling.listMeetingChanges, ListMeetingChangesRequest(after: 0), options: cluster.options(cluster.admin.accessToken))
            }
        }
    }
}
