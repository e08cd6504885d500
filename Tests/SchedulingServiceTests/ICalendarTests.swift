import Foundation
import TandemProtocols
import TandemTestSupport
import Testing

@testable import SchedulingService

@Suite("iCalendar export")
struct ICalendarTests {
    // MARK: Fixtures

    static let now = date("2026-01-15T12:00:00Z")
    static let seriesID = id(0xA1)

    static func id(_ byte: UInt8) -> UUID {
        UUID(uuid: (0, 0, 0, 0, 0, 0, 0x40, 0, 0x80, 0, 0, 0, 0, 0, 0, byte))
    }

    static func date(_ iso: String) -> Date {
        // Test literals only: a malformed one is a bug in the test, shown by an absurd date.
        (try? Date(iso, strategy: .iso8601)) ?? .distantPast
    }

    static func meeting(
        _ byte: UInt8, start: String, minutes: Int = 60, zone: String, status: MeetingStatus = .scheduled, agenda: String? = nil,
        seriesID: UUID? = nil, occurrence: Int? = nil, sequence: Int = 0
    ) -> Meeting {
        let start = date(start)
        return Meeting(
            id: id(byte), matchID: id(0xF0), programID: id(0xF1), participantIDs: [id(0xF2), id(0xF3)], start: start,
            end: start.addingTimeInterval(TimeInterval(minutes * 60)), timeZone: zone, status: status, agenda: agenda,
            videoURL: "https://meet.example.com/tandem/\(byte)?pwd=a,b", seriesID: seriesID, occurrence: occurrence,
            sequence: sequence, cancelReason: status == .cancelled ? "ill" : nil, version: 1, createdAt: date("2026-01-10T08:00:00Z"),
            updatedAt: date("2026-01-11T08:00:00Z")
        )
    }

    /// A weekly 09:00 New York series of 6 from Thursday 26 February 2026 (before the 8 March
    /// change to daylight saving time): the 4th occurrence moved to 10:00, the 5th cancelled,
    /// the 6th with its own agenda.
    static func newYorkSeries(cancelled: Bool = false) -> (CalendarSeries, [Meeting], [UUID: Date]) {
        let series = CalendarSeries(
            id: seriesID, timeZone: "America/New_York", everyWeeks: 1, count: 6, until: nil, firstStart: date("2026-02-26T14:00:00Z"),
            durationMinutes: 45, agenda: "Career goals", sequence: 1, cancelled: cancelled
        )
        let ruleStarts = [
            "2026-02-26T14:00:00Z", "2026-03-05T14:00:00Z", "2026-03-12T13:00:00Z", "2026-03-19T13:00:00Z", "2026-03-26T13:00:00Z",
            "2026-04-02T13:00:00Z",
        ]
        var meetings: [Meeting] = []
        var originalStarts: [UUID: Date] = [:]
        for (index, ruleStart) in ruleStarts.enumerated() {
            var start = ruleStart
            var status = MeetingStatus.scheduled
            var agenda: String? = "Career goals"
            var sequence = 0
            switch index {
            case 0: status = .held
            case 3:
                start = "2026-03-19T14:00:00Z"
                sequence = 2
            case 4:
                status = .cancelled
                sequence = 3
            case 5:
                agenda = "Mock interview"
                sequence = 1
            default: break
            }
            let meeting = meeting(
                UInt8(0x10 + index), start: start, minutes: 45, zone: "America/New_York", status: status, agenda: agenda, seriesID: seriesID,
                occurrence: index, sequence: sequence
            )
            meetings.append(meeting)
            originalStarts[meeting.id] = date(ruleStart)
        }
        return (series, meetings, originalStarts)
    }

    static func export(_ meetings: [Meeting], series: [CalendarSeries] = [], originalStarts: [UUID: Date] = [:], personName: String? = "Ada") -> String {
        ICalendar.export(
            meetings: meetings, series: Dictionary(uniqueKeysWithValues: series.map { ($0.id, $0) }), originalStarts: originalStarts,
            personName: personName, now: now
        )
    }

