import Foundation
import TandemProtocols

/// A recurring series as it was booked: the rule its occurrences came from.
///
/// The calendar export needs the rule itself, not only the occurrences, so that calendars show
/// one recurring event (with exceptions) instead of many unrelated ones.
struct CalendarSeries: Sendable {
    var id: UUID
    /// The IANA zone whose local time the occurrences keep across daylight-saving changes.
    var timeZone: String
    /// 1 for weekly, 2 for every other week…
    var everyWeeks: Int
    /// How many occurrences; or `until`.
    var count: Int?
    /// No occurrence starts after this.
    var until: Date?
    var firstStart: Date
    var durationMinutes: Int
    var agenda: String?
    /// Bumped on changes to the series as a whole (the master event's SEQUENCE).
    var sequence: Int = 0
    /// The whole series is cancelled (the master event gets STATUS:CANCELLED).
    var cancelled: Bool = false
}

/// iCalendar (RFC 5545) export of a person's meetings: pure, deterministic text generation.
///
/// Standalone meetings become one VEVENT each. A series becomes one recurring master VEVENT
/// (RRULE, EXDATE for cancelled occurrences) plus an override VEVENT (RECURRENCE-ID) for every
/// occurrence that was moved, resized or given its own agenda. Every zone used gets a VTIMEZONE
/// generated from Foundation's `TimeZone`, so the file needs no zone database to be read.
enum ICalendar {
    /// The SUMMARY of every event.
    static let summary = "Mentoring meeting"

    /// The whole calendar.
    ///
    /// - Parameters:
    ///   - meetings: the meetings to export. Occurrences of a series (with `seriesID` in `series`)
    ///     are grouped under their series; others, including occurrences of a series missing from
    ///     `series`, are exported as standalone events.
    ///   - series: the series rules, by series id. Series without a meeting in `meetings` are not
    ///     exported.
    ///   - originalStarts: for occurrences, the start the rule gave them (meeting id → start).
    ///     When missing it is computed from the occurrence's index and the rule.
    ///   - personName: whose calendar this is; names it `Tandem: <name>` (X-WR-CALNAME) when given.
    ///   - now: the DTSTAMP of every event.
    ///   - productID: the PRODID.
    /// - Returns: the calendar, with CRLF line endings and lines folded at 75 octets.
    ///
    /// A `timeZone` that is UTC (or that Foundation does not know) is written as UTC times with `Z`;
    /// so is a meeting's start or end in the second pass through an hour repeated when clocks go
    /// back, which a local time cannot name. An occurrence gets an override when its start, length
    /// or agenda differs from the rule's; the master shows the first occurrence's video link.
    static func export(
        meetings: [Meeting], series: [UUID: CalendarSeries], originalStarts: [UUID: Date], personName: String?, now: Date,
        productID: String = "-//Tandem//Scheduling//EN"
    ) -> String {
        var zones = ZoneTable()
        var events: [Event] = []
        let stamp = utcDateTime(now)

        var occurrencesBySeries: [UUID: [Meeting]] = [:]
        for meeting in meetings {
            if let seriesID = meeting.seriesID, series[seriesID] != nil {
                occurrencesBySeries[seriesID, default: []].append(meeting)
            } else {
                events.append(standaloneEvent(meeting, zones: &zones, stamp: stamp))
            }
        }
        for (seriesID, occurrences) in occurrencesBySeries {
            guard let rule = series[seriesID] else { continue }
            events += seriesEvents(rule, occurrences: occurrences, originalStarts: originalStarts, zones: &zones, stamp: stamp)
        }
        events.sort()

        var lines = [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:" + text(productID),
            "CALSCALE:GREGORIAN",
            "METHOD:PUBLISH",
        ]
        if let name = personName?.trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty {
            lines.append("X-WR-CALNAME:" + text("Tandem: \(name)"))
        }
        for span in zones.spans.values.sorted(by: { $0.id < $1.id }) {
            lines += timeZoneComponent(span)
        }
        for event in events {
            lines += event.lines
        }
        lines.append("END:VCALENDAR")

        var ics = ""
        ics.reserveCapacity(lines.reduce(0) { $0 + $1.utf8.count + 4 })
        for line in lines {
            ics += fold(line)
            ics += "\r\n"
        }
        return ics
    }

