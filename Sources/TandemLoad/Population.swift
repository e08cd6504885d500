public import Foundation
public import TandemProtocols
import TandemRandom

/// The generated people and pairs a run books for: realistic availability in time zones around
/// the world (half-hour zones included), everyone in one or more pairs. The same seed gives the
/// same population.
public struct Population: Sendable {
    public struct Person: Sendable {
        public var id: UUID
        public var availability: Availability
    }

    public var people: [Person]
    public var pairs: [Pair]

    static let zones = [
        "America/New_York", "America/Chicago", "America/Los_Angeles", "America/Sao_Paulo", "Europe/London", "Europe/Berlin",
        "Africa/Lagos", "Asia/Kolkata", "Asia/Singapore", "Asia/Tokyo", "Australia/Sydney", "Asia/Kathmandu", "Asia/Dubai",
    ]

    public init(people count: Int, pairs pairCount: Int, seed: UInt64) {
        var random = SplitMix64(seed: seed)
        func uuid() -> UUID {
            let a = random.next()
            let b = random.next()
            var bytes = [UInt8](repeating: 0, count: 16)
            for index in 0..<8 {
                bytes[index] = UInt8(truncatingIfNeeded: a >> (8 * UInt64(index)))
                bytes[8 + index] = UInt8(truncatingIfNeeded: b >> (8 * UInt64(index)))
            }
            bytes[6] = 0x40 | (bytes[6] & 0x0F)
            bytes[8] = 0x80 | (bytes[8] & 0x3F)
            return UUID(uuid: (bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
                               bytes[8], bytes[9], bytes[10], bytes[11], bytes[12], bytes[13], bytes[14], bytes[15]))
        }
        var people: [Person] = []
        people.reserveCapacity(count)
        for index in 0..<count {
            let id = uuid()
            let zone = Self.zones[Int(random.next() % UInt64(Self.zones.count))]
            let start = 7 * 60 + Int(random.next() % 5) * 30
            let hours = WorkingHours(days: index % 11 == 0 ? [1, 2, 3, 4] : [1, 2, 3, 4, 5], startMinute: start, endMinute: start + 8 * 60)
            var windows: [WeeklyWindow] = []
            let evenings = random.next() % 3 == 0
            for day in hours.days {
                windows.append(WeeklyWindow(day: day, startMinute: start, endMinute: evenings ? min(1440, start + 11 * 60) : start + 8 * 60))
            }
            var exceptions: [AvailabilityException] = []
            if random.next() % 4 == 0 {
                exceptions.append(AvailabilityException(date: "2027-08-1\(Int(random.next() % 9))", available: false, note: "leave"))
            }
            people.append(Person(id: id, availability: Availability(
                personID: id, timeZone: zone, workingHours: hours, windows: windows, exceptions: exceptions, acceptsOutsideWorkingHours: evenings
            )))
        }
        let program = uuid()
        var pairs: [Pair] = []
        pairs.reserveCapacity(pairCount)
        for index in 0..<pairCount where count >= 2 {
            let mentor = people[(index * 2) % count].id
            var mentee = people[(index * 2 + 1) % count].id
            if mentee == mentor { mentee = people[(index * 2 + 2) % count].id }
            pairs.append(Pair(matchID: uuid(), programID: program, mentorID: mentor, menteeID: mentee))
        }
        self.people = people
        self.pairs = pairs
    }
}
