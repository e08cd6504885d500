import Foundation
import Synchronization

/// Token buckets, one per key (a user, a service account, or an address for calls without
/// credentials): each holds up to `burst` tokens and refills at `perSecond`; a call takes one.
/// Buckets idle long enough to be full again are forgotten, so memory follows the active keys.
public final class RateLimiter: Sendable {
    public let perSecond: Double
    public let burst: Double
    private let buckets = Mutex<[String: (tokens: Double, at: Double)]>([:])

    public init(perSecond: Double, burst: Int) {
        precondition(perSecond > 0 && burst >= 1)
        self.perSecond = perSecond
        self.burst = Double(burst)
    }

    /// Takes a token for `key` at `now` (seconds); nil when allowed, otherwise the seconds to wait.
    public func take(_ key: String, now: Double) -> Double? {
        buckets.withLock { buckets in
            if buckets.count > 100_000 {
                let full = burst / perSecond
                buckets = buckets.filter { now - $0.value.at < full }
            }
            var bucket = buckets[key] ?? (burst, now)
            bucket.tokens = min(burst, bucket.tokens + (now - bucket.at) * perSecond)
            bucket.at = now
            guard bucket.tokens >= 1 else {
                buckets[key] = bucket
                return (1 - bucket.tokens) / perSecond
            }
            bucket.tokens -= 1
            buckets[key] = bucket
            return nil
        }
    }
}