    /// The RRULE value of a weekly series, e.g. `FREQ=WEEKLY;INTERVAL=2;COUNT=6` (`Series.rule`).
    ///
    /// `count` wins when both ends are given (RFC 5545 allows only one); `until` is written in UTC.
    static func rule(everyWeeks: Int, count: Int?, until: Date?) -> String {
        var rule = "FREQ=WEEKLY;INTERVAL=\(max(1, everyWeeks))"
        if let count {
            rule += ";COUNT=\(max(1, count))"
        } else if let until {
            rule += ";UNTIL=" + utcDateTime(until)
        }
        return rule
    }

    // MARK: Events

    /// One VEVENT's content lines (unfolded) and what it sorts by.
    private struct Event: Comparable {
        var start: Int64
        var uid: String
        /// Empty for a master or standalone event, so it sorts before its overrides.
        var recurrenceID: String
        var lines: [String]

        static func < (lhs: Event, rhs: Event) -> Bool {
            (lhs.start, lhs.uid, lhs.recurrenceID) < (rhs.start, rhs.uid, rhs.recurrenceID)
        }

        static func == (lhs: Event, rhs: Event) -> Bool {
            (lhs.start, lhs.uid, lhs.recurrenceID) == (rhs.start, rhs.uid, rhs.recurrenceID)
        }
    }

    private static func uid(_ id: UUID) -> String {
        id.uuidString.lowercased() + "@tandem"
    }

    private static func standaloneEvent(_ meeting: Meeting, zones: inout ZoneTable, stamp: String) -> Event {
        let zone = zones.zone(meeting.timeZone)
        let end = max(meeting.start, meeting.end)
        zones.cover(zone, meeting.start, end)
        var lines = ["BEGIN:VEVENT", "UID:" + uid(meeting.id), "DTSTAMP:" + stamp]
        lines += meetingLines(meeting, zone: zone, end: end)
        lines.append("END:VEVENT")
        return Event(start: epochSeconds(meeting.start), uid: uid(meeting.id), recurrenceID: "", lines: lines)
    }

    /// The lines a standalone meeting and a series override share, after UID/DTSTAMP/RECURRENCE-ID.
    private static func meetingLines(_ meeting: Meeting, zone: EventZone, end: Date) -> [String] {
        var lines = [
            "CREATED:" + utcDateTime(meeting.createdAt),
            "LAST-MODIFIED:" + utcDateTime(meeting.updatedAt),
            exactDateTimeLine("DTSTART", meeting.start, zone: zone),
            exactDateTimeLine("DTEND", end, zone: zone),
            "SUMMARY:" + text(summary),
        ]
        if let agenda = nonEmpty(meeting.agenda) {
            lines.append("DESCRIPTION:" + text(agenda))
        }
        lines += videoLines(meeting.videoURL)
        lines += [
            "SEQUENCE:\(max(0, meeting.sequence))",
            "STATUS:" + (meeting.status == .cancelled ? "CANCELLED" : "CONFIRMED"),
            "X-TANDEM-STATUS:" + text(meeting.status.rawValue),
        ]
        return lines
    }

    private static func videoLines(_ videoURL: String) -> [String] {
        let url = String(String.UnicodeScalarView(videoURL.unicodeScalars.filter { !isControl($0) }))
            .trimmingCharacters(in: .whitespaces)
        guard !url.isEmpty else { return [] }
        return ["URL:" + url, "LOCATION:" + text(url)]
    }

