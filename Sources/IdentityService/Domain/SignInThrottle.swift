import Foundation
import TandemAuth

/// Slows down password guessing, per account and per client address: after `freeFailures`
/// failures, each further attempt must wait `baseDelay` × 2^(failures − freeFailures), at most
/// `maxDelay`. A success clears the account's record (not the client's: one correct password
/// must not reset a guessing client). Pure: the caller passes the time.
///
/// Attempts still being checked count too (`begin`, then `end` with the outcome): otherwise
/// many attempts sent at once would all pass the check before the first failure is recorded.
/// Failures and attempts in flight together get `freeFailures`; past that, one attempt at a
/// time, once its wait is over.
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
    /// Attempts begun and not yet ended, by key (absent: none).
    private var inFlight: [String: Int] = [:]
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

    /// Admits an attempt for `key`, counted as in flight until `end`: nil when admitted, else
    /// when the key may try again (the wait that would follow if every attempt in flight failed;
    /// at least `baseDelay`).
    mutating func begin(_ key: String, now: Date) -> Date? {
        let running = inFlight[key, default: 0]
        let failures = records[key].map { now.timeIntervalSince($0.lastFailure) > forgetAfter ? 0 : $0.failures } ?? 0
        let locked = lockedUntil(key, now: now)
        guard locked != nil || (running > 0 && failures + running >= freeFailures) else {
            inFlight[key] = running + 1
            return nil
        }
        let wait = max(baseDelay, delay(afterFailures: failures + running))
        return max(locked ?? .distantPast, now.addingTimeInterval(wait))
    }

    /// Ends an attempt `begin` admitted; a failure is recorded as `recordFailure` does.
    mutating func end(_ key: String, failed: Bool, now: Date) {
        if let running = inFlight[key] { inFlight[key] = running > 1 ? running - 1 : nil }
        if failed { recordFailure(key, now: now) }
    }

    /// The wait after the `failures`-th failure.
    private func delay(afterFailures failures: Int) -> TimeInterval {
        guard failures > freeFailures else { return 0 }
        return min(baseDelay * pow(2, Double(min(failures - freeFailures - 1, 30))), maxDelay)
    }

    mutating func recordFailure(_ key: String, now: Date) {
        var record = records[key] ?? Record(failures: 0, lockedUntil: .distantPast, lastFailure: now)
        if now.timeIntervalSince(record.lastFailure) > forgetAfter { record.failures = 0 }
        record.failures += 1
        record.lastFailure = now
        if record.failures > freeFailures {
            record.lockedUntil = now.addingTimeInterval(delay(afterFailures: record.failures))
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
