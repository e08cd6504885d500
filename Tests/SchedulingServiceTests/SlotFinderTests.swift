import Foundation
import TandemProtocols
import TandemRandom
import Testing
@testable import SchedulingService

/// Instants from UTC wall-clock text, `2026-03-10 13:00`.
func utc(_ text: String) -> Int64 {
    let parts = text.split(separator: " ")
    let day = LocalDays.day(of: String(parts[0]))!
    let clock = parts[1].split(separator: ":").map { Int64($0)! }
    return day * 86_400 + clock[0] * 3600 + clock[1] * 60
}

func utcText(_ instant: Int64) -> String {
    String(LocalDays.localText(instant).map { $0 == "T" ? " " : $0 })
}

func availability(_ zone: String, person: UUID = UUID(), start: Int = 9 * 60, end: Int = 17 * 60, days: [Int] = [1, 2, 3, 4, 5],
                  windows: [WeeklyWindow] = [], exceptions: [AvailabilityException] = [], outside: Bool = false) -> Availability {
    Availability(personID: person, timeZone: zone, workingHours: WorkingHours(days: days, startMinute: start, endMinute: end),
                 windows: windows, exceptions: exceptions, acceptsOutsideWorkingHours: outside)
}

func finder(_ mentor: Availability, _ mentee: Availability, minutes: Int = 60, step: Int = 60, limit: Int = 100,
            burden: (Double, Double) = (0, 0), busy: ([Interval], [Interval]) = ([], []), buffer: Int = 0) -> SlotFinder {
    SlotFinder(
        mentor: .init(calendar: PersonCalendar(mentor)!, busy: busy.0, burden: burden.0),
        mentee: .init(calendar: PersonCalendar(mentee)!, busy: busy.1, burden: burden.1),
        durationSeconds: Int64(minutes) * 60, stepSeconds: Int64(step) * 60, bufferSeconds: Int64(buffer) * 60, limit: limit
    )
}

func starts(_ result: SlotFinder.Result) -> [String] {
    result.slots.map { utcText(Int64($0.start.timeIntervalSince1970)) }.sorted()
}

@Suite("Time zones, availability and fair slots")
struct SlotFinderTests {
    @Test("calendar arithmetic: weekdays, dates, round trips")
    func days() {
        #expect(LocalDays.weekday(0) == 4, "1970-01-01 was a Thursday")
        #expect(LocalDays.dateString(LocalDays.day(of: "2026-03-08")!) == "2026-03-08")
        #expect(LocalDays.weekday(LocalDays.day(of: "2026-03-08")!) == 7)
        #expect(LocalDays.day(of: "2026-02-29") == nil && LocalDays.day(of: "2028-02-29") != nil && LocalDays.day(of: "1969-12-31") == -1)
        #expect(LocalDays.localText(utc("2026-11-01 05:30")) == "2026-11-01T05:30")
    }

    @Test("Offsets cut from a zone's century table are those Foundation gives for the range itself")
    func offsetTables() {
        var random = SplitMix64(seed: 7)
        for name in ["America/New_York", "Europe/London", "Asia/Kolkata", "Australia/Lord_Howe", "America/Sao_Paulo", "Pacific/Chatham", "UTC", "Africa/Casablanca"] {
            let zone = Zones.zone(name)!
            for _ in 0..<40 {
                let from = utc("2001-01-01 00:00") + Int64(random.next() % (90 * 365 * 86_400))
                let to = from + Int64(random.next() % (400 * 86_400))
                let cut = ZoneOffsets(zone: zone, from: from, to: to).segments
                let asked = ZoneOffsets.computed(zone: zone, from: from, to: to)
                #expect(cut.map(\.start) == asked.map(\.start), "\(name) \(utcText(from))…\(utcText(to))")
                #expect(cut.map(\.offset) == asked.map(\.offset), "\(name) \(utcText(from))…\(utcText(to))")
            }
            // Ranges that start or end at a transition, a second before it or a second after it.
            for transition in ZoneOffsets.table(for: zone).dropFirst().map(\.start).filter({ $0 > utc("2020-01-01 00:00") }).prefix(6) {
                for (from, to) in [(transition - 86_400, transition - 1), (transition - 86_400, transition), (transition, transition + 86_400),
                                   (transition + 1, transition + 86_400), (transition - 1, transition + 1)] {
                    let cut = ZoneOffsets(zone: zone, from: from, to: to).segments
                    let asked = ZoneOffsets.computed(zone: zone, from: from, to: to)
                    #expect(cut.map(\.start) == asked.map(\.start) && cut.map(\.offset) == asked.map(\.offset), "\(name) \(from)…\(to)")
                }
            }
        }
        // Outside the table's century, Foundation is asked directly.
        let zone = Zones.zone("Europe/London")!
        let old = ZoneOffsets(zone: zone, from: utc("1990-01-01 00:00"), to: utc("1990-12-31 00:00"))
        #expect(old.offset(at: utc("1990-07-01 12:00")) == 3600 && old.offset(at: utc("1990-12-01 12:00")) == 0)
    }