    /// Physical lines as bytes (without their CRLF).
    static func physicalLines(_ ics: String) -> [[UInt8]] {
        var lines: [[UInt8]] = []
        var current: [UInt8] = []
        var bytes = Array(ics.utf8)[...]
        while let byte = bytes.popFirst() {
            if byte == 13, bytes.first == 10 {
                bytes.removeFirst()
                lines.append(current)
                current = []
            } else {
                current.append(byte)
            }
        }
        if !current.isEmpty { lines.append(current) }
        return lines
    }

    /// Content lines: physical lines with folds (CRLF + one space) removed.
    static func unfold(_ ics: String) -> [String] {
        var lines: [[UInt8]] = []
        for line in physicalLines(ics) {
            if line.first == 32, !lines.isEmpty {
                lines[lines.count - 1] += line.dropFirst()
            } else {
                lines.append(line)
            }
        }
        return lines.map { String(decoding: $0, as: UTF8.self) }
    }

    /// The content lines of each component named `name` (BEGIN…END, nested ones included).
    static func components(_ name: String, in lines: [String]) -> [[String]] {
        var result: [[String]] = []
        var current: [String]?
        for line in lines {
            if line == "BEGIN:\(name)" { current = [] }
            current?.append(line)
            if line == "END:\(name)", let done = current {
                result.append(done)
                current = nil
            }
        }
        return result
    }

    /// Reverses `ICalendar.text`.
    static func unescape(_ text: String) -> String {
        var result = ""
        var escaping = false
        for character in text {
            if escaping {
                result.append(character == "n" || character == "N" ? "\n" : character)
                escaping = false
            } else if character == "\\" {
                escaping = true
            } else {
                result.append(character)
            }
        }
        return result
    }

    // MARK: Text rules