    /// The master event of a series and an override for every occurrence that differs from the rule.
    private static func seriesEvents(
        _ series: CalendarSeries, occurrences: [Meeting], originalStarts: [UUID: Date], zones: inout ZoneTable, stamp: String
    ) -> [Event] {
        let seriesUID = uid(series.id)
        let zone = zones.zone(series.timeZone)
        let duration = TimeInterval(max(0, series.durationMinutes) * 60)
        let weeks = max(1, series.everyWeeks)
        let occurrences = occurrences.sorted { ($0.occurrence ?? .max, epochSeconds($0.start)) < ($1.occurrence ?? .max, epochSeconds($1.start)) }

        // The rule's last occurrence, so the VTIMEZONE covers every expansion a reader makes.
        var ruleEnd = series.firstStart.addingTimeInterval(duration)
        if let count = series.count {
            ruleEnd = ruleEnd.addingTimeInterval(TimeInterval(max(0, min(count, 10_000) - 1) * weeks * 7 * 86_400 + 86_400))
        } else if let until = series.until {
            ruleEnd = max(ruleEnd, until.addingTimeInterval(duration + 86_400))
        }
        zones.cover(zone, series.firstStart, ruleEnd)

        // The rule's times are local times (so that they follow daylight saving), and a reader takes
        // a local time in the hour repeated when clocks go back as its first pass: an occurrence
        // booked in the second pass (only a first start can be) is not where the rule puts it and
        // gets an override, and the master's end is its start as read plus the length.
        func asRead(_ date: Date) -> Date {
            zone.timeZone.map { LocalDateTime(date, in: $0).instant(in: $0) } ?? date
        }
        var exceptionDates: [Date] = []
        var overrides: [Event] = []
        for meeting in occurrences {
            let original = originalStarts[meeting.id] ?? ruleStart(of: meeting, in: series, zone: zone) ?? meeting.start
            if meeting.status == .cancelled {
                exceptionDates.append(original)
                zones.cover(zone, original)
                continue
            }
            let end = max(meeting.start, meeting.end)
            let moved = epochSeconds(meeting.start) != epochSeconds(asRead(original))
            let resized = epochSeconds(end) - epochSeconds(meeting.start) != Int64(duration)
            let newAgenda = nonEmpty(meeting.agenda) != nonEmpty(series.agenda)
            guard moved || resized || newAgenda else { continue }
            let meetingZone = zones.zone(meeting.timeZone)
            zones.cover(zone, original)
            zones.cover(meetingZone, meeting.start, end)
            let recurrenceID = dateTimeLine("RECURRENCE-ID", [original], zone: zone)
            var lines = ["BEGIN:VEVENT", "UID:" + seriesUID, "DTSTAMP:" + stamp, recurrenceID]
            lines += meetingLines(meeting, zone: meetingZone, end: end)
            lines.append("END:VEVENT")
            overrides.append(Event(start: epochSeconds(meeting.start), uid: seriesUID, recurrenceID: recurrenceID, lines: lines))
        }

        var master = ["BEGIN:VEVENT", "UID:" + seriesUID, "DTSTAMP:" + stamp]
        if let created = occurrences.map(\.createdAt).min() {
            master.append("CREATED:" + utcDateTime(created))
        }
        if let modified = occurrences.map(\.updatedAt).max() {
            master.append("LAST-MODIFIED:" + utcDateTime(modified))
        }
        master += [
            dateTimeLine("DTSTART", [series.firstStart], zone: zone),
            exactDateTimeLine("DTEND", asRead(series.firstStart).addingTimeInterval(duration), zone: zone),
            "RRULE:" + rule(everyWeeks: weeks, count: series.count, until: series.until),
        ]
        if !exceptionDates.isEmpty {
            let unique = Dictionary(exceptionDates.map { (epochSeconds($0), $0) }, uniquingKeysWith: { first, _ in first })
            master.append(dateTimeLine("EXDATE", unique.keys.sorted().compactMap { unique[$0] }, zone: zone))
        }
        master.append("SUMMARY:" + text(summary))
        if let agenda = nonEmpty(series.agenda) {
            master.append("DESCRIPTION:" + text(agenda))
        }
        if let first = occurrences.first {
            master += videoLines(first.videoURL)
        }
        master += [
            "SEQUENCE:\(max(0, occurrences.map(\.sequence).reduce(series.sequence, max)))",
            "STATUS:" + (series.cancelled ? "CANCELLED" : "CONFIRMED"),
            "END:VEVENT",
        ]
        return [Event(start: epochSeconds(series.firstStart), uid: seriesUID, recurrenceID: "", lines: master)] + overrides
    }

    /// The start the rule gives occurrence `meeting.occurrence`: the first start's local time,
    /// `occurrence × everyWeeks` weeks later, in the series zone.
    private static func ruleStart(of meeting: Meeting, in series: CalendarSeries, zone: EventZone) -> Date? {
        guard let index = meeting.occurrence, index >= 0, index <= 10_000 else { return nil }
        let days = index * max(1, series.everyWeeks) * 7
        guard let timeZone = zone.timeZone else {
            return series.firstStart.addingTimeInterval(TimeInterval(days * 86_400))
        }
        let local = LocalDateTime(series.firstStart, in: timeZone).adding(days: days)
        return local.instant(in: timeZone)
    }

    private static func nonEmpty(_ string: String?) -> String? {
        guard let string, !string.isEmpty else { return nil }
        return string
    }

    // MARK: Time zones

    /// The zone an event's times are written in: a TZID with a VTIMEZONE, or UTC (`timeZone` nil).
    private struct EventZone {
        var id: String
        var timeZone: TimeZone?
    }

