import Foundation
import TandemAuth

/// Slows down password guessing, per account and per client address: after `freeFailures`
/// failures, each further attempt must wait `baseDelay` × 2^(failures − freeFailures), at most
/// `maxDelay`. A success clears the account's record (not the client's: one correct password
/// must not reset a guessing client). Pure: the caller passes the time.
struct SignInThrottle {
    var freeFailures = 5
    var baseDelay: TimeInterval = 1
    var maxDelay: TimeInterval = 15 * 60
    var forgetAfter: TimeInterval = 60 * 60

    private struct Record {
        var failures: Int
        var lockedUntil: Date
        var lastFailure: Date
    }

    private var records: [String: Record] = [:]
    /// When old records are forgotten (many recent failures must not make every failure sweep).
    private var sweep = SweepSchedule(threshold: 100_000)
    var sweeps: Int { sweep.sweeps }
    var count: Int { records.count }

    init(freeFailures: Int = 5, baseDelay: TimeInterval = 1, maxDelay: TimeInterval = 15 * 60, forgetAfter: TimeInterval = 60 * 60) {
        self.freeFailures = freeFailures
        self.baseDelay = baseDelay
        self.maxDelay = maxDelay
        self.forgetAfter = forgetAfter
    }

    /// When the key may try again, if it is locked now.
    func lockedUntil(_ key: String, now: Date) -> Date? {
        guard let record = records[key], record.lockedUntil > now else { return nil }
        return record.lockedUntil
    }

    mutating func recordFailure(_ key: String, now: Date) {
        var record = records[key] ?? Record(failures: 0, lockedUntil: .distantPast, lastFailure: now)
        if now.timeIntervalSince(record.lastFailure) > forgetAfter { record.failures = 0 }
        record.failures += 1
        record.lastFailure = now
        if record.failures > freeFailures {
            let exponent = min(record.failures - freeFailures - 1, 30)
            let delay = min(baseDelay * pow(2, Double(exponent)), maxDelay)
            record.lockedUntil = now.addingTimeInterval(delay)
        }
        records[key] = record
        if sweep.isDue(records.count) {
            forgetOld(now: now)
            sweep.swept(remaining: records.count)
        }
    }

    mutating func recordSuccess(_ key: String) {
        records[key] = nil
    }

    private mutating func forgetOld(now: Date) {
        records = records.filter { now.timeIntervalSince($0.value.lastFailure) <= forgetAfter }
    }
}
