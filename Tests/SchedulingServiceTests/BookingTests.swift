import Foundation
import Logging
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import SchedulingService

@Suite("Scheduling end to end: booking")
struct BookingTests {
    @Test("a storm of concurrent bookings for the same time: exactly one wins, the others name it")
    func bookingStorm() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Maya", zone: "America/New_York")
            let mentee = try await cluster.person("Ravi", zone: "Asia/Kolkata")
            let other = try await cluster.person("Kim", zone: "Asia/Seoul")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let second = try await cluster.pair(mentor.id, other.id)
            let start = monday(hours: 14)
            // 40 bookings at once: 20 for the pair, 20 for another pair sharing the mentor, at
            // overlapping times.
            let results = await withTaskGroup(of: Result<Meeting, RPCError>.self) { group in
                for index in 0..<40 {
                    group.addTask {
                        let match = index % 2 == 0 ? pair.matchID : second.matchID
                        let offset = Double(index % 3) * 15 * 60
                        do {
                            return .success(try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                                matchID: match, start: start.addingTimeInterval(offset), durationMinutes: 60, timeZone: "America/New_York"
                            ), token: cluster.admin.accessToken))
                        } catch let error as RPCError {
                            return .failure(error)
                        } catch {
                            return .failure(RPCError(code: .unknown, message: "\(error)"))
                        }
                    }
                }
                var all: [Result<Meeting, RPCError>] = []
                for await result in group { all.append(result) }
                return all
            }
            let booked = results.compactMap { try? $0.get() }
            let refused = results.compactMap { result -> RPCError? in if case .failure(let error) = result { return error }; return nil }
            #expect(booked.count == 1, "one meeting wins the mentor's hour")
            #expect(refused.count == 39 && refused.allSatisfy { $0.code == .failedPrecondition })
            let winner = booked[0].id.uuidString.lowercased()
            #expect(refused.allSatisfy { error in
                error.details.contains { if case .preconditionFailure(let violations) = $0 { return violations.contains { $0.type == "conflict" && $0.subject == "meeting/" + winner } }; return false }
            }, "every refusal names the meeting it collides with")
            let listed = try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(personID: mentor.id), token: mentor.token)
            #expect(listed.meetings.map(\.id) == [booked[0].id])
            // Back to back is not an overlap.
            _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: pair.matchID, start: booked[0].end, durationMinutes: 30, timeZone: "UTC"
            ), token: mentee.token)
        }
    }

    @Test("idempotency keys: a retry returns the original meeting; the same key for another request is refused")
    func idempotency() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Lena", zone: "Europe/Berlin")
            let mentee = try await cluster.person("Omar", zone: "Africa/Lagos")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let request = BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 10), durationMinutes: 45, timeZone: "Europe/Berlin", agenda: "Goals")
            let first = try await cluster.call(Scheduling.bookMeeting, request, token: mentee.token, idempotencyKey: "booking-1")
            let retry = try await cluster.call(Scheduling.bookMeeting, request, token: mentee.token, idempotencyKey: "booking-1")
            #expect(retry == first)
            var different = request
            different.start = monday(hours: 12)
            let reuse = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Scheduling.bookMeeting, different, token: mentee.token, idempotencyKey: "booking-1")
            }
            #expect(reuse?.fieldViolations.map(\.field) == ["idempotency-key"])
            let all = try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID), token: mentor.token)
            #expect(all.meetings.count == 1)
            // Without a key the same request is a second booking — which conflicts.
            await expectRPCError(.failedPrecondition) { _ = try await cluster.call(Scheduling.bookMeeting, request, token: mentee.token) }
            #expect(first.videoURL.hasPrefix("https://video.example/room/") && first.videoURL.count > "https://video.example/room/".count + 20)
        }
    }

    @Test("a retry with its idempotency key gets the meeting or series booked, also once the start has passed or the pair has ended")
    func idempotentRetryAfterTheChecksChanged() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Rhea", zone: "UTC")
            let mentee = try await cluster.person("Sami", zone: "UTC")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let now = cluster.clock.now()
            let soon = BookMeetingRequest(matchID: pair.matchID, start: now.addingTimeInterval(3600), durationMinutes: 30, timeZone: "UTC")
            let later = BookMeetingRequest(matchID: pair.matchID, start: now.addingTimeInterval(2 * 86_400), durationMinutes: 30, timeZone: "UTC")
            let weekly = BookSeriesRequest(matchID: pair.matchID, firstStart: now.addingTimeInterval(2 * 3600), durationMinutes: 30, timeZone: "UTC", count: 3)
            let soonMeeting = try await cluster.call(Scheduling.bookMeeting, soon, token: mentee.token, idempotencyKey: "soon")
            let laterMeeting = try await cluster.call(Scheduling.bookMeeting, later, token: mentee.token, idempotencyKey: "later")
            let series = try await cluster.call(Scheduling.bookSeries, weekly, token: mentee.token, idempotencyKey: "weekly")

            // Three hours on, both starts have passed; the retries still get what was booked.
            cluster.clock.advance(3 * 3600)
            let token = try await cluster.call(Identity.signIn, SignInRequest(organisation: "acme", email: "sami@acme.example", password: Cluster.password), token: nil).accessToken
            #expect(try await cluster.call(Scheduling.bookMeeting, soon, token: token, idempotencyKey: "soon") == soonMeeting)
            #expect(try await cluster.call(Scheduling.bookSeries, weekly, token: token, idempotencyKey: "weekly") == series)
            // Another request with the key fails as it would have: its own start, or the key's reuse.
            var moved = soon
            moved.start = now.addingTimeInterval(1800)
            let past = await expectRPCError(.invalidArgument) { _ = try await cluster.call(Scheduling.bookMeeting, moved, token: token, idempotencyKey: "soon") }
            #expect(past?.fieldViolations.map { "\($0.field) \($0.rule)" } == ["start future"])
            moved.start = now.addingTimeInterval(5 * 86_400)
            let reuse = await expectRPCError(.invalidArgument) { _ = try await cluster.call(Scheduling.bookMeeting, moved, token: token, idempotencyKey: "soon") }
            #expect(reuse?.fieldViolations.map { "\($0.field) \($0.rule)" } == ["idempotency-key reuse"])
            // Without the key, the same request is refused: its start has passed.
            await expectRPCError(.invalidArgument) { _ = try await cluster.call(Scheduling.bookMeeting, soon, token: token) }

            // Once the pair has ended, a retry still gets its meeting; a new booking does not.
            var ended = pair
            ended.active = false
            _ = try await cluster.call(Scheduling.registerPair, ended, token: try await cluster.adminToken())
            #expect(try await cluster.call(Scheduling.bookMeeting, later, token: token, idempotencyKey: "later") == laterMeeting)
            await expectRPCError(.failedPrecondition) { _ = try await cluster.call(Scheduling.bookMeeting, later, token: token, idempotencyKey: "another") }
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID, includeCancelled: true), token: token).meetings.count == 5)
        }
    }

    @Test("a booking checks in its own transaction that the pair is active: one that ended after the booking read it books nothing")
    func pairEndedAfterItWasRead() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Tova", zone: "UTC")
            let mentee = try await cluster.person("Ugo", zone: "UTC")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            // Scheduling has read the pair as active (and keeps that copy for a while)…
            #expect(try await cluster.call(Scheduling.getPair, PairRef(matchID: pair.matchID), token: mentor.token).active)
            // …when the pair ends in a transaction of its own, as the match feed or an erasure ends it.
            var ended = pair
            ended.active = false
            _ = try await cluster.schedulingServer.store.registerPair(organisation: cluster.admin.organisationID, ended, now: cluster.clock.now())
            let subject = "pair/" + pair.matchID.uuidString.lowercased()
            let meeting = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                    matchID: pair.matchID, start: monday(hours: 10), durationMinutes: 30, timeZone: "UTC"
                ), token: mentor.token, idempotencyKey: "after-the-end")
            }
            #expect(meeting?.details.contains { "\($0)".contains(subject) } == true)
            let series = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.bookSeries, BookSeriesRequest(
                    matchID: pair.matchID, firstStart: monday(hours: 12), durationMinutes: 30, timeZone: "UTC", count: 2
                ), token: mentor.token)
            }
            #expect(series?.details.contains { "\($0)".contains(subject) } == true)
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID, includeCancelled: true), token: mentor.token).meetings.isEmpty)
        }
    }

    @Test("a pair's meetings page by page: only that pair's (the mentor has another mentee), in start order, cancelled ones on request, within from/to")
    func pairMeetingsPageByPage() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Ines", zone: "Europe/Lisbon")
            let mentee = try await cluster.person("Tomas", zone: "Europe/Lisbon")
            let other = try await cluster.person("Yara", zone: "Europe/Lisbon")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let second = try await cluster.pair(mentor.id, other.id)
            // Alternating between the two pairs over two weeks, booked out of order; every third of
            // the first pair's cancelled.
            var ours: [Meeting] = []
            for index in [5, 0, 9, 2, 7, 4, 1, 8, 3, 6, 11, 10] {
                let match = index % 2 == 0 ? pair.matchID : second.matchID
                let meeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                    matchID: match, start: monday(days: index, hours: 10), durationMinutes: 30, timeZone: "Europe/Lisbon"
                ), token: cluster.admin.accessToken)
                if match == pair.matchID { ours.append(meeting) }
            }
            ours.sort { $0.start < $1.start }
            var cancelled: Set<UUID> = []
            for meeting in ours.enumerated().filter({ $0.offset % 3 == 0 }).map(\.element) {
                _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: meeting.id, reason: "moved"), token: mentee.token)
                cancelled.insert(meeting.id)
            }
            func all(_ request: ListMeetingsRequest) async throws -> [Meeting] {
                var request = request, meetings: [Meeting] = []
                repeat {
                    let page = try await cluster.call(Scheduling.listMeetings, request, token: mentee.token)
                    #expect(page.meetings.count <= request.pageSize ?? 100)
                    meetings += page.meetings
                    request.pageToken = page.nextPageToken
                } while request.pageToken != nil
                return meetings
            }
            let everything = try await all(ListMeetingsRequest(matchID: pair.matchID, includeCancelled: true, pageSize: 2))
            #expect(everything.map(\.id) == ours.map(\.id))
            let active = try await all(ListMeetingsRequest(matchID: pair.matchID, pageSize: 2))
            #expect(active.map(\.id) == ours.filter { !cancelled.contains($0.id) }.map(\.id))
            let window = try await all(ListMeetingsRequest(matchID: pair.matchID, from: monday(days: 2, hours: 0), to: monday(days: 8, hours: 0), includeCancelled: true, pageSize: 1))
            #expect(window.map(\.id) == ours.filter { $0.start >= monday(days: 2, hours: 0) && $0.start < monday(days: 8, hours: 0) }.map(\.id))
            #expect(window.count == 3)
        }
    }

    @Test("video links: the template's every {room} gets the same new room id of 26 unambiguous characters; no two links alike")
    func videoLinks() throws {
        var configuration = SchedulingConfiguration()
        configuration.videoURLTemplate = "https://video.example/{room}/join?room={room}&v=1"
        let directory = Scratch.directory("video")
        let server = try SchedulingServer.open(dataDirectory: directory, configuration: configuration, logger: Logger(label: "test"))
        defer { server.close() }
        var seen = Set<String>()
        for _ in 0..<200 {
            let link = server.videoURL()
            let parts = link.split(separator: "/")
            let room = String(parts[2])
            #expect(link == "https://video.example/\(room)/join?room=\(room)&v=1")
            #expect(room.count == 26 && room.allSatisfy { "abcdefghijkmnpqrstuvwxyz23456789".contains($0) })
            seen.insert(room)
        }
        #expect(seen.count == 200)
    }

    @Test("the checkpoint size reaches the store: with 1,000 pages the log stays near four times that; with the default it grows far past it")
    func checkpointSize() async throws {
        /// The largest the log file gets while ~80 MB is written, 16 writes per group commit.
        func largestLog(checkpointPages: Int?) async throws -> Int64 {
            var configuration = SchedulingConfiguration()
            if let checkpointPages { configuration.checkpointPages = checkpointPages }
            let directory = temporaryDirectory()
            let server = try SchedulingServer.open(dataDirectory: directory, configuration: configuration, logger: Logger(label: "test"))
            defer { server.close() }
            // Idempotency keys of 3 KB: a leaf cell and overflow pages each, about three pages of log.
            let filler = String(repeating: "k", count: 3000)
            var largest: Int64 = 0
            for round in 0..<400 {
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<16 {
                        group.addTask {
                            _ = try await server.store.database.write {
                                try $0.execute(
                                    "INSERT INTO idempotency (org_id, key, request_hash, meeting_id, created_at) VALUES (?, ?, ?, ?, ?)",
                                    UUID(), "\(round)-\(index)-" + filler, [UInt8(1)], UUID(), 0.0
                                )
                            }
                        }
                    }
                    try await group.waitForAll()
                }
                let log = (try? FileManager.default.attributesOfItem(atPath: directory + "/scheduling.sqlite-wal")[.size] as? Int64) ?? 0
                largest = max(largest, log)
            }
            return largest
        }
        let frame: Int64 = 4096 + 24
        let small = try await largestLog(checkpointPages: 1000)
        #expect(small < 6_000 * frame, "the log reached \(small / frame) pages with checkpoints at 1,000")
        let standard = try await largestLog(checkpointPages: nil)
        #expect(standard > 12_000 * frame, "the log reached only \(standard / frame) pages with checkpoints at 65,536")
    }

    @Test("bad requests are INVALID_ARGUMENT naming each field, and nothing is booked")
    func badInput() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Ines", zone: "Europe/Lisbon")
            let mentee = try await cluster.person("Jun", zone: "Asia/Tokyo")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let error = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                    matchID: pair.matchID, start: cluster.clock.now().addingTimeInterval(-3600), durationMinutes: 600, timeZone: "Moon/Base",
                    agenda: String(repeating: "x", count: 3000)
                ), token: mentor.token)
            }
            #expect(Set(error?.fieldViolations.map(\.field) ?? []) == ["start", "durationMinutes", "timeZone", "agenda"])
            let slots = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Scheduling.findSlots, FindSlotsRequest(
                    matchID: pair.matchID, durationMinutes: 30, from: monday(hours: 0), to: monday(days: 90, hours: 0), stepMinutes: 7, limit: 0
                ), token: mentor.token)
            }
            #expect(Set(slots?.fieldViolations.map(\.field) ?? []) == ["to", "stepMinutes", "limit"])
            let availability = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Scheduling.setAvailability, Availability(
                    personID: mentor.id, timeZone: "Europe/Lisbon", windows: [WeeklyWindow(day: 8, startMinute: 600, endMinute: 500)],
                    exceptions: [AvailabilityException(date: "2027-02-30", available: false), AvailabilityException(date: "2027-03-01", available: true, startMinute: 60)]
                ), token: mentor.token)
            }
            #expect(Set(availability?.fieldViolations.map(\.field) ?? []) == ["windows[0].day", "windows[0]", "exceptions[0].date", "exceptions[1]"])
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: UUID(), start: monday(hours: 9), durationMinutes: 30, timeZone: "UTC"), token: mentor.token)
            }
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID, includeCancelled: true), token: mentor.token).meetings.isEmpty)
            let reversed = await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID, from: monday(hours: 12), to: monday(hours: 9)), token: mentor.token)
            }
            #expect(reversed?.fieldViolations.map { "\($0.field) \($0.rule)" } == ["to order"])
        }
    }

    @Test("find slots end to end: both time zones, existing meetings excluded, booking a slot works")
    func findAndBook() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Priya", zone: "Asia/Kolkata")
            let mentee = try await cluster.person("Hugo", zone: "Europe/London")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let request = FindSlotsRequest(matchID: pair.matchID, durationMinutes: 30, from: monday(hours: 0), to: monday(days: 1, hours: 0), stepMinutes: 30, limit: 20)
            let slots = try await cluster.call(Scheduling.findSlots, request, token: mentee.token)
            // Kolkata 09:00-17:00 (03:30-11:30 UTC) and London 09:00-17:00 GMT: 09:00-11:30 UTC.
            #expect(slots.slots.map(\.start) == (0..<5).map { monday(hours: 9 + Double($0) * 0.5) })
            #expect(slots.slots[0].participants.map(\.localStart) == ["2027-01-18T14:30", "2027-01-18T09:00"])
            let meeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: pair.matchID, start: slots.slots[0].start, durationMinutes: 30, timeZone: "Europe/London"
            ), token: mentee.token)
            let after = try await cluster.call(Scheduling.findSlots, request, token: mentor.token)
            // 09:00-09:30 is taken, and the 10-minute buffer rules out 09:30 too.
            #expect(after.slots.map(\.start) == (2..<5).map { monday(hours: 9 + Double($0) * 0.5) })
            _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: meeting.id, reason: "Clash"), token: mentor.token)
            #expect(try await cluster.call(Scheduling.findSlots, request, token: mentor.token).slots.count == 5)
        }
    }

    @Test("reschedule, cancel and status: conflicts checked, sequence bumped, cancellation idempotent")
    func lifecycle() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Dara", zone: "Europe/Dublin")
            let mentee = try await cluster.person("Bo", zone: "Europe/Stockholm")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let first = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 9), durationMinutes: 60, timeZone: "UTC"), token: mentor.token)
            let second = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 11), durationMinutes: 60, timeZone: "UTC"), token: mentor.token)
            let conflict = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.rescheduleMeeting, RescheduleMeetingRequest(meetingID: second.id, start: monday(hours: 9.5)), token: mentee.token)
            }
            #expect(conflict?.message.contains(first.id.uuidString.lowercased()) == true)
            let moved = try await cluster.call(Scheduling.rescheduleMeeting, RescheduleMeetingRequest(meetingID: second.id, start: monday(hours: 13), durationMinutes: 30, version: 1), token: mentee.token)
            #expect(moved.sequence == 1 && moved.version == 2 && moved.end == monday(hours: 13.5))
            await expectRPCError(.aborted) {
                _ = try await cluster.call(Scheduling.rescheduleMeeting, RescheduleMeetingRequest(meetingID: second.id, start: monday(hours: 14), version: 1), token: mentee.token)
            }
            // The old time is free again.
            _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 11), durationMinutes: 60, timeZone: "UTC"), token: mentor.token)
            await expectRPCError(.invalidArgument) { _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: first.id, reason: " "), token: mentor.token) }
            let cancelled = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: first.id, reason: "Travel"), token: mentor.token)
            #expect(cancelled.status == .cancelled && cancelled.cancelReason == "Travel" && cancelled.sequence == 1)
            #expect(try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: first.id, reason: "Again"), token: mentor.token) == cancelled)
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: moved.id, status: .held), token: mentor.token)
            }
            cluster.clock.advance(4 * 86_400)
            // Access tokens last 15 minutes: sign in again after the days have passed.
            let later = try await cluster.call(Identity.signIn, SignInRequest(organisation: "acme", email: "dara@acme.example", password: Cluster.password), token: nil).accessToken
            let held = try await cluster.call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: moved.id, status: .held), token: later)
            #expect(held.status == .held)
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: moved.id, reason: "Too late"), token: later)
            }
            let withAgenda = try await cluster.call(Scheduling.updateAgenda, UpdateAgendaRequest(meetingID: moved.id, agenda: "Retro"), token: later)
            #expect(withAgenda.agenda == "Retro")
            // A cancelled meeting keeps its agenda.
            let refused = await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.updateAgenda, UpdateAgendaRequest(meetingID: first.id, agenda: "Never mind"), token: later)
            }
            #expect(refused?.details.contains { "\($0)".contains("state") } == true)
            #expect(try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: first.id), token: later).agenda == nil)
            // Once the match has ended, meetings can be cancelled but not moved.
            let upcoming = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(days: 7, hours: 9), durationMinutes: 60, timeZone: "UTC"), token: later)
            var ended = pair
            ended.active = false
            _ = try await cluster.call(Scheduling.registerPair, ended, token: try await cluster.adminToken())
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.rescheduleMeeting, RescheduleMeetingRequest(meetingID: upcoming.id, start: monday(days: 7, hours: 10)), token: later)
            }
            #expect(try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: upcoming.id, reason: "Match ended"), token: later).status == .cancelled)
        }
    }

    @Test("only the two participants, the program's admins and organisation admins can see or change a meeting")
    func accessControl() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Gita", zone: "Asia/Singapore")
            let mentee = try await cluster.person("Farah", zone: "Asia/Dubai")
            let outsider = try await cluster.person("Mateo", zone: "America/Sao_Paulo")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let meeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 6), durationMinutes: 30, timeZone: "UTC"), token: mentee.token)
            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: outsider.token) }
            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: meeting.id, reason: "Mine now"), token: outsider.token) }
            // Every change of a meeting is checked in its own transaction: NOT_FOUND, nothing changed
            // (the meeting is compared whole below).
            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.updateAgenda, UpdateAgendaRequest(meetingID: meeting.id, agenda: "Mine"), token: outsider.token) }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Scheduling.setMeetingStatus, SetMeetingStatusRequest(meetingID: meeting.id, status: .noShow), token: outsider.token)
            }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Scheduling.rescheduleMeeting, RescheduleMeetingRequest(meetingID: meeting.id, start: monday(hours: 7)), token: outsider.token)
            }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 8), durationMinutes: 30, timeZone: "UTC"), token: outsider.token)
            }
            await expectRPCError(.notFound) {
                _ = try await cluster.call(Scheduling.findSlots, FindSlotsRequest(matchID: pair.matchID, durationMinutes: 30, from: monday(hours: 0), to: monday(days: 1, hours: 0)), token: outsider.token)
            }
            await expectRPCError(.permissionDenied) { _ = try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(personID: mentor.id), token: outsider.token) }
            await expectRPCError(.permissionDenied) { _ = try await cluster.call(Scheduling.exportCalendar, ExportCalendarRequest(personID: mentor.id), token: outsider.token) }
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Scheduling.setAvailability, Availability(personID: mentor.id, timeZone: "UTC"), token: outsider.token)
            }
            await expectRPCError(.permissionDenied) {
                _ = try await cluster.call(Scheduling.registerPair, Pair(matchID: UUID(), programID: UUID(), mentorID: outsider.id, menteeID: mentor.id), token: outsider.token)
            }
            await expectRPCError(.permissionDenied) { _ = try await cluster.call(Scheduling.acknowledgeReminders, AcknowledgeRemindersRequest(reminderIDs: []), token: outsider.token) }
            #expect(try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: mentor.token) == meeting)
            #expect(try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: cluster.admin.accessToken) == meeting)
            // Another organisation cannot see it, and its pairs cannot block Acme's people.
            let globex = try await cluster.call(Identity.createOrganisation, CreateOrganisationRequest(
                name: "Globex", slug: "globex",
                admin: PersonInput(email: "boss@globex.example", name: "Boss", division: "Ops", jobTitle: "Boss", seniority: 9, timeZone: "UTC"),
                adminPassword: Cluster.password
            ), token: cluster.admin.accessToken)
            let boss = try await cluster.call(Identity.signIn, SignInRequest(organisation: "globex", email: "boss@globex.example", password: Cluster.password), token: nil)
            #expect(boss.organisationID == globex.id)
            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: boss.accessToken) }
            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.getPair, PairRef(matchID: pair.matchID), token: boss.accessToken) }
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(personID: mentor.id), token: boss.accessToken).meetings.isEmpty)
            let squat = try await cluster.call(Scheduling.registerPair, Pair(matchID: UUID(), programID: UUID(), mentorID: mentor.id, menteeID: mentee.id), token: boss.accessToken)
            _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: squat.matchID, start: monday(hours: 6), durationMinutes: 30, timeZone: "UTC"), token: boss.accessToken)
            #expect(try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: mentor.token).status == .scheduled)
            // An admin of the pair's program sees its meetings (the token's `programs` claim);
            // an admin of another program does not.
            let pam = try await cluster.person("Pam", zone: "UTC")
            let program = try await cluster.call(Identity.createProgram, ProgramInput(name: "Circle", format: .group, startsOn: "2027-01-01", adminIDs: [pam.id]), token: cluster.admin.accessToken)
            let pamToken = try await cluster.call(Identity.signIn, SignInRequest(organisation: "acme", email: "pam@acme.example", password: Cluster.password), token: nil).accessToken
            let programPair = try await cluster.pair(outsider.id, mentor.id, program: program.id)
            let programMeeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: programPair.matchID, start: monday(hours: 9), durationMinutes: 30, timeZone: "UTC"), token: outsider.token)
            #expect(try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: programMeeting.id), token: pamToken).id == programMeeting.id)
            await expectRPCError(.notFound) { _ = try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: pamToken) }
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: programPair.matchID), token: pamToken).meetings.count == 1)
            // Listing a person's meetings, a program admin sees only those of their programs.
            let mentorsMeetings = try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(personID: mentor.id), token: cluster.admin.accessToken)
            #expect(Set(mentorsMeetings.meetings.map(\.id)) == [meeting.id, programMeeting.id])
            let pamSees = try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(personID: mentor.id, pageSize: 1), token: pamToken)
            #expect(pamSees.meetings.map(\.id) == [programMeeting.id] && pamSees.nextPageToken == nil)
        }
    }

    @Test("restart keeps meetings, pairs, availability and idempotency keys")
    func restart() async throws {
        let scheduling = temporaryDirectory()
        let identity = temporaryDirectory()
        let clock = TestClock()
        let (meeting, pair, token) = try await withCluster(schedulingDirectory: scheduling, identityDirectory: identity, clock: clock) { cluster in
            let mentor = try await cluster.person("Chen", zone: "Asia/Shanghai")
            let mentee = try await cluster.person("Emeka", zone: "Africa/Lagos")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let meeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 8), durationMinutes: 60, timeZone: "UTC"), token: mentor.token, idempotencyKey: "k1")
            return (meeting, pair, mentor.token)
        }
        try await withCluster(schedulingDirectory: scheduling, identityDirectory: identity, clock: clock) { cluster in
            #expect(try await cluster.call(Scheduling.getMeeting, MeetingRef(meetingID: meeting.id), token: token) == meeting)
            let retry = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 8), durationMinutes: 60, timeZone: "UTC"), token: token, idempotencyKey: "k1")
            #expect(retry.id == meeting.id)
            await expectRPCError(.failedPrecondition) {
                _ = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(matchID: pair.matchID, start: monday(hours: 8.5), durationMinutes: 60, timeZone: "UTC"), token: token)
            }
            #expect(try await cluster.call(Scheduling.getAvailability, PersonRef(personID: pair.mentorID), token: token).timeZone == "Asia/Shanghai")
        }
    }
}