    /// The instants written in one zone, which its VTIMEZONE must cover.
    private struct ZoneSpan {
        var id: String
        var timeZone: TimeZone
        var earliest: Date
        var latest: Date
    }

    /// Resolves zone identifiers once and collects, per zone, the span of times written in it.
    private struct ZoneTable {
        /// Identifiers written as UTC (`Z`) rather than with a VTIMEZONE.
        static let utcIdentifiers: Set<String> = [
            "UTC", "Etc/UTC", "GMT", "Etc/GMT", "UCT", "Etc/UCT", "Zulu", "Etc/Zulu", "Universal", "Etc/Universal",
            "Greenwich", "Etc/Greenwich", "GMT0", "Etc/GMT0", "GMT+0", "GMT-0", "Etc/GMT+0", "Etc/GMT-0", "Z",
        ]

        private var resolved: [String: EventZone] = [:]
        private(set) var spans: [String: ZoneSpan] = [:]

        mutating func zone(_ identifier: String) -> EventZone {
            if let zone = resolved[identifier] { return zone }
            let zone: EventZone
            if Self.utcIdentifiers.contains(identifier) || identifier.isEmpty {
                zone = EventZone(id: "UTC", timeZone: nil)
            } else if let timeZone = TimeZone(identifier: identifier) {
                // TZID comes from the identifier asked for; a TZID cannot hold a double quote.
                zone = EventZone(id: String(identifier.unicodeScalars.filter { $0 != "\"" && !isControl($0) }), timeZone: timeZone)
            } else {
                zone = EventZone(id: "UTC", timeZone: nil)
            }
            resolved[identifier] = zone
            return zone
        }

        mutating func cover(_ zone: EventZone, _ dates: Date...) {
            guard let timeZone = zone.timeZone else { return }
            for date in dates {
                if var span = spans[zone.id] {
                    span.earliest = min(span.earliest, date)
                    span.latest = max(span.latest, date)
                    spans[zone.id] = span
                } else {
                    spans[zone.id] = ZoneSpan(id: zone.id, timeZone: timeZone, earliest: date, latest: date)
                }
            }
        }
    }

    /// One STANDARD or DAYLIGHT observance: from `onset` on, the zone is `offsetTo` seconds from UTC.
    private struct Observance {
        var daylight: Bool
        /// Local time of the onset in the offset before it (RFC 5545 §3.6.5).
        var start: LocalDateTime
        var offsetFrom: Int
        var offsetTo: Int
        var name: String?
    }

    /// A VTIMEZONE with one observance per transition from a year before the earliest time written
    /// in the zone to a year after the latest; a single observance from 1970 when the zone has no
    /// transition before the earliest time (zones without daylight saving time).
    private static func timeZoneComponent(_ span: ZoneSpan) -> [String] {
        let zone = span.timeZone
        let year: TimeInterval = 366 * 86_400
        let from = span.earliest.addingTimeInterval(-year)
        let to = span.latest.addingTimeInterval(year)

        var observances: [Observance] = []
        var cursor = from
        var guardCount = 0
        while let transition = zone.nextDaylightSavingTimeTransition(after: cursor), transition <= to, guardCount < 10_000 {
            guardCount += 1
            guard transition > cursor else {
                cursor = cursor.addingTimeInterval(1)
                continue
            }
            cursor = transition
            let offsetFrom = zone.secondsFromGMT(for: transition.addingTimeInterval(-1))
            let offsetTo = zone.secondsFromGMT(for: transition)
            observances.append(
                Observance(
                    daylight: zone.isDaylightSavingTime(for: transition),
                    start: LocalDateTime(epochSeconds: epochSeconds(transition) + Int64(offsetFrom)),
                    offsetFrom: offsetFrom, offsetTo: offsetTo,
                    name: zoneName(zone, at: transition, daylight: zone.isDaylightSavingTime(for: transition))
                )
            )
        }
        if observances.first.map({ localInstant($0) > epochSeconds(span.earliest) }) ?? true {
            let offset = zone.secondsFromGMT(for: from)
            observances.insert(
                Observance(
                    daylight: zone.isDaylightSavingTime(for: from),
                    start: LocalDateTime(year: 1970, month: 1, day: 1, hour: 0, minute: 0, second: 0),
                    offsetFrom: offset, offsetTo: offset, name: zoneName(zone, at: from, daylight: zone.isDaylightSavingTime(for: from))
                ),
                at: 0
            )
        }

        var lines = ["BEGIN:VTIMEZONE", "TZID:" + text(span.id)]
        for observance in observances {
            let kind = observance.daylight ? "DAYLIGHT" : "STANDARD"
            lines += [
                "BEGIN:" + kind,
                "DTSTART:" + observance.start.ical,
                "TZOFFSETFROM:" + utcOffset(observance.offsetFrom),
                "TZOFFSETTO:" + utcOffset(observance.offsetTo),
            ]
            if let name = observance.name.map(text), !name.isEmpty {
                lines.append("TZNAME:" + name)
            }
            lines.append("END:" + kind)
        }
        lines.append("END:VTIMEZONE")
        return lines
    }

