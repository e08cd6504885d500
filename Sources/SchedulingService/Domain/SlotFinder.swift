import Foundation
import TandemProtocols

/// A half-open span of instants, `[start, end)`, in seconds since 1970.
struct Interval: Equatable, Sendable {
    var start: Int64
    var end: Int64

    var isEmpty: Bool { end <= start }
}

enum Intervals {
    /// Sorts and merges overlapping or touching intervals.
    static func normalize(_ intervals: [Interval]) -> [Interval] {
        let sorted = intervals.filter { !$0.isEmpty }.sorted { $0.start < $1.start }
        var result: [Interval] = []
        result.reserveCapacity(sorted.count)
        for interval in sorted {
            if let last = result.last, interval.start <= last.end {
                result[result.count - 1].end = max(last.end, interval.end)
            } else {
                result.append(interval)
            }
        }
        return result
    }

    /// Both normalized; the instants in both.
    static func intersect(_ a: [Interval], _ b: [Interval]) -> [Interval] {
        var result: [Interval] = []
        var i = 0
        var j = 0
        while i < a.count && j < b.count {
            let start = max(a[i].start, b[j].start)
            let end = min(a[i].end, b[j].end)
            if start < end { result.append(Interval(start: start, end: end)) }
            if a[i].end < b[j].end { i += 1 } else { j += 1 }
        }
        return result
    }

    /// `a` normalized, `b` normalized: the instants of `a` not in `b`.
    static func subtract(_ a: [Interval], _ b: [Interval]) -> [Interval] {
        var result: [Interval] = []
        var j = 0
        for interval in a {
            var start = interval.start
            while j < b.count && b[j].end <= start { j += 1 }
            var k = j
            while k < b.count && b[k].start < interval.end {
                if b[k].start > start { result.append(Interval(start: start, end: b[k].start)) }
                start = max(start, b[k].end)
                k += 1
            }
            if start < interval.end { result.append(Interval(start: start, end: interval.end)) }
        }
        return result
    }
}

/// A person's availability, ready to turn into instants.
struct PersonCalendar: Sendable {
    let personID: UUID
    let zone: TimeZone
    let workingHours: WorkingHours
    /// Bit `d` set for each ISO weekday `d` (1…7) that is a working day.
    let workingDays: UInt8
    /// Local minute ranges per ISO weekday (index 1…7).
    let windows: [[(Int, Int)]]
    /// Exceptions by local day number.
    let exceptions: [Int64: [AvailabilityException]]
    let acceptsOutsideWorkingHours: Bool

    init?(_ availability: Availability) {
        guard let zone = Zones.zone(availability.timeZone) else { return nil }
        personID = availability.personID
        self.zone = zone
        workingHours = availability.workingHours
        workingDays = availability.workingHours.days.reduce(0) { (1...7).contains($1) ? $0 | UInt8(1) << $1 : $0 }
        var windows = [[(Int, Int)]](repeating: [], count: 8)
        if availability.windows.isEmpty {
            for day in availability.workingHours.days where (1...7).contains(day) {
                windows[day].append((availability.workingHours.startMinute, availability.workingHours.endMinute))
            }
        } else {
            for window in availability.windows where (1...7).contains(window.day) {
                windows[window.day].append((window.startMinute, window.endMinute))
            }
        }
        self.windows = windows
        var exceptions: [Int64: [AvailabilityException]] = [:]
        for exception in availability.exceptions {
            if let day = LocalDays.day(of: exception.date) { exceptions[day, default: []].append(exception) }
        }
        self.exceptions = exceptions
        acceptsOutsideWorkingHours = availability.acceptsOutsideWorkingHours
    }

    func isWorkingDay(_ weekday: Int) -> Bool {
        workingDays & (UInt8(1) << weekday) != 0
    }