    @Test("New York's clocks: the spring gap moves forward, the autumn overlap takes the first instant")
    func newYorkTransitions() {
        let zone = Zones.zone("America/New_York")!
        let offsets = ZoneOffsets(zone: zone, from: utc("2026-01-01 00:00"), to: utc("2026-12-31 00:00"))
        #expect(offsets.offset(at: utc("2026-03-08 06:59")) == -5 * 3600)
        #expect(offsets.offset(at: utc("2026-03-08 07:00")) == -4 * 3600)
        #expect(offsets.offset(at: utc("2026-11-01 05:59")) == -4 * 3600)
        #expect(offsets.offset(at: utc("2026-11-01 06:00")) == -5 * 3600)
        // 02:30 on 8 March does not exist: it becomes 03:30 EDT.
        #expect(utcText(offsets.instant(local: utc("2026-03-08 02:30"))) == "2026-03-08 07:30")
        // 01:30 on 1 November happens twice: the first (EDT) is taken.
        #expect(utcText(offsets.instant(local: utc("2026-11-01 01:30"))) == "2026-11-01 05:30")
        #expect(utcText(offsets.instant(local: utc("2026-07-01 09:00"))) == "2026-07-01 13:00")
    }

    @Test("New York and London overlap 3 hours most of the year and 4 in the weeks only one has changed clocks")
    func newYorkLondon() {
        let london = availability("Europe/London")
        let newYork = availability("America/New_York")
        // Tuesday 3 March 2026: 5 hours apart; NY 09:00-12:00 = London 14:00-17:00.
        let before = finder(london, newYork).find(from: utc("2026-03-03 00:00"), to: utc("2026-03-04 00:00"))
        #expect(starts(before) == ["2026-03-03 14:00", "2026-03-03 15:00", "2026-03-03 16:00"])
        // Tuesday 10 March 2026: New York is on summer time, London is not yet: 4 hours apart.
        let between = finder(london, newYork).find(from: utc("2026-03-10 00:00"), to: utc("2026-03-11 00:00"))
        #expect(starts(between) == ["2026-03-10 13:00", "2026-03-10 14:00", "2026-03-10 15:00", "2026-03-10 16:00"])
        // Tuesday 31 March 2026: both on summer time, 5 hours apart again (London 09:00 = 08:00 UTC).
        let after = finder(london, newYork).find(from: utc("2026-03-31 00:00"), to: utc("2026-04-01 00:00"))
        #expect(starts(after) == ["2026-03-31 13:00", "2026-03-31 14:00", "2026-03-31 15:00"])
        // Late October: London back on GMT (25 Oct), New York not until 1 November: 4 hours again.
        let autumn = finder(london, newYork).find(from: utc("2026-10-27 00:00"), to: utc("2026-10-28 00:00"))
        #expect(starts(autumn) == ["2026-10-27 13:00", "2026-10-27 14:00", "2026-10-27 15:00", "2026-10-27 16:00"])
        #expect(before.slots.allSatisfy { $0.score == 0 } && before.slots.first?.explanation.hasPrefix("Within both") == true)
    }