    /// The TZNAME of an observance: `abbreviation(for:)`, unless that is only an offset (`GMT-5`,
    /// as it always is on Linux) and the zone has a short English name for the kind (`EST`).
    private static func zoneName(_ zone: TimeZone, at date: Date, daylight: Bool) -> String? {
        let abbreviation = zone.abbreviation(for: date)
        guard abbreviation?.hasPrefix("GMT") ?? true,
            let name = zone.localizedName(for: daylight ? .shortDaylightSaving : .shortStandard, locale: englishLocale),
            !name.hasPrefix("GMT"), !name.hasPrefix("UTC")
        else { return abbreviation }
        return name
    }

    private static let englishLocale = Locale(identifier: "en_US")

    /// The UTC instant (seconds) an observance starts at.
    private static func localInstant(_ observance: Observance) -> Int64 {
        observance.start.epochSeconds - Int64(observance.offsetFrom)
    }

    /// `±HHMM`, with seconds only when nonzero (`+0000` for UTC: RFC 5545 forbids `-0000`).
    static func utcOffset(_ seconds: Int) -> String {
        let sign = seconds < 0 ? "-" : "+"
        let magnitude = abs(seconds)
        var result = sign + LocalDays.padded(Int64(magnitude / 3600), 2) + LocalDays.padded(Int64(magnitude / 60 % 60), 2)
        if magnitude % 60 != 0 {
            result += LocalDays.padded(Int64(magnitude % 60), 2)
        }
        return result
    }

    // MARK: Values

    /// `NAME;TZID=zone:local[,local…]`, or `NAME:utcZ[,utcZ…]` for UTC.
    private static func dateTimeLine(_ name: String, _ dates: [Date], zone: EventZone) -> String {
        guard let timeZone = zone.timeZone else {
            return name + ":" + dates.map(utcDateTime).joined(separator: ",")
        }
        return name + ";TZID=" + parameter(zone.id) + ":" + dates.map { LocalDateTime($0, in: timeZone).ical }.joined(separator: ",")
    }

    /// Like `dateTimeLine`, but in UTC when the local time would name another instant: the second
    /// pass through the hour repeated when clocks go back (a local time means the first).
    private static func exactDateTimeLine(_ name: String, _ date: Date, zone: EventZone) -> String {
        if let timeZone = zone.timeZone, epochSeconds(LocalDateTime(date, in: timeZone).instant(in: timeZone)) != epochSeconds(date) {
            return name + ":" + utcDateTime(date)
        }
        return dateTimeLine(name, [date], zone: zone)
    }

    /// `YYYYMMDDTHHMMSSZ`, to the second (fractions are dropped).
    static func utcDateTime(_ date: Date) -> String {
        LocalDateTime(epochSeconds: epochSeconds(date)).ical + "Z"
    }

    /// Whole seconds since 1970, clamped to years 1–9999 so that odd input cannot trap.
    static func epochSeconds(_ date: Date) -> Int64 {
        let seconds = date.timeIntervalSince1970
        guard seconds.isFinite else { return 0 }
        return Int64(min(max(seconds, -62_135_596_800), 253_402_300_799).rounded(.down))
    }