    /// The instants in `[from, to)` at which the person can meet.
    func available(from: Int64, to: Int64, offsets: ZoneOffsets) -> [Interval] {
        var result: [Interval] = []
        let firstDay = LocalDays.day(ofLocal: offsets.local(from)) - 1
        let lastDay = LocalDays.day(ofLocal: offsets.local(to)) + 1
        guard lastDay >= firstDay else { return [] }
        for day in firstDay...lastDay {
            let weekday = LocalDays.weekday(day)
            let base = day * LocalDays.secondsPerDay
            if exceptions.isEmpty || exceptions[day] == nil {
                // No exception that day: the weekly windows (within working hours unless the
                // person accepts otherwise), straight to instants; the union is taken at the end.
                guard acceptsOutsideWorkingHours || isWorkingDay(weekday) else { continue }
                for (windowStart, windowEnd) in windows[weekday] {
                    let start = acceptsOutsideWorkingHours ? windowStart : max(windowStart, workingHours.startMinute)
                    let end = acceptsOutsideWorkingHours ? windowEnd : min(windowEnd, workingHours.endMinute)
                    guard start < end else { continue }
                    let interval = Interval(start: max(offsets.instant(local: base + Int64(start) * 60), from),
                                            end: min(offsets.instant(local: base + Int64(end) * 60), to))
                    if !interval.isEmpty { result.append(interval) }
                }
                continue
            }
            var ranges = windows[weekday]
            if !acceptsOutsideWorkingHours {
                if isWorkingDay(weekday) {
                    ranges = ranges.compactMap { range in
                        let start = max(range.0, workingHours.startMinute)
                        let end = min(range.1, workingHours.endMinute)
                        return start < end ? (start, end) : nil
                    }
                } else {
                    ranges = []
                }
            }
            var off: [(Int, Int)] = []
            for exception in exceptions[day] ?? [] {
                let range = (exception.startMinute ?? 0, exception.endMinute ?? 1440)
                if exception.available { ranges.append(range) } else { off.append(range) }
            }
            func toInstants(_ ranges: [(Int, Int)]) -> [Interval] {
                Intervals.normalize(ranges.map {
                    Interval(start: offsets.instant(local: base + Int64($0.0) * 60), end: offsets.instant(local: base + Int64($0.1) * 60))
                })
            }
            let dayIntervals = Intervals.subtract(toInstants(ranges), toInstants(off))
            for interval in dayIntervals {
                let clipped = Interval(start: max(interval.start, from), end: min(interval.end, to))
                if !clipped.isEmpty { result.append(clipped) }
            }
        }
        return Intervals.normalize(result)
    }

    /// How inconvenient `[start, end)` is for this person: 1 point per 30 minutes outside
    /// working hours, night minutes (22:00–07:00) outside them counting twice, 2 points for a
    /// day off.
    func score(start: Int64, end: Int64, offsets: ZoneOffsets) -> Double {
        let measured = measure(start: start, end: end, offsets: offsets)
        return Double(measured.outside + measured.night) / 30 + (measured.offDay ? 2 : 0)
    }

    /// The score, and why, in words.
    func inconvenience(start: Int64, end: Int64, offsets: ZoneOffsets) -> (score: Double, reasons: [String], localStart: Int64, localEnd: Int64) {
        let measured = measure(start: start, end: end, offsets: offsets)
        let (outside, night, localStart, localEnd) = (measured.outside, measured.night, measured.localStart, measured.localEnd)
        var reasons: [String] = []
        if measured.offDay { reasons.append("on a day off") }
        if outside == 0 {
            reasons.append("within working hours")
        } else if !measured.offDay {
            let startMinute = (localStart - LocalDays.day(ofLocal: localStart) * LocalDays.secondsPerDay) / 60
            var text = TextBuilder(capacity: 72)
            text.append(outside)
            if startMinute < Int64(workingHours.startMinute) {
                // "… min before working hours (starts HH:MM, work starts HH:MM)"
                text.append(" min before working hours (starts ")
                text.appendClock(localStart)
                text.append(", work starts ")
                text.appendMinutes(workingHours.startMinute)
            } else {
                // "… min after working hours (ends HH:MM, work ends HH:MM)"
                text.append(" min after working hours (ends ")
                text.appendClock(localEnd)
                text.append(", work ends ")
                text.appendMinutes(workingHours.endMinute)
            }
            text.append(")")
            reasons.append(text.string)
        }
        if night > 0 {
            var text = TextBuilder(capacity: 32)
            text.append(night)
            text.append(" min at night (22:00–07:00)")
            reasons.append(text.string)
        }
        let score = Double(outside + night) / 30 + (measured.offDay ? 2 : 0)
        return (score, reasons, localStart, localEnd)
    }