    @Test("half-hour and quarter-hour zones: Kolkata (+5:30) and Kathmandu (+5:45)")
    func halfHourZones() {
        let london = availability("Europe/London")
        // London 09:00-17:00 GMT and Kolkata 09:00-17:00 IST (03:30-11:30 UTC) share 09:00-11:30 UTC.
        let kolkata = finder(london, availability("Asia/Kolkata"), minutes: 30, step: 30).find(from: utc("2026-01-13 00:00"), to: utc("2026-01-14 00:00"))
        #expect(starts(kolkata) == ["2026-01-13 09:00", "2026-01-13 09:30", "2026-01-13 10:00", "2026-01-13 10:30", "2026-01-13 11:00"])
        let view = kolkata.slots.first { utcText(Int64($0.start.timeIntervalSince1970)) == "2026-01-13 09:00" }!
        #expect(view.participants[1].localStart == "2026-01-13T14:30" && view.participants[1].timeZone == "Asia/Kolkata")
        // Kathmandu 09:00-17:00 is 03:15-11:15 UTC: with 15-minute steps the last 30-minute slot starts 10:45.
        let kathmandu = finder(london, availability("Asia/Kathmandu"), minutes: 30, step: 15).find(from: utc("2026-01-13 00:00"), to: utc("2026-01-14 00:00"))
        #expect(starts(kathmandu).first == "2026-01-13 09:00" && starts(kathmandu).last == "2026-01-13 10:45")
        #expect(kathmandu.candidates == 8)
    }

    @Test("time off removes slots, extra hours add them, busy time and its buffer are excluded")
    func exceptionsAndBusy() {
        let london = availability("Europe/London", exceptions: [
            AvailabilityException(date: "2026-01-13", available: false, startMinute: 9 * 60, endMinute: 12 * 60),
            AvailabilityException(date: "2026-01-17", available: true, startMinute: 10 * 60, endMinute: 12 * 60, note: "Saturday catch-up"),
            AvailabilityException(date: "2026-01-14", available: false),
        ])
        let other = availability("Europe/Dublin", days: [1, 2, 3, 4, 5, 6])
        let week = finder(london, other).find(from: utc("2026-01-12 00:00"), to: utc("2026-01-19 00:00"))
        let days = Dictionary(grouping: starts(week), by: { String($0.prefix(10)) }).mapValues(\.count)
        #expect(days == ["2026-01-12": 8, "2026-01-13": 5, "2026-01-15": 8, "2026-01-16": 8, "2026-01-17": 2])
        // A meeting 13:00-14:00 with a 30-minute buffer blocks the slots from 12:00 to 15:00.
        let busy = finder(london, other, busy: ([Interval(start: utc("2026-01-12 13:00"), end: utc("2026-01-12 14:00"))], []), buffer: 30)
            .find(from: utc("2026-01-12 00:00"), to: utc("2026-01-13 00:00"))
        #expect(starts(busy) == ["2026-01-12 09:00", "2026-01-12 10:00", "2026-01-12 11:00", "2026-01-12 15:00", "2026-01-12 16:00"])
    }

    @Test("text built byte by byte: padded numbers, tenths, clocks and local times")
    func text() {
        #expect(LocalDays.padded(0, 2) == "00" && LocalDays.padded(7, 4) == "0007" && LocalDays.padded(12_345, 2) == "12345")
        #expect(LocalDays.padded(-5, 3) == "-005" && LocalDays.padded(Int64.min, 1) == "-9223372036854775808")
        var tenths = TextBuilder(capacity: 32)
        for value in [0, 2, 0.25, 1.04, -0.5, -1.0, 12] {
            tenths.appendTenths(value)
            tenths.append(" ")
        }
        #expect(tenths.string == "0 2 0.3 1 -0.5 -1 12 ")
        #expect(LocalDays.localText(utc("1969-12-31 23:59")) == "1969-12-31T23:59" && LocalDays.dateString(0) == "1970-01-01")
        var clock = TextBuilder(capacity: 16)
        clock.appendMinutes(1440)
        clock.append(" ")
        clock.appendClock(utc("2026-03-10 07:05"))
        #expect(clock.string == "24:00 07:05")
    }

