/// When a table of per-client records (rate-limit buckets, sign-in failures) should be swept for
/// stale ones: once it holds `threshold` records, and after each sweep only once it holds twice
/// what the sweep left (at least `threshold`). Many active records then cost one sweep per
/// doubling, not a sweep of every record on every call.
public struct SweepSchedule: Sendable {
    public let threshold: Int
    private var next: Int
    /// Sweeps so far.
    public private(set) var sweeps = 0

    public init(threshold: Int) {
        precondition(threshold >= 1)
        self.threshold = threshold
        self.next = threshold
    }

    /// Whether a table of `count` records is due for a sweep.
    public func isDue(_ count: Int) -> Bool { count >= next }

    /// A sweep left `remaining` records.
    public mutating func swept(remaining: Int) {
        next = max(threshold, 2 * remaining)
        sweeps += 1
    }
}