    private func measure(start: Int64, end: Int64, offsets: ZoneOffsets) -> (outside: Int64, night: Int64, offDay: Bool, localStart: Int64, localEnd: Int64) {
        let localStart = offsets.local(start)
        let localEnd = localStart + (end - start)
        var outside: Int64 = 0
        var night: Int64 = 0
        var offDay = false
        var cursor = localStart
        while cursor < localEnd {
            let day = LocalDays.day(ofLocal: cursor)
            let dayStart = day * LocalDays.secondsPerDay
            let pieceEnd = min(localEnd, dayStart + LocalDays.secondsPerDay)
            let from = (cursor - dayStart) / 60
            let to = (pieceEnd - dayStart) / 60
            let working = isWorkingDay(LocalDays.weekday(day))
            if !working { offDay = true }
            let inside = working ? max(0, min(to, Int64(workingHours.endMinute)) - max(from, Int64(workingHours.startMinute))) : 0
            let outsideHere = (to - from) - inside
            outside += outsideHere
            if outsideHere > 0 {
                // Night minutes (22:00–07:00) outside working hours count twice.
                let nightHere = overlap(from, to, 0, 7 * 60) + overlap(from, to, 22 * 60, 24 * 60)
                let nightInside = working ? overlap(max(from, Int64(workingHours.startMinute)), min(to, Int64(workingHours.endMinute)), 0, 7 * 60)
                    + overlap(max(from, Int64(workingHours.startMinute)), min(to, Int64(workingHours.endMinute)), 22 * 60, 24 * 60) : 0
                night += max(0, nightHere - nightInside)
            }
            cursor = pieceEnd
        }
        return (outside, night, offDay, localStart, localEnd)
    }

    private func overlap(_ a: Int64, _ b: Int64, _ c: Int64, _ d: Int64) -> Int64 {
        max(0, min(b, d) - max(a, c))
    }
}

/// Finds the slots a pair can both attend and ranks them fairly.
struct SlotFinder {
    struct Participant {
        var calendar: PersonCalendar
        var busy: [Interval]
        /// Inconvenience carried in the pair's meetings so far.
        var burden: Double
    }

    /// How much an uneven share of inconvenience weighs against a slot.
    static let fairnessWeight = 0.5

    var mentor: Participant
    var mentee: Participant
    var durationSeconds: Int64
    var stepSeconds: Int64
    var bufferSeconds: Int64
    var limit: Int

    struct Result {
        var slots: [Slot]
        var candidates: Int
    }

    /// Slots in `[from, to)`, best first.
    func find(from: Int64, to: Int64) -> Result {
        guard to > from else { return Result(slots: [], candidates: 0) }
        let mentorOffsets = ZoneOffsets(zone: mentor.calendar.zone, from: from - 2 * 86_400, to: to + 2 * 86_400)
        let menteeOffsets = mentor.calendar.zone.identifier == mentee.calendar.zone.identifier
            ? mentorOffsets : ZoneOffsets(zone: mentee.calendar.zone, from: from - 2 * 86_400, to: to + 2 * 86_400)
        func free(_ participant: Participant, _ offsets: ZoneOffsets) -> [Interval] {
            let available = participant.calendar.available(from: from, to: to, offsets: offsets)
            let blocked = Intervals.normalize(participant.busy.map { Interval(start: $0.start - bufferSeconds, end: $0.end + bufferSeconds) })
            return Intervals.subtract(available, blocked)
        }
        let common = Intervals.intersect(free(mentor, mentorOffsets), free(mentee, menteeOffsets))

        struct Candidate {
            var start: Int64
            var score: Double
            var mentor: Double
            var mentee: Double
        }
        var candidates: [Candidate] = []
        for interval in common {
            // Starts on the step grid (aligned to whole hours in UTC).
            var start = (interval.start + stepSeconds - 1) / stepSeconds * stepSeconds
            while start + durationSeconds <= interval.end {
                let a = mentor.calendar.score(start: start, end: start + durationSeconds, offsets: mentorOffsets)
                let b = mentee.calendar.score(start: start, end: start + durationSeconds, offsets: menteeOffsets)
                candidates.append(Candidate(start: start, score: score(a, b), mentor: a, mentee: b))
                start += stepSeconds
            }
        }
        let best = candidates.sorted { $0.score != $1.score ? $0.score < $1.score : $0.start < $1.start }.prefix(limit)
        let slots = best.map { candidate in
            slot(candidate.start, mentorOffsets: mentorOffsets, menteeOffsets: menteeOffsets)
        }
        return Result(slots: slots, candidates: candidates.count)
    }

