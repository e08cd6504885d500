import Foundation
import Synchronization
import TandemProtocols

/// What the invariant check found.
public struct VerificationReport: Sendable, Codable, Equatable {
    /// Meetings read back (every person's, cancelled ones included).
    public var meetingsRead = 0
    public var acknowledgedBookings = 0
    public var acknowledgedCancellations = 0
    /// Pairs of meetings of one person that overlap: must be 0.
    public var doubleBookings = 0
    /// Acknowledged bookings not found, or found at another time: must be 0.
    public var missingBookings = 0
    /// Acknowledged cancellations whose meeting is not cancelled: must be 0.
    public var cancellationsNotApplied = 0
    /// Examples, for the report.
    public var examples: [String] = []

    public var passed: Bool { doubleBookings == 0 && missingBookings == 0 && cancellationsNotApplied == 0 }
}

/// Reads every meeting of the population back and checks the two invariants: no person is in
/// two overlapping meetings, and everything the service acknowledged is there.
public enum Verifier {
    public static func verify(population: Population, ledger: Ledger, target: SchedulingTarget, concurrency: Int = 32) async throws -> VerificationReport {
        let meetings = Locked<[UUID: Meeting]>([:])
        let perPerson = Locked<[[Meeting]]>([])
        let next = Counter()
        let people = population.people
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while true {
                        let index = next.add()
                        guard index < people.count else { return }
                        let list = try await target.meetings(of: people[index].id)
                        meetings.withLock { all in for meeting in list { all[meeting.id] = meeting } }
                        perPerson.withLock { $0.append(list) }
                    }
                }
            }
            try await group.waitForAll()
        }
        var report = VerificationReport()
        let all = meetings.withLock { $0 }
        report.meetingsRead = all.count
        for list in perPerson.withLock({ $0 }) {
            let active = list.filter { $0.status != .cancelled }.sorted { $0.start < $1.start }
            var latestEnd: Date?
            var latestID: UUID?
            for meeting in active {
                if let end = latestEnd, meeting.start < end {
                    report.doubleBookings += 1
                    if report.examples.count < 10 { report.examples.append("overlap: \(latestID!) and \(meeting.id)") }
                }
                if latestEnd == nil || meeting.end > latestEnd! {
                    latestEnd = meeting.end
                    latestID = meeting.id
                }
            }
        }
        let (booked, cancelled) = ledger.snapshot
        report.acknowledgedBookings = booked.count
        report.acknowledgedCancellations = cancelled.count
        for (id, booking) in booked {
            guard let meeting = all[id] else {
                report.missingBookings += 1
                if report.examples.count < 10 { report.examples.append("missing: \(id)") }
                continue
            }
            if Int64(meeting.start.timeIntervalSince1970) != booking.start || Int64(meeting.end.timeIntervalSince1970) != booking.end {
                report.missingBookings += 1
                if report.examples.count < 10 { report.examples.append("moved: \(id)") }
            }
            if cancelled.contains(id) != (meeting.status == .cancelled) {
                report.cancellationsNotApplied += 1
                if report.examples.count < 10 { report.examples.append("status \(meeting.status.rawValue): \(id)") }
            }
        }
        return report
    }
}