    @Test func everyLineEndsWithCRLF() {
        let (series, meetings, originals) = Self.newYorkSeries()
        let ics = Self.export(meetings + [Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "Asia/Kolkata", agenda: "line one\nline two")],
                              series: [series], originalStarts: originals)
        let bytes = Array(ics.utf8)
        #expect(bytes.suffix(2) == [13, 10])
        for (index, byte) in bytes.enumerated() {
            if byte == 10 { #expect(index > 0 && bytes[index - 1] == 13, "bare LF at \(index)") }
            if byte == 13 { #expect(index + 1 < bytes.count && bytes[index + 1] == 10, "bare CR at \(index)") }
        }
        let lines = Self.unfold(ics)
        #expect(lines.first == "BEGIN:VCALENDAR")
        #expect(lines.last == "END:VCALENDAR")
        #expect(Array(lines.prefix(6)) == [
            "BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Tandem//Scheduling//EN", "CALSCALE:GREGORIAN", "METHOD:PUBLISH",
            "X-WR-CALNAME:Tandem: Ada",
        ])
        #expect(!Self.export([], personName: nil).contains("X-WR-CALNAME"))
    }

    @Test func foldsAtSeventyFiveOctetsWithoutSplittingCharacters() throws {
        let pattern = "Résumé ☕ 日本語 🎉 naïve — "
        let agenda = String(String(repeating: pattern, count: 10).prefix(200))
        #expect(agenda.count == 200)
        let ics = Self.export([Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "Europe/Paris", agenda: agenda)])

        let physical = Self.physicalLines(ics)
        for line in physical {
            #expect(line.count <= 75, "\(line.count) octets")
            #expect(String(validating: line, as: UTF8.self) != nil, "a fold split a UTF-8 sequence")
        }
        #expect(physical.contains { $0.first == 32 }, "the description was folded")
        let description = try #require(Self.unfold(ics).first { $0.hasPrefix("DESCRIPTION:") })
        #expect(Self.unescape(String(description.dropFirst("DESCRIPTION:".count))) == agenda)

        // Directly: 4-octet scalars fold before they would cross 75.
        let emoji = "X:" + String(repeating: "🎉", count: 40)
        let folded = ICalendar.fold(emoji)
        for part in folded.components(separatedBy: "\r\n") {
            #expect(part.utf8.count <= 75)
        }
        #expect(folded.replacingOccurrences(of: "\r\n ", with: "") == emoji)
        #expect(ICalendar.fold(String(repeating: "a", count: 75)) == String(repeating: "a", count: 75))
        #expect(ICalendar.fold(String(repeating: "a", count: 76)) == String(repeating: "a", count: 75) + "\r\n a")
    }

    @Test func escapesTextValues() throws {
        #expect(ICalendar.text(#"a\b;c,d"#) == #"a\\b\;c\,d"#)
        #expect(ICalendar.text("one\ntwo\r\nthree\rfour") == #"one\ntwo\nthree\nfour"#)
        #expect(ICalendar.text("bell\u{7}tab\tdel\u{7F}") == "belltab\tdel")
        let ics = Self.export([Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "UTC", agenda: "Goals; review, plan\\next\nsteps")])
        let lines = Self.unfold(ics)
        #expect(lines.contains(#"DESCRIPTION:Goals\; review\, plan\\next\nsteps"#))
        // URL is a URI (not escaped); LOCATION is TEXT.
        #expect(lines.contains("URL:https://meet.example.com/tandem/1?pwd=a,b"))
        #expect(lines.contains(#"LOCATION:https://meet.example.com/tandem/1?pwd=a\,b"#))
    }

    // MARK: Time zones

    @Test func newYorkTimeZoneHasMarchAndNovemberTransitions() throws {
        let ics = Self.export([Self.meeting(1, start: "2026-06-15T13:00:00Z", zone: "America/New_York")])
        let lines = Self.unfold(ics)
        let zone = try #require(Self.components("VTIMEZONE", in: lines).first)
        #expect(Self.components("VTIMEZONE", in: lines).count == 1)
        #expect(zone.contains("TZID:America/New_York"))
        let daylight = Self.components("DAYLIGHT", in: zone)
        let standard = Self.components("STANDARD", in: zone)
        // From June 2025 to June 2027: March and November of 2025 (Nov only), 2026 and 2027 (March only).
        #expect(daylight.map { $0[1] } == ["DTSTART:20260308T020000", "DTSTART:20270314T020000"])
        #expect(standard.map { $0[1] } == ["DTSTART:20251102T020000", "DTSTART:20261101T020000"])
        for observance in daylight {
            #expect(observance.contains("TZOFFSETFROM:-0500"))
            #expect(observance.contains("TZOFFSETTO:-0400"))
            #expect(observance.contains("TZNAME:EDT"))
        }
        for observance in standard {
            #expect(observance.contains("TZOFFSETFROM:-0400"))
            #expect(observance.contains("TZOFFSETTO:-0500"))
            #expect(observance.contains("TZNAME:EST"))
        }
        #expect(lines.contains("DTSTART;TZID=America/New_York:20260615T090000"))
        #expect(lines.contains("DTEND;TZID=America/New_York:20260615T100000"))
    }

    @Test func zonesWithoutDaylightSavingTimeHaveOneStandardObservance() throws {
        let ics = Self.export([
            Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "Asia/Kolkata"),
            Self.meeting(2, start: "2026-02-02T10:00:00Z", zone: "Asia/Kathmandu"),
        ])
        let lines = Self.unfold(ics)
        let zones = Self.components("VTIMEZONE", in: lines)
        #expect(zones.map { $0[1] } == ["TZID:Asia/Kathmandu", "TZID:Asia/Kolkata"], "sorted by id")
        for (zone, offset) in zip(zones, ["+0545", "+0530"]) {
            let observances = Self.components("STANDARD", in: zone)
            #expect(observances.count == 1)
            #expect(Self.components("DAYLIGHT", in: zone).isEmpty)
            #expect(observances.first?.contains("DTSTART:19700101T000000") == true)
            #expect(observances.first?.contains("TZOFFSETFROM:\(offset)") == true)
            #expect(observances.first?.contains("TZOFFSETTO:\(offset)") == true)
        }
        #expect(lines.contains("DTSTART;TZID=Asia/Kolkata:20260201T153000"))
        #expect(lines.contains("DTSTART;TZID=Asia/Kathmandu:20260202T154500"))
    }

    @Test func utcMeetingsAreWrittenWithZAndNoTimeZone() {
        let lines = Self.unfold(Self.export([
            Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "UTC"),
            Self.meeting(2, start: "2026-02-01T11:00:00Z", zone: "No/Such_Zone"),
        ]))
        #expect(lines.contains("DTSTART:20260201T100000Z"))
        #expect(lines.contains("DTEND:20260201T110000Z"))
        #expect(lines.contains("DTSTART:20260201T110000Z"))
        #expect(!lines.contains("BEGIN:VTIMEZONE"))
    }

    /// London goes back from 02:00 BST to 01:00 GMT on 25 October 2026: 01:30 happens twice, and
    /// a local time means the first, so the second is written in UTC.
    @Test func repeatedHourIsWrittenInUTCWhenLocalTimeWouldMeanTheFirst() {
        let lines = Self.unfold(Self.export([Self.meeting(1, start: "2026-10-25T00:30:00Z", zone: "Europe/London")]))
        #expect(lines.contains("DTSTART;TZID=Europe/London:20261025T013000"))
        #expect(lines.contains("DTEND:20261025T013000Z"))
    }

    @Test func offsetsKeepSecondsOnlyWhenNonzero() {
        #expect(ICalendar.utcOffset(0) == "+0000")
        #expect(ICalendar.utcOffset(19_800) == "+0530")
        #expect(ICalendar.utcOffset(-18_000) == "-0500")
        #expect(ICalendar.utcOffset(-17_762) == "-045602")
    }

    // MARK: Events

    @Test func standaloneMeetingHasEveryProperty() throws {
        let meeting = Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "Europe/Paris", agenda: "Intro", sequence: 4)
        let event = try #require(Self.components("VEVENT", in: Self.unfold(Self.export([meeting]))).first)
        #expect(event == [
            "BEGIN:VEVENT",
            "UID:00000000-0000-4000-8000-000000000001@tandem",
            "DTSTAMP:20260115T120000Z",
            "CREATED:20260110T080000Z",
            "LAST-MODIFIED:20260111T080000Z",
            "DTSTART;TZID=Europe/Paris:20260201T110000",
            "DTEND;TZID=Europe/Paris:20260201T120000",
            "SUMMARY:Mentoring meeting",
            "DESCRIPTION:Intro",
            "URL:https://meet.example.com/tandem/1?pwd=a,b",
            #"LOCATION:https://meet.example.com/tandem/1?pwd=a\,b"#,
            "SEQUENCE:4",
            "STATUS:CONFIRMED",
            "X-TANDEM-STATUS:scheduled",
            "END:VEVENT",
        ])
    }

    @Test func cancelledAndNoShowMeetings() throws {
        let events = Self.components("VEVENT", in: Self.unfold(Self.export([
            Self.meeting(1, start: "2026-02-01T10:00:00Z", zone: "UTC", status: .cancelled, sequence: 2),
            Self.meeting(2, start: "2026-02-02T10:00:00Z", zone: "UTC", status: .noShow),
        ])))
        #expect(events.count == 2)
        #expect(events[0].contains("STATUS:CANCELLED"))
        #expect(events[0].contains("X-TANDEM-STATUS:cancelled"))
        #expect(events[0].contains("SEQUENCE:2"))
        #expect(events[1].contains("STATUS:CONFIRMED"))
        #expect(events[1].contains("X-TANDEM-STATUS:no-show"))
    }

    @Test func seriesHasRuleExceptionsAndOverrides() throws {
        let (series, meetings, originals) = Self.newYorkSeries()
        let events = Self.components("VEVENT", in: Self.unfold(Self.export(meetings, series: [series], originalStarts: originals)))
        let uid = "UID:00000000-0000-4000-8000-0000000000a1@tandem"
        #expect(events.count == 3, "the master and two overrides (moved, new agenda); unchanged ones come from the rule")
        #expect(events.allSatisfy { $0.contains(uid) })

        let master = try #require(events.first { !$0.contains { $0.hasPrefix("RECURRENCE-ID") } })
        #expect(master.contains("DTSTART;TZID=America/New_York:20260226T090000"))
        #expect(master.contains("DTEND;TZID=America/New_York:20260226T094500"))
        #expect(master.contains("RRULE:FREQ=WEEKLY;INTERVAL=1;COUNT=6"))
        #expect(master.contains("EXDATE;TZID=America/New_York:20260326T090000"))
        #expect(master.contains("DESCRIPTION:Career goals"))
        #expect(master.contains("SEQUENCE:3"), "the highest of the series' and its occurrences' sequences")
        #expect(master.contains("STATUS:CONFIRMED"))

        let moved = try #require(events.first { $0.contains("RECURRENCE-ID;TZID=America/New_York:20260319T090000") })
        #expect(moved.contains("DTSTART;TZID=America/New_York:20260319T100000"))
        #expect(moved.contains("DTEND;TZID=America/New_York:20260319T104500"))
        #expect(moved.contains("SEQUENCE:2"))
        #expect(moved.contains("STATUS:CONFIRMED"))
        #expect(moved.contains("URL:https://meet.example.com/tandem/19?pwd=a,b"))

        let retitled = try #require(events.first { $0.contains("RECURRENCE-ID;TZID=America/New_York:20260402T090000") })
        #expect(retitled.contains("DTSTART;TZID=America/New_York:20260402T090000"))
        #expect(retitled.contains("DESCRIPTION:Mock interview"))
    }

    @Test func severalExceptionsShareOneFoldedLineAndCancelledSeriesIsCancelled() throws {
        var (series, meetings, originals) = Self.newYorkSeries(cancelled: true)
        for index in meetings.indices where index >= 1 {
            meetings[index].status = .cancelled
        }
        // Without an original start the rule's is used (occurrence 2 → 12 March, 09:00 New York).
        originals[meetings[2].id] = nil
        series.sequence = 9
        let lines = Self.unfold(Self.export(meetings, series: [series], originalStarts: originals))
        let events = Self.components("VEVENT", in: lines)
        #expect(events.count == 1)
        #expect(events[0].contains(
            "EXDATE;TZID=America/New_York:20260305T090000,20260312T090000,20260319T090000,20260326T090000,20260402T090000"))
        #expect(events[0].contains("STATUS:CANCELLED"))
        #expect(events[0].contains("SEQUENCE:9"))
    }

    @Test func ruleStrings() {
        #expect(ICalendar.rule(everyWeeks: 1, count: 6, until: nil) == "FREQ=WEEKLY;INTERVAL=1;COUNT=6")
        #expect(ICalendar.rule(everyWeeks: 2, count: nil, until: Self.date("2026-06-30T23:59:59Z")) == "FREQ=WEEKLY;INTERVAL=2;UNTIL=20260630T235959Z")
        #expect(ICalendar.rule(everyWeeks: 3, count: nil, until: nil) == "FREQ=WEEKLY;INTERVAL=3")
    }

    @Test func outputIsDeterministicAndSortedByStart() {
        let (series, meetings, originals) = Self.newYorkSeries()
        let others = [
            Self.meeting(1, start: "2026-03-01T10:00:00Z", zone: "Asia/Kolkata"),
            Self.meeting(2, start: "2026-02-01T10:00:00Z", zone: "Europe/Paris"),
            Self.meeting(3, start: "2026-02-01T10:00:00Z", zone: "UTC"),
        ]
        let first = Self.export(meetings + others, series: [series], originalStarts: originals)
        let second = Self.export((meetings + others).reversed(), series: [series], originalStarts: originals)
        #expect(first == second)
        let starts = Self.components("VEVENT", in: Self.unfold(first)).compactMap { $0.first { $0.hasPrefix("UID:") } }
        #expect(starts == [
            "UID:00000000-0000-4000-8000-000000000002@tandem", "UID:00000000-0000-4000-8000-000000000003@tandem",
            "UID:00000000-0000-4000-8000-0000000000a1@tandem", "UID:00000000-0000-4000-8000-000000000001@tandem",
            "UID:00000000-0000-4000-8000-0000000000a1@tandem", "UID:00000000-0000-4000-8000-0000000000a1@tandem",
        ])
    }

    // MARK: A real parser

    struct ParsedCalendar: Decodable {
        struct Event: Decodable {
            var uid: String
            var dtstart: String
            var dtend: String
            var rrule: String?
            var exdates: [String]
            var recurrenceID: String?
            var sequence: Int
            var status: String
            var occurrences: [String]?
        }

        var engine: String
        var events: [Event]
    }

    /// Python's `icalendar` parses the export (Tests/python/check_ics.py: strict, and checks every
    /// VTIMEZONE against the IANA database); the times it reads are the ones we meant.
    @Test func pythonICalendarParsesTheExport() async throws {
        let (series, meetings, originals) = Self.newYorkSeries()
        let kathmandu = CalendarSeries(
            id: Self.id(0xB2), timeZone: "Asia/Kathmandu", everyWeeks: 2, count: nil, until: Self.date("2026-05-01T00:00:00Z"),
            firstStart: Self.date("2026-03-02T03:15:00Z"), durationMinutes: 30, agenda: nil
        )
        let kathmanduFirst = Self.meeting(
            0x30, start: "2026-03-02T03:15:00Z", minutes: 30, zone: "Asia/Kathmandu", seriesID: kathmandu.id, occurrence: 0
        )
        var all = meetings + [
            Self.meeting(1, start: "2026-06-15T13:00:00Z", zone: "America/New_York", agenda: String(repeating: "Résumé ☕ review; plans, ", count: 8)),
            Self.meeting(2, start: "2026-02-01T10:00:00Z", zone: "Asia/Kolkata", status: .cancelled, sequence: 1),
            Self.meeting(3, start: "2026-02-01T10:00:00Z", zone: "UTC", status: .held),
            Self.meeting(4, start: "2026-10-25T00:30:00Z", zone: "Europe/London"),
            Self.meeting(5, start: "2026-04-05T15:30:00Z", zone: "Australia/Lord_Howe"),
        ]
        all.append(kathmanduFirst)
        let ics = ICalendar.export(
            meetings: all, series: [series.id: series, kathmandu.id: kathmandu], originalStarts: originals, personName: "Ada Lovelace",
            now: Self.now
        )

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let script = root.appendingPathComponent("Tests/python/check_ics.py")
        let file = URL(filePath: Scratch.path("calendar", suffix: ".ics"))
        try Data(ics.utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }

        let result = try await runProgram("/usr/bin/env", ["python3", script.path, file.path])
        let json = result.output
        let message = String(decoding: result.errors, as: UTF8.self)
        try #require(
            result.status == 0,
            "python3 Tests/python/check_ics.py failed (needs python3 and `pip install icalendar`):\n\(message)\n\(ics)"
        )
        let parsed = try JSONDecoder().decode(ParsedCalendar.self, from: json)

        let seriesUID = "00000000-0000-4000-8000-0000000000a1@tandem"
        let master = try #require(parsed.events.first { $0.uid == seriesUID && $0.recurrenceID == nil })
        #expect(master.dtstart == "2026-02-26T14:00:00Z")
        #expect(master.dtend == "2026-02-26T14:45:00Z")
        #expect(Set(master.rrule?.split(separator: ";").map(String.init) ?? []) == ["FREQ=WEEKLY", "INTERVAL=1", "COUNT=6"])
        #expect(master.exdates == ["2026-03-26T13:00:00Z"])
        #expect(master.sequence == 3)
        #expect(master.status == "CONFIRMED")
        // 09:00 in New York on both sides of the 8 March change to daylight saving time.
        #expect(master.occurrences == ["2026-02-26T14:00:00Z", "2026-03-05T14:00:00Z", "2026-03-12T13:00:00Z"], "engine: \(parsed.engine)")

        let overrides = parsed.events.filter { $0.uid == seriesUID && $0.recurrenceID != nil }
        #expect(overrides.map(\.recurrenceID) == ["2026-03-19T13:00:00Z", "2026-04-02T13:00:00Z"])
        #expect(overrides.map(\.dtstart) == ["2026-03-19T14:00:00Z", "2026-04-02T13:00:00Z"])
        #expect(overrides.map(\.sequence) == [2, 1])

        let nepal = try #require(parsed.events.first { $0.uid == "00000000-0000-4000-8000-0000000000b2@tandem" })
        #expect(nepal.dtstart == "2026-03-02T03:15:00Z")
        #expect(Set(nepal.rrule?.split(separator: ";").map(String.init) ?? []) == ["FREQ=WEEKLY", "INTERVAL=2", "UNTIL=20260501T000000Z"])
        #expect(nepal.occurrences == ["2026-03-02T03:15:00Z", "2026-03-16T03:15:00Z", "2026-03-30T03:15:00Z"])

        for meeting in all where meeting.seriesID == nil {
            let event = try #require(parsed.events.first { $0.uid == meeting.id.uuidString.lowercased() + "@tandem" })
            #expect(event.dtstart == meeting.start.formatted(.iso8601))
            #expect(event.dtend == meeting.end.formatted(.iso8601))
            #expect(event.rrule == nil)
            #expect(event.status == (meeting.status == .cancelled ? "CANCELLED" : "CONFIRMED"))
            #expect(event.sequence == meeting.sequence)
        }
        #expect(parsed.events.count == 3 + 1 + 5)
    }

    /// A series whose first occurrence is in the second pass through 01:00–02:00 in London (01:30
    /// GMT on 25 October 2026): the rule's local 01:30 names the first pass, an hour earlier, so the
    /// first occurrence is an override at its own time, in UTC.
    @Test func seriesStartingInTheRepeatedHourKeepsItsFirstOccurrence() async throws {
        let series = CalendarSeries(
            id: Self.seriesID, timeZone: "Europe/London", everyWeeks: 1, count: 3, until: nil, firstStart: Self.date("2026-10-25T01:30:00Z"),
            durationMinutes: 30, agenda: nil
        )
        let starts = ["2026-10-25T01:30:00Z", "2026-11-01T01:30:00Z", "2026-11-08T01:30:00Z"]
        let meetings = starts.enumerated().map { index, start in
            Self.meeting(UInt8(0x40 + index), start: start, minutes: 30, zone: "Europe/London", seriesID: Self.seriesID, occurrence: index)
        }
        let originals = Dictionary(uniqueKeysWithValues: meetings.map { ($0.id, $0.start) })
        let ics = Self.export(meetings, series: [series], originalStarts: originals)
        let parsed = try await parseWithPython(ics)
        let uid = "00000000-0000-4000-8000-0000000000a1@tandem"
        let master = try #require(parsed.events.first { $0.uid == uid && $0.recurrenceID == nil })
        #expect(master.occurrences == starts, "engine: \(parsed.engine)")
        let overrides = parsed.events.filter { $0.uid == uid && $0.recurrenceID != nil }
        #expect(overrides.map(\.recurrenceID) == ["2026-10-25T00:30:00Z"])
        #expect(overrides.map(\.dtstart) == ["2026-10-25T01:30:00Z"] && overrides.map(\.dtend) == ["2026-10-25T02:00:00Z"])
    }
}