    func score(_ mentorInconvenience: Double, _ menteeInconvenience: Double) -> Double {
        mentorInconvenience + menteeInconvenience
            + Self.fairnessWeight * abs((mentor.burden + mentorInconvenience) - (mentee.burden + menteeInconvenience))
    }

    /// A slot with both participants' views and the reasons for its rank.
    func slot(_ start: Int64, mentorOffsets: ZoneOffsets, menteeOffsets: ZoneOffsets) -> Slot {
        let end = start + durationSeconds
        let a = mentor.calendar.inconvenience(start: start, end: end, offsets: mentorOffsets)
        let b = mentee.calendar.inconvenience(start: start, end: end, offsets: menteeOffsets)
        let views = [
            SlotView(personID: mentor.calendar.personID, timeZone: mentor.calendar.zone.identifier, localStart: LocalDays.localText(a.localStart),
                     localEnd: LocalDays.localText(a.localEnd), inconvenience: a.score, reasons: a.reasons),
            SlotView(personID: mentee.calendar.personID, timeZone: mentee.calendar.zone.identifier, localStart: LocalDays.localText(b.localStart),
                     localEnd: LocalDays.localText(b.localEnd), inconvenience: b.score, reasons: b.reasons),
        ]
        var text = TextBuilder(capacity: 256)
        if a.score == 0 && b.score == 0 {
            text.append("Within both participants' working hours")
        } else {
            // "Outside working hours for WHO (mentor A, mentee B)[; the CARRIER has carried more so
            // far (X vs Y)]; after it: mentor A', mentee B'"
            text.append("Outside working hours for ")
            text.append(a.score > 0 && b.score > 0 ? "both participants" : (a.score > 0 ? "the mentor" : "the mentee"))
            text.append(" (mentor ")
            text.appendTenths(a.score)
            text.append(", mentee ")
            text.appendTenths(b.score)
            text.append(")")
            if mentor.burden != mentee.burden {
                text.append(mentor.burden > mentee.burden ? "; the mentor has carried more so far (" : "; the mentee has carried more so far (")
                text.appendTenths(mentor.burden)
                text.append(" vs ")
                text.appendTenths(mentee.burden)
                text.append(")")
            }
            text.append("; after it: mentor ")
            text.appendTenths(mentor.burden + a.score)
            text.append(", mentee ")
            text.appendTenths(mentee.burden + b.score)
        }
        // ". Mentor HH:MM–HH:MM ZONE, mentee HH:MM–HH:MM ZONE."
        func appendLocalTimes(_ who: String, _ start: Int64, _ end: Int64, _ zone: TimeZone) {
            text.append(who)
            text.appendClock(start)
            text.append("–")
            text.appendClock(end)
            text.append(" ")
            text.append(zone.identifier)
        }
        appendLocalTimes(". Mentor ", a.localStart, a.localEnd, mentor.calendar.zone)
        appendLocalTimes(", mentee ", b.localStart, b.localEnd, mentee.calendar.zone)
        text.append(".")
        let explanation = text.string
        return Slot(
            start: Date(timeIntervalSince1970: TimeInterval(start)), end: Date(timeIntervalSince1970: TimeInterval(end)),
            score: score(a.score, b.score), participants: views, explanation: explanation
        )
    }

}

/// Weekly recurrence in a time zone: every occurrence keeps the first one's local time.
enum Recurrence {
    /// Starts of the occurrences (at most `count`, none after `until`), as instants. With `until`
    /// alone, at most 105: one more than a series may have, so that a longer one is refused
    /// instead of cut short.
    static func starts(first: Int64, zone: TimeZone, everyWeeks: Int, count: Int?, until: Int64?) -> [Int64] {
        let maximum = count ?? 105
        let horizon = until ?? first + Int64(maximum) * Int64(everyWeeks) * 7 * 86_400
        let offsets = ZoneOffsets(zone: zone, from: first - 86_400, to: horizon + 8 * 86_400)
        let local = offsets.local(first)
        var result: [Int64] = []
        var index: Int64 = 0
        while result.count < maximum {
            // The first is `first` itself, also in the second pass through an hour repeated when
            // clocks go back (the local time alone would name the first pass, an hour earlier).
            let start = index == 0 ? first : offsets.instant(local: local + index * Int64(everyWeeks) * 7 * 86_400)
            if let until, start > until { break }
            result.append(start)
            index += 1
        }
        return result
    }
}
