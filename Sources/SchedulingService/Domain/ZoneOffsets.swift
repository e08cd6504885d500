import Foundation
import Synchronization

/// A time zone's UTC offsets over a range of instants: constant between daylight-saving
/// transitions, so a whole range costs one Foundation call per transition instead of one per
/// instant. Instants and local times are whole seconds since 1970 (local time counted as if it
/// were UTC).
struct ZoneOffsets: Sendable {
    let identifier: String
    /// Sorted by `start`; each offset holds from its start until the next one's.
    private(set) var segments: [(start: Int64, offset: Int64)]

    /// The offsets over `[from, to]`. Within 2000–2100 they are cut from a table of the zone's
    /// whole century, built once per zone: Foundation's time-zone calls (ICU) cost microseconds
    /// each, and each booking scores four instants and each slot search two weeks in two zones.
    init(zone: TimeZone, from: Int64, to: Int64) {
        identifier = zone.identifier
        guard from >= Self.tableStart, to <= Self.tableEnd, from <= to else {
            segments = Self.computed(zone: zone, from: from, to: to)
            return
        }
        let table = Self.table(for: zone)
        // The last segment that starts at or before `from`, then every one that starts by `to`.
        var low = 0
        var high = table.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if table[middle].start <= from { low = middle } else { high = middle - 1 }
        }
        var segments = [(start: Int64.min, offset: table[low].offset)]
        var next = low + 1
        while next < table.count, table[next].start <= to {
            segments.append(table[next])
            next += 1
        }
        self.segments = segments
    }

    /// The offsets over `[from, to]`, asked of Foundation: one call per transition. The first
    /// segment starts at `Int64.min`.
    static func computed(zone: TimeZone, from: Int64, to: Int64) -> [(start: Int64, offset: Int64)] {
        var segments = [(start: Int64.min, offset: Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(from)))))]
        var cursor = Date(timeIntervalSince1970: TimeInterval(from))
        while let next = zone.nextDaylightSavingTimeTransition(after: cursor), next.timeIntervalSince1970 <= TimeInterval(to) {
            let start = Int64(next.timeIntervalSince1970.rounded())
            let offset = Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(start))))
            if offset != segments[segments.count - 1].offset { segments.append((start, offset)) }
            // Step past the transition itself.
            cursor = Date(timeIntervalSince1970: TimeInterval(start + 1))
        }
        return segments
    }

    /// 2000-01-01 and 2100-01-01 UTC: the span of the per-zone tables.
    static let tableStart: Int64 = 946_684_800
    static let tableEnd: Int64 = 4_102_444_800
    private static let tables = Mutex<[String: [(start: Int64, offset: Int64)]]>([:])

    /// The zone's offsets over 2000–2100 (about 200 segments for a zone with daylight saving).
    static func table(for zone: TimeZone) -> [(start: Int64, offset: Int64)] {
        if let table = tables.withLock({ $0[zone.identifier] }) { return table }
        let table = computed(zone: zone, from: tableStart, to: tableEnd)
        tables.withLock { $0[zone.identifier] = table }
        return table
    }

    /// The offset in force at instant `t`.
    func offset(at t: Int64) -> Int64 {
        var low = 0
        var high = segments.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if segments[middle].start <= t { low = middle } else { high = middle - 1 }
        }
        return segments[low].offset
    }

    /// Local wall-clock time of instant `t`.
    func local(_ t: Int64) -> Int64 {
        t + offset(at: t)
    }

    /// The instant a local wall-clock time stands for. A time that occurs twice (clocks going
    /// back) is the earlier instant; a time that does not exist (clocks going forward) moves
    /// forward by the size of the gap, as calendars do.
    func instant(local: Int64) -> Int64 {
        let before = offset(at: local - 86_400)
        let after = offset(at: local + 86_400)
        let here = offset(at: local)
        // Far from a transition, the three agree and the answer is the one candidate.
        if before == after && here == before && offset(at: local - before) == before { return local - before }
        var best: Int64?
        for candidate in [before, after, here] {
            let t = local - candidate
            if offset(at: t) == candidate { best = min(best ?? t, t) }
        }
        return best ?? (local - before)
    }
}

/// Foundation time zones by identifier, made once (creating one reads the zone database).
enum Zones {
    private static let cache = Mutex<[String: TimeZone]>([:])

    static func zone(_ identifier: String) -> TimeZone? {
        if let zone = cache.withLock({ $0[identifier] }) { return zone }
        guard identifier.contains("/") || identifier == "UTC", let zone = TimeZone(identifier: identifier) else { return nil }
        cache.withLock { $0[identifier] = zone }
        return zone
    }
}

/// Calendar arithmetic on local days (days since 1970-01-01, which was a Thursday).
enum LocalDays {
    static let secondsPerDay: Int64 = 86_400

    /// The local day a local time falls on.
    static func day(ofLocal local: Int64) -> Int64 {
        local >= 0 ? local / secondsPerDay : (local - secondsPerDay + 1) / secondsPerDay
    }