    @Test("outside working hours: only when accepted, scored by distance, night and day off, and explained")
    func inconvenience() {
        // New York and Sydney share no working hours; both accept evenings and mornings.
        let newYork = availability("America/New_York", windows: (1...5).map { WeeklyWindow(day: $0, startMinute: 7 * 60, endMinute: 22 * 60) }, outside: true)
        let sydney = availability("Australia/Sydney", windows: (1...5).map { WeeklyWindow(day: $0, startMinute: 7 * 60, endMinute: 22 * 60) }, outside: true)
        let strict = availability("Australia/Sydney")
        #expect(finder(newYork, strict).find(from: utc("2026-05-11 00:00"), to: utc("2026-05-16 00:00")).candidates > 0, "New York stretches into Sydney's day")
        #expect(finder(availability("America/New_York"), strict).find(from: utc("2026-05-11 00:00"), to: utc("2026-05-16 00:00")).candidates == 0)

        let result = finder(newYork, sydney, limit: 3).find(from: utc("2026-05-11 00:00"), to: utc("2026-05-16 00:00"))
        let best = result.slots[0]
        #expect(best.score > 0)
        #expect(best.participants.contains { $0.reasons.contains { $0.contains("after working hours") || $0.contains("before working hours") } })
        #expect(best.explanation.contains("America/New_York") && best.explanation.contains("Australia/Sydney"))
        // Scores grow with distance from working hours: a slot ending at 19:00 local beats one ending at 21:00.
        let calendar = PersonCalendar(newYork)!
        let offsets = ZoneOffsets(zone: calendar.zone, from: utc("2026-05-10 00:00"), to: utc("2026-05-20 00:00"))
        let early = calendar.score(start: utc("2026-05-11 22:00"), end: utc("2026-05-11 23:00"), offsets: offsets)   // 18:00-19:00 EDT
        let late = calendar.score(start: utc("2026-05-12 00:00"), end: utc("2026-05-12 01:00"), offsets: offsets)    // 20:00-21:00 EDT
        let night = calendar.score(start: utc("2026-05-12 02:30"), end: utc("2026-05-12 03:30"), offsets: offsets)   // 22:30-23:30 EDT
        let saturday = calendar.score(start: utc("2026-05-16 14:00"), end: utc("2026-05-16 15:00"), offsets: offsets)
        #expect(early == 2 && late == 2 && night == 4 && saturday == 4)
        #expect(calendar.score(start: utc("2026-05-11 14:00"), end: utc("2026-05-11 15:00"), offsets: offsets) == 0)
        let (_, reasons, _, _) = calendar.inconvenience(start: utc("2026-05-12 02:30"), end: utc("2026-05-12 03:30"), offsets: offsets)
        #expect(reasons.contains { $0.contains("at night") })
    }

