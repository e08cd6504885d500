import Foundation

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
    /// The record count at which old records are next forgotten: after each sweep at least twice
    /// the records left, so that many recent failures cost a sweep per doubling, not one per failure.
    private var nextSweep = SignInThrottle.sweepThreshold
    static let sweepThreshold = 100_000
    /// Sweeps done so far.
    private(set) var sweeps = 0
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
        if records.count >= nextSweep {
            forgetOld(now: now)
            nextSweep = max(Self.sweepThreshold, 2 * records.count)
            sweeps += 1
        }
    }

    mutating func recordSuccess(_ key: String) {
        records[key] = nil
    }

    private mutating func forgetOld(now: Date) {
        records = records.filter { now.timeIntervalSince($0.value.lastFailure) <= forgetAfter }
    }
}