    /// ISO weekday of a day number: 1 Monday … 7 Sunday.
    static func weekday(_ day: Int64) -> Int {
        Int(((day % 7) + 7 + 3) % 7) + 1
    }

    /// `YYYY-MM-DD` of a day number (proleptic Gregorian).
    static func dateString(_ day: Int64) -> String {
        var text = TextBuilder(capacity: 10)
        text.appendDate(day)
        return text.string
    }

    /// The day number of `YYYY-MM-DD`, if it is a real date.
    static func day(of date: String) -> Int64? {
        let parts = date.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let year = Int64(parts[0]), let month = Int64(parts[1]), let dayOfMonth = Int64(parts[2]),
              (1...12).contains(month), dayOfMonth >= 1 else { return nil }
        let result = days(year: year, month: month, day: dayOfMonth)
        guard civil(result) == (year, month, dayOfMonth) else { return nil }
        return result
    }

    /// Howard Hinnant's days-from-civil.
    static func days(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month > 2 ? month - 3 : month + 9) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// Howard Hinnant's civil-from-days.
    static func civil(_ days: Int64) -> (Int64, Int64, Int64) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// `YYYY-MM-DDTHH:MM` of a local time.
    static func localText(_ local: Int64) -> String {
        var text = TextBuilder(capacity: 16)
        text.appendLocalTime(local)
        return text.string
    }

    /// `HH:MM` of a local time.
    static func clock(_ local: Int64) -> String {
        var text = TextBuilder(capacity: 5)
        text.appendClock(local)
        return text.string
    }

    /// `value` in decimal with leading zeros to `width` digits (String(format:) costs
    /// microseconds per call through Foundation).
    static func padded(_ value: Int64, _ width: Int) -> String {
        var text = TextBuilder(capacity: width + 1)
        text.append(value, width: width)
        return text.string
    }
}

/// Builds text byte by byte: slot explanations are made for every slot of every `FindSlots`
/// answer, and joining small strings (or `String(format:)`) cost more than finding the slots.
struct TextBuilder {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    var string: String { String(decoding: bytes, as: UTF8.self) }

    mutating func append(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// `value` in decimal, with leading zeros to `width` digits.
    mutating func append(_ value: Int64, width: Int = 1) {
        if value < 0 { bytes.append(UInt8(ascii: "-")) }
        var magnitude = value.magnitude
        var digits = 1
        var scale: UInt64 = 10
        while digits < 19 && magnitude >= scale {
            digits += 1
            scale &*= 10
        }
        // Zeros for the whole run, then the digits written in place from the last one (no
        // reversal: reversing a slice of the array copied it).
        let count = Swift.max(width, digits)
        bytes.append(contentsOf: repeatElement(UInt8(ascii: "0"), count: count))
        bytes.withUnsafeMutableBufferPointer { buffer in
            var index = buffer.count - 1
            repeat {
                buffer[index] = UInt8(ascii: "0") + UInt8(magnitude % 10)
                magnitude /= 10
                index -= 1
            } while magnitude > 0
        }
    }

    /// One decimal, like `%.1f`, without a trailing `.0`.
    mutating func appendTenths(_ value: Double) {
        let tenths = Int64((value * 10).rounded())
        if tenths % 10 == 0 {
            append(tenths / 10)
        } else {
            if tenths < 0 { bytes.append(UInt8(ascii: "-")) }
            append(Int64(tenths.magnitude / 10))
            bytes.append(UInt8(ascii: "."))
            append(Int64(tenths.magnitude % 10))
        }
    }

    /// `HH:MM` of a local time.
    mutating func appendClock(_ local: Int64) {
        let seconds = local - LocalDays.day(ofLocal: local) * LocalDays.secondsPerDay
        append(seconds / 3600, width: 2)
        bytes.append(UInt8(ascii: ":"))
        append((seconds % 3600) / 60, width: 2)
    }

    /// `HH:MM` of a count of minutes since midnight (24:00 for the end of a day).
    mutating func appendMinutes(_ minutes: Int) {
        append(Int64(minutes / 60), width: 2)
        bytes.append(UInt8(ascii: ":"))
        append(Int64(minutes % 60), width: 2)
    }

    /// `YYYY-MM-DD` of a day number.
    mutating func appendDate(_ day: Int64) {
        let (year, month, dayOfMonth) = LocalDays.civil(day)
        append(year, width: 4)
        bytes.append(UInt8(ascii: "-"))
        append(month, width: 2)
        bytes.append(UInt8(ascii: "-"))
        append(dayOfMonth, width: 2)
    }

    /// `YYYY-MM-DDTHH:MM` of a local time.
    mutating func appendLocalTime(_ local: Int64) {
        appendDate(LocalDays.day(ofLocal: local))
        bytes.append(UInt8(ascii: "T"))
        appendClock(local)
    }
}