    /// A TEXT value (RFC 5545 §3.3.11): backslash, semicolon and comma escaped, line breaks as `\n`,
    /// other control characters dropped.
    static func text(_ value: String) -> String {
        var escaped = String.UnicodeScalarView()
        var afterCR = false
        for scalar in value.unicodeScalars {
            defer { afterCR = scalar == "\r" }
            switch scalar {
            case "\\": escaped.append(contentsOf: #"\\"#.unicodeScalars)
            case ";": escaped.append(contentsOf: #"\;"#.unicodeScalars)
            case ",": escaped.append(contentsOf: #"\,"#.unicodeScalars)
            case "\r": escaped.append(contentsOf: #"\n"#.unicodeScalars)
            case "\n":
                if !afterCR { escaped.append(contentsOf: #"\n"#.unicodeScalars) }
            case "\t": escaped.append(scalar)
            default:
                if !isControl(scalar) { escaped.append(scalar) }
            }
        }
        return String(escaped)
    }

    /// A parameter value: quoted when it holds `:`, `;` or `,` (double quotes and controls dropped).
    private static func parameter(_ value: String) -> String {
        let clean = String(String.UnicodeScalarView(value.unicodeScalars.filter { $0 != "\"" && !isControl($0) }))
        return clean.contains(where: { $0 == ":" || $0 == ";" || $0 == "," }) ? "\"" + clean + "\"" : clean
    }

    /// RFC 5545's CONTROL: every ASCII control character but horizontal tab.
    private static func isControl(_ scalar: Unicode.Scalar) -> Bool {
        (scalar.value < 0x20 && scalar != "\t") || scalar.value == 0x7F
    }

    /// Folds a content line (RFC 5545 §3.1): at most 75 octets per physical line, continued after
    /// CRLF and one space, never inside a UTF-8 sequence.
    static func fold(_ line: String) -> String {
        guard line.utf8.count > 75 else { return line }
        var folded = String.UnicodeScalarView()
        var octets = 0
        for scalar in line.unicodeScalars {
            let width = UTF8.width(scalar)
            if octets + width > 75 {
                folded.append(contentsOf: "\r\n ".unicodeScalars)
                octets = 1
            }
            folded.append(scalar)
            octets += width
        }
        return String(folded)
    }

}

/// A wall-clock date and time, to the second, in no particular zone (proleptic Gregorian).
private struct LocalDateTime: Comparable {
    var year: Int
    var month: Int
    var day: Int
    var hour: Int
    var minute: Int
    var second: Int

    init(year: Int, month: Int, day: Int, hour: Int, minute: Int, second: Int) {
        self.year = year
        self.month = month
        self.day = day
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// The wall-clock time `epochSeconds` seconds after 1970-01-01T00:00:00.
    init(epochSeconds: Int64) {
        let days = LocalDays.day(ofLocal: epochSeconds)
        let secondOfDay = Int(epochSeconds - days * LocalDays.secondsPerDay)
        let (year, month, day) = LocalDays.civil(days)
        (self.year, self.month, self.day) = (Int(year), Int(month), Int(day))
        hour = secondOfDay / 3600
        minute = secondOfDay / 60 % 60
        second = secondOfDay % 60
    }

    /// The local time of `date` in `timeZone`.
    init(_ date: Date, in timeZone: TimeZone) {
        self.init(epochSeconds: ICalendar.epochSeconds(date) + Int64(timeZone.secondsFromGMT(for: date)))
    }

    /// Seconds since 1970-01-01T00:00:00 of this wall-clock time read as UTC.
    var epochSeconds: Int64 {
        LocalDays.days(year: Int64(year), month: Int64(month), day: Int64(day)) * LocalDays.secondsPerDay + Int64(hour * 3600 + minute * 60 + second)
    }

    func adding(days: Int) -> LocalDateTime {
        LocalDateTime(epochSeconds: epochSeconds + Int64(days) * 86_400)
    }

    /// The instant this wall-clock time names in `timeZone`, read as RFC 5545 §3.3.5 reads it:
    /// a time repeated when clocks go back is the first of the two; a time skipped when they go
    /// forward is read with the offset before the change.
    func instant(in timeZone: TimeZone) -> Date {
        let local = epochSeconds
        func offset(_ seconds: Int64) -> Int64 {
            Int64(timeZone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(seconds))))
        }
        // Zones change offset at most once within a couple of days: the offsets a day either side.
        let before = offset(local - 86_400 - 14 * 3600)
        let after = offset(local + 86_400 + 14 * 3600)
        let candidates = [local - before, local - after].filter { offset($0) == local - $0 }
        return Date(timeIntervalSince1970: TimeInterval(candidates.min() ?? local - before))
    }

    /// `YYYYMMDDTHHMMSS`.
    var ical: String {
        LocalDays.padded(Int64(year), 4) + LocalDays.padded(Int64(month), 2) + LocalDays.padded(Int64(day), 2) + "T" + LocalDays.padded(Int64(hour), 2)
            + LocalDays.padded(Int64(minute), 2) + LocalDays.padded(Int64(second), 2)
    }

    static func < (lhs: LocalDateTime, rhs: LocalDateTime) -> Bool {
        lhs.epochSeconds < rhs.epochSeconds
    }
}
