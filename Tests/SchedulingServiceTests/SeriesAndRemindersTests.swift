import Foundation
import TandemProtocols
import TandemRPC
import TandemTestSupport
import TandemWire
import Testing
@testable import SchedulingService

/// Runs Tests/python/check_ics.py on `ics` (Python's `icalendar` must accept it).
func parseWithPython(_ ics: String) async throws -> ICalendarTests.ParsedCalendar {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    let file = URL(filePath: Scratch.path("calendar", suffix: ".ics"))
    try Data(ics.utf8).write(to: file)
    defer { try? FileManager.default.removeItem(at: file) }
    let result = try await runProgram("/usr/bin/env", ["python3", root.appendingPathComponent("Tests/python/check_ics.py").path, file.path])
    let json = result.output
    let message = String(decoding: result.errors, as: UTF8.self)
    try #require(result.status == 0, "check_ics.py refused the export: \(message)\n\(ics)")
    return try JSONDecoder().decode(ICalendarTests.ParsedCalendar.self, from: json)
}

@Suite("Scheduling end to end: series, calendars, reminders")
struct SeriesAndRemindersTests {
    /// 2027-03-08 14:00 UTC: Monday 09:00 in New York, the week before its clocks change (14 March).
    static let firstStart = Date(timeIntervalSince1970: 1_804_514_400)