    @Test("fairness: the person who has carried more inconvenience gets the easier slot")
    func fairness() {
        // New York (13:00-21:00 UTC at work) and Noumea (22:00-06:00 UTC) never share working
        // hours; the hour either side is inconvenient for exactly one of them.
        let newYork = availability("America/New_York", windows: (1...5).map { WeeklyWindow(day: $0, startMinute: 7 * 60, endMinute: 22 * 60) }, outside: true)
        let noumea = availability("Pacific/Noumea", windows: (1...5).map { WeeklyWindow(day: $0, startMinute: 7 * 60, endMinute: 22 * 60) }, outside: true)
        func best(_ burden: (Double, Double)) -> Slot {
            finder(newYork, noumea, limit: 1, burden: burden).find(from: utc("2026-05-11 00:00"), to: utc("2026-05-16 00:00")).slots[0]
        }
        let mentorCarried = best((12, 0))
        let menteeCarried = best((0, 12))
        #expect(mentorCarried.participants.map(\.inconvenience) == [0, 2], "the mentee takes the awkward hour this time")
        #expect(menteeCarried.participants.map(\.inconvenience) == [2, 0], "and the mentor when the mentee has carried more")
        #expect(mentorCarried.explanation.contains("the mentor has carried more so far (12 vs 0)"))
        // The whole text of the slot, both views and the explanation.
        #expect(mentorCarried.explanation == "Outside working hours for the mentee (mentor 0, mentee 2); the mentor has carried more so far (12 vs 0); "
            + "after it: mentor 12, mentee 2. Mentor 16:00–17:00 America/New_York, mentee 07:00–08:00 Pacific/Noumea.")
        #expect(mentorCarried.participants.map(\.localStart) == ["2026-05-11T16:00", "2026-05-12T07:00"])
        #expect(mentorCarried.participants.map(\.localEnd) == ["2026-05-11T17:00", "2026-05-12T08:00"])
        #expect(mentorCarried.participants.map(\.reasons) == [["within working hours"], ["60 min before working hours (starts 07:00, work starts 09:00)"]])
        let halves = finder(newYork, noumea, limit: 1, burden: (0.25, 1.5)).find(from: utc("2026-05-11 00:00"), to: utc("2026-05-16 00:00")).slots[0]
        #expect(halves.explanation.hasPrefix("Outside working hours for the mentor (mentor 2, mentee 0); the mentee has carried more so far (0.3 vs 1.5); after it: mentor 2.3, mentee 1.5."))
        // With no history the total inconvenience decides, and both orders agree.
        let fresh = finder(newYork, noumea, limit: 5).find(from: utc("2026-05-11 00:00"), to: utc("2026-05-16 00:00")).slots
        #expect(fresh.map(\.score) == fresh.map(\.score).sorted())
    }

    @Test("weekly series keep their local time across daylight-saving changes")
    func recurrence() {
        let zone = Zones.zone("America/New_York")!
        let weekly = Recurrence.starts(first: utc("2026-03-02 14:00"), zone: zone, everyWeeks: 1, count: 3, until: nil)
        #expect(weekly.map(utcText) == ["2026-03-02 14:00", "2026-03-09 13:00", "2026-03-16 13:00"])
        let fortnightly = Recurrence.starts(first: utc("2026-10-19 13:00"), zone: zone, everyWeeks: 2, count: nil, until: utc("2026-11-20 00:00"))
        #expect(fortnightly.map(utcText) == ["2026-10-19 13:00", "2026-11-02 14:00", "2026-11-16 14:00"])
        let kolkata = Recurrence.starts(first: utc("2026-03-02 04:30"), zone: Zones.zone("Asia/Kolkata")!, everyWeeks: 1, count: 2, until: nil)
        #expect(kolkata.map(utcText) == ["2026-03-02 04:30", "2026-03-09 04:30"])
    }

    @Test("a series' first occurrence is its first start, also in the second pass through the hour repeated when clocks go back")
    func recurrenceFromTheRepeatedHour() {
        // 01:30 GMT on 25 October 2026, an hour after 01:30 BST: London's clocks went back at 02:00 BST.
        let london = Recurrence.starts(first: utc("2026-10-25 01:30"), zone: Zones.zone("Europe/London")!, everyWeeks: 1, count: 2, until: nil)
        #expect(london.map(utcText) == ["2026-10-25 01:30", "2026-11-01 01:30"])
    }

    @Test("interval arithmetic")
    func intervals() {
        let a = [Interval(start: 0, end: 10), Interval(start: 20, end: 30)]
        let b = [Interval(start: 5, end: 25)]
        #expect(Intervals.intersect(a, b) == [Interval(start: 5, end: 10), Interval(start: 20, end: 25)])
        #expect(Intervals.subtract(a, b) == [Interval(start: 0, end: 5), Interval(start: 25, end: 30)])
        #expect(Intervals.normalize([Interval(start: 5, end: 7), Interval(start: 0, end: 5), Interval(start: 9, end: 9)]) == [Interval(start: 0, end: 7)])
        #expect(Intervals.subtract([Interval(start: 0, end: 10)], [Interval(start: 0, end: 3), Interval(start: 4, end: 5), Interval(start: 9, end: 12)])
                == [Interval(start: 3, end: 4), Interval(start: 5, end: 9)])
    }
}