    @Test("a weekly series keeps New York's 09:00 across the clock change, books all or nothing, and edits per occurrence")
    func series() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Noor", zone: "America/New_York")
            let mentee = try await cluster.person("Hal", zone: "Europe/London")
            let third = try await cluster.person("Zoe", zone: "Europe/London")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let otherPair = try await cluster.pair(third.id, mentee.id)
            let week: TimeInterval = 7 * 86_400
            // The mentee is busy when the third occurrence (22 March, 13:00 UTC) would be.
            let blocker = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: otherPair.matchID, start: Self.firstStart.addingTimeInterval(2 * week - 3600), durationMinutes: 30, timeZone: "UTC"
            ), token: mentee.token)
            let request = BookSeriesRequest(matchID: pair.matchID, firstStart: Self.firstStart, durationMinutes: 45, timeZone: "America/New_York", everyWeeks: 1, count: 4, agenda: "Weekly")
            let conflict = await expectRPCError(.failedPrecondition) { _ = try await cluster.call(Scheduling.bookSeries, request, token: mentor.token) }
            #expect(conflict?.message.hasPrefix("occurrence 3 of 4") == true && conflict?.message.contains(blocker.id.uuidString.lowercased()) == true)
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID, includeCancelled: true), token: mentor.token).meetings.isEmpty, "nothing of the series was written")

            _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: blocker.id, reason: "Moved"), token: mentee.token)
            let series = try await cluster.call(Scheduling.bookSeries, request, token: mentor.token, idempotencyKey: "series-1")
            // A retry (the answer was lost) returns the same series instead of conflicting with it.
            #expect(try await cluster.call(Scheduling.bookSeries, request, token: mentor.token, idempotencyKey: "series-1") == series)
            #expect(Set(series.meetings.map(\.videoURL)).count == 1, "one video room for the series")
            #expect(series.rule == "FREQ=WEEKLY;INTERVAL=1;COUNT=4")
            #expect(series.meetings.map(\.start) == [
                Self.firstStart, Self.firstStart.addingTimeInterval(week - 3600), Self.firstStart.addingTimeInterval(2 * week - 3600),
                Self.firstStart.addingTimeInterval(3 * week - 3600),
            ], "09:00 New York each week: 14:00 UTC, then 13:00 UTC after 14 March")
            #expect(series.meetings.map(\.occurrence) == [0, 1, 2, 3] && series.meetings.allSatisfy { $0.seriesID == series.id })

            // Move the second occurrence by an hour, cancel the third.
            let moved = try await cluster.call(Scheduling.rescheduleMeeting, RescheduleMeetingRequest(
                meetingID: series.meetings[1].id, start: series.meetings[1].start.addingTimeInterval(3600)
            ), token: mentee.token)
            _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: series.meetings[2].id, reason: "Holiday"), token: mentor.token)

            let calendar = try await cluster.call(Scheduling.exportCalendar, ExportCalendarRequest(personID: mentor.id), token: mentor.token)
            #expect(calendar.contentType.hasPrefix("text/calendar"))
            let parsed = try await parseWithPython(calendar.ics)
            let uid = series.id.uuidString.lowercased() + "@tandem"
            let master = try #require(parsed.events.first { $0.uid == uid && $0.recurrenceID == nil })
            #expect(master.rrule?.contains("COUNT=4") == true)
            #expect(master.dtstart == "2027-03-08T14:00:00Z")
            #expect(master.exdates == ["2027-03-22T13:00:00Z"])
            let override = try #require(parsed.events.first { $0.uid == uid && $0.recurrenceID != nil })
            #expect(override.recurrenceID == "2027-03-15T13:00:00Z" && override.dtstart == "2027-03-15T14:00:00Z" && override.sequence == moved.sequence)
            // The cancelled one-off meeting is not in the mentor's calendar; it is in the mentee's, as cancelled.
            let menteeCalendar = try await parseWithPython(try await cluster.call(Scheduling.exportCalendar, ExportCalendarRequest(personID: mentee.id), token: mentee.token).ics)
            #expect(menteeCalendar.events.first { $0.uid == blocker.id.uuidString.lowercased() + "@tandem" }?.status == "CANCELLED")

            // Cancel the rest of the series from the fourth occurrence on.
            let cancelled = try await cluster.call(Scheduling.cancelSeries, CancelSeriesRequest(seriesID: series.id, from: series.meetings[3].start, reason: "Program ended"), token: mentor.token)
            #expect(cancelled.meetings.map(\.status) == [.scheduled, .scheduled, .cancelled, .cancelled])
            let after = try await cluster.call(Scheduling.getSeries, SeriesRef(seriesID: series.id), token: mentee.token)
            #expect(after == cancelled)
        }
    }

    @Test("reminders arrive when due, are sent again until acknowledged, and never again after — across a restart")
    func reminders() async throws {
        let schedulingDirectory = temporaryDirectory()
        let identityDirectory = temporaryDirectory()
        let clock = TestClock()
        var received = EventLog()
        func collect(_ cluster: Cluster, into log: EventLog) -> Task<Void, any Error> {
            let client = cluster.scheduling
            let options = cluster.options(cluster.admin.accessToken)
            return Task {
                try await client.serverStreaming(Scheduling.streamReminders, StreamRemindersRequest(), options: options) { stream in
                    for try await reminder in stream { log.record(reminder.id) }
                }
            }
        }

        let meetingID = try await withCluster(schedulingDirectory: schedulingDirectory, identityDirectory: identityDirectory, clock: clock) { cluster in
            let mentor = try await cluster.person("Ann", zone: "UTC")
            let mentee = try await cluster.person("Ben", zone: "UTC")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let meeting = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: pair.matchID, start: clock.now().addingTimeInterval(25 * 3600), durationMinutes: 30, timeZone: "UTC"
            ), token: mentor.token)
            let id = meeting.id.uuidString.lowercased()
            let log = received
            func count(_ id: String) -> Int { log.all.filter { $0 == id }.count }
            let stream = collect(cluster, into: log)
            defer { stream.cancel() }
            // Nothing is due yet; an hour later the 24-hour reminder is.
            try await Task.sleep(for: .milliseconds(500))
            #expect(log.all.isEmpty)
            clock.advance(3600 + 1)
            #expect(try await eventually { count(id + "/24h") == 1 })
            // Not acknowledged: sent again a minute later.
            clock.advance(61)
            #expect(try await eventually { count(id + "/24h") == 2 })
            let token = try await cluster.adminToken()
            _ = try await cluster.call(Scheduling.acknowledgeReminders, AcknowledgeRemindersRequest(reminderIDs: [id + "/24h"]), token: token)
            await expectRPCError(.invalidArgument) {
                _ = try await cluster.call(Scheduling.acknowledgeReminders, AcknowledgeRemindersRequest(reminderIDs: ["nonsense"]), token: token)
            }
            // 15 minutes before the start, the second reminder.
            clock.advance(25 * 3600 - 15 * 60 - (3600 + 1) - 61)
            #expect(try await eventually { count(id + "/15m") == 1 })
            clock.advance(61)
            try await Task.sleep(for: .milliseconds(600))
            #expect(count(id + "/24h") == 2, "acknowledged: never sent again")
            return id
        }
        received = EventLog()
        let log = received
        func count(_ id: String) -> Int { log.all.filter { $0 == id }.count }
        // After a restart: the unacknowledged 15-minute reminder comes again, the 24-hour one does not.
        try await withCluster(schedulingDirectory: schedulingDirectory, identityDirectory: identityDirectory, clock: clock) { cluster in
            let stream = collect(cluster, into: log)
            defer { stream.cancel() }
            #expect(try await eventually { count(meetingID + "/15m") >= 1 })
            _ = try await cluster.call(Scheduling.acknowledgeReminders, AcknowledgeRemindersRequest(reminderIDs: [meetingID + "/15m"]), token: cluster.admin.accessToken)
            let before = count(meetingID + "/15m")
            clock.advance(120)
            try await Task.sleep(for: .milliseconds(600))
            #expect(count(meetingID + "/15m") == before && count(meetingID + "/24h") == 0)
        }
    }

    @Test("the look-back bounds only a stream's first pass: with 0, reminders that fall due later are sent; one not acknowledged is sent again hours after it fell due")
    func reminderLookbackOnlyAtTheStart() async throws {
        let clock = TestClock()
        try await withCluster(clock: clock) { cluster in
            let mentor = try await cluster.person("Ivo", zone: "UTC")
            let mentee = try await cluster.person("Jia", zone: "UTC")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            func book(in seconds: TimeInterval) async throws -> String {
                try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                    matchID: pair.matchID, start: clock.now().addingTimeInterval(seconds), durationMinutes: 30, timeZone: "UTC"
                ), token: mentor.token).id.uuidString.lowercased()
            }
            func open(_ request: StreamRemindersRequest, token: String, into log: EventLog) -> Task<Void, any Error> {
                let client = cluster.scheduling
                let options = cluster.options(token)
                return Task {
                    try await client.serverStreaming(Scheduling.streamReminders, request, options: options) { stream in
                        for try await reminder in stream { log.record(reminder.id) }
                    }
                }
            }
            func count(_ log: EventLog, _ id: String) -> Int { log.all.filter { $0 == id }.count }
            // Its 15-minute reminder is due now, as the stream starts: the first thing a stream with
            // a look-back of 0 sends (and the sign that the stream has begun before the clock moves).
            let soon = try await book(in: 15 * 60)
            // Its 24-hour reminder falls due an hour after the stream began.
            let tomorrow = try await book(in: 25 * 3600)
            let fromNow = EventLog()
            let fromNowStream = open(StreamRemindersRequest(lookbackSeconds: 0), token: cluster.admin.accessToken, into: fromNow)
            defer { fromNowStream.cancel() }
            #expect(try await eventually { count(fromNow, soon + "/15m") == 1 })
            // One due 5 s from now, sent 6 s later by a pass between the full ones (those come
            // every 15 s; the others read only what fell due since the pass before).
            let kai = try await cluster.person("Kai", zone: "UTC")
            let other = try await cluster.pair(kai.id, try await cluster.person("Lea", zone: "UTC").id)
            let shortly = try await cluster.call(Scheduling.bookMeeting, BookMeetingRequest(
                matchID: other.matchID, start: clock.now().addingTimeInterval(15 * 60 + 5), durationMinutes: 30, timeZone: "UTC"
            ), token: kai.token).id.uuidString.lowercased()
            try await Task.sleep(for: .milliseconds(500))
            #expect(count(fromNow, shortly + "/15m") == 0)
            clock.advance(6)
            #expect(try await eventually { count(fromNow, shortly + "/15m") == 1 })
            clock.advance(3600 + 1 - 6)
            #expect(try await eventually { count(fromNow, tomorrow + "/24h") == 1 }, "due after the stream began: sent with a look-back of 0")

            // A stream with the default look-back (an hour) sends it at once (due a second ago)…
            let withLookback = EventLog()
            let withLookbackStream = open(StreamRemindersRequest(), token: try await cluster.adminToken(), into: withLookback)
            defer { withLookbackStream.cancel() }
            #expect(try await eventually { count(withLookback, tomorrow + "/24h") == 1 })
            // …and both send it again two hours later, though it fell due longer ago than the look-back.
            clock.advance(2 * 3600)
            #expect(try await eventually { count(withLookback, tomorrow + "/24h") == 2 }, "not acknowledged: sent again, look-back or not")
            #expect(try await eventually { count(fromNow, tomorrow + "/24h") == 2 })
        }
    }

    @Test("a series until a date giving more than 104 occurrences is INVALID_ARGUMENT (until, range) and books nothing; one giving 104 is booked whole")
    func seriesUntilGivingTooMany() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Kai", zone: "UTC")
            let mentee = try await cluster.person("Lou", zone: "UTC")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let first = monday(hours: 10)
            let week: TimeInterval = 7 * 86_400
            func request(weeks: Double) -> BookSeriesRequest {
                BookSeriesRequest(matchID: pair.matchID, firstStart: first, durationMinutes: 30, timeZone: "UTC", everyWeeks: 1, until: first.addingTimeInterval(weeks * week))
            }
            // Until 104 weeks after the first (within 2 years): 105 weekly occurrences.
            let tooMany = await expectRPCError(.invalidArgument) { _ = try await cluster.call(Scheduling.bookSeries, request(weeks: 104), token: mentor.token) }
            #expect(tooMany?.fieldViolations.map { "\($0.field) \($0.rule)" } == ["until range"])
            #expect(try await cluster.call(Scheduling.listMeetings, ListMeetingsRequest(matchID: pair.matchID, includeCancelled: true), token: mentor.token).meetings.isEmpty)
            let series = try await cluster.call(Scheduling.bookSeries, request(weeks: 103), token: mentor.token)
            #expect(series.meetings.count == 104 && series.meetings.last?.start == first.addingTimeInterval(103 * week))
            #expect(series.rule == "FREQ=WEEKLY;INTERVAL=1;UNTIL=" + ICalendar.utcDateTime(first.addingTimeInterval(103 * week)))
        }
    }

    @Test("a series is exported with all of its occurrences: a cancellation more than 30 days ago stays an EXDATE and SEQUENCE never goes down")
    func exportKeepsEarlyOccurrences() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Uma", zone: "Europe/London")
            let mentee = try await cluster.person("Vik", zone: "Europe/London")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let first = monday(hours: 10)
            let series = try await cluster.call(Scheduling.bookSeries, BookSeriesRequest(
                matchID: pair.matchID, firstStart: first, durationMinutes: 30, timeZone: "Europe/London", everyWeeks: 1, count: 12
            ), token: mentor.token)
            // The second occurrence is cancelled on its own.
            let cancelled = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: series.meetings[1].id, reason: "Ill"), token: mentee.token)
            let uid = series.id.uuidString.lowercased() + "@tandem"
            func master() async throws -> ICalendarTests.ParsedCalendar.Event {
                let calendar = try await cluster.call(Scheduling.exportCalendar, ExportCalendarRequest(personID: mentor.id), token: try await cluster.adminToken())
                return try #require(try await parseWithPython(calendar.ics).events.first { $0.uid == uid && $0.recurrenceID == nil })
            }
            let exdate = ISO8601DateFormatter().string(from: cancelled.start)
            let before = try await master()
            #expect(before.exdates == [exdate] && before.sequence >= cancelled.sequence)
            // 60 days after the first occurrence: the cancelled one started 53 days ago, before the
            // 30 days the export covers, but the rule still gives it.
            cluster.clock.advance(first.addingTimeInterval(60 * 86_400).timeIntervalSince(cluster.clock.now()))
            let after = try await master()
            #expect(after.rrule == before.rrule && after.exdates == [exdate], "the early cancellation is still an exception to the rule")
            #expect(after.sequence >= before.sequence, "SEQUENCE went down from \(before.sequence) to \(after.sequence)")
        }
    }

    @Test("a series whose every occurrence was cancelled one by one is STATUS:CANCELLED; one with an occurrence left is not")
    func seriesCancelledOccurrenceByOccurrence() async throws {
        try await withCluster { cluster in
            let mentor = try await cluster.person("Wen", zone: "Asia/Tokyo")
            let mentee = try await cluster.person("Xavi", zone: "Europe/Madrid")
            let pair = try await cluster.pair(mentor.id, mentee.id)
            let series = try await cluster.call(Scheduling.bookSeries, BookSeriesRequest(
                matchID: pair.matchID, firstStart: monday(hours: 8), durationMinutes: 30, timeZone: "Asia/Tokyo", everyWeeks: 2, count: 2
            ), token: mentor.token)
            let uid = series.id.uuidString.lowercased() + "@tandem"
            func status() async throws -> String? {
                let calendar = try await cluster.call(Scheduling.exportCalendar, ExportCalendarRequest(personID: mentee.id), token: mentee.token)
                return try await parseWithPython(calendar.ics).events.first { $0.uid == uid && $0.recurrenceID == nil }?.status
            }
            _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: series.meetings[0].id, reason: "Travel"), token: mentor.token)
            #expect(try await status() == "CONFIRMED")
            _ = try await cluster.call(Scheduling.cancelMeeting, CancelMeetingRequest(meetingID: series.meetings[1].id, reason: "Travel"), token: mentor.token)
            #expect(try await status() == "CANCELLED")
        }
    }
}
