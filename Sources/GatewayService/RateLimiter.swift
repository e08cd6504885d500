import Foundation
import Synchronization
import TandemAuth

/// Token buckets, one per key (a user, a service account, or an address for calls without
/// credentials): each holds up to `burst` tokens and refills at `perSecond`; a call takes one.
/// Buckets idle long enough to be full again are forgotten, so memory follows the active keys.
public final class RateLimiter: Sendable {
    public let perSecond: Double
    public let burst: Double
    private let state: Mutex<State>

    struct State {
        var buckets: [String: (tokens: Double, at: Double)] = [:]
        /// Idle buckets are swept out (many active keys, e.g. calls without credentials from many
        /// addresses, must not make every call sweep them all).
        var sweep: SweepSchedule
    }

    public convenience init(perSecond: Double, burst: Int) {
        self.init(perSecond: perSecond, burst: burst, sweepThreshold: 100_000)
    }

    init(perSecond: Double, burst: Int, sweepThreshold: Int) {
        precondition(perSecond > 0 && burst >= 1)
        self.perSecond = perSecond
        self.burst = Double(burst)
        state = Mutex(State(sweep: SweepSchedule(threshold: sweepThreshold)))
    }

    /// Takes a token for `key` at `now` (seconds, from a monotonic clock); nil when allowed,
    /// otherwise the seconds to wait. A clock that goes back refills nothing and takes nothing
    /// away: the bucket carries on from `now` with the tokens it had.
    public func take(_ key: String, now: Double) -> Double? {
        state.withLock { state in
            if state.sweep.isDue(state.buckets.count) {
                let full = burst / perSecond
                state.buckets = state.buckets.filter { now - $0.value.at < full }
                state.sweep.swept(remaining: state.buckets.count)
            }
            var bucket = state.buckets[key] ?? (burst, now)
            // Never a negative refill: a clock stepped back by Δ would otherwise leave the bucket
            // Δ·perSecond tokens in debt, refusing its key for Δ.
            bucket.tokens = min(burst, bucket.tokens + max(0, now - bucket.at) * perSecond)
            bucket.at = now
            guard bucket.tokens >= 1 else {
                state.buckets[key] = bucket
                return (1 - bucket.tokens) / perSecond
            }
            bucket.tokens -= 1
            state.buckets[key] = bucket
            return nil
        }
    }

    /// Buckets held, and sweeps run so far.
    var footprint: (buckets: Int, sweeps: Int) {
        state.withLock { ($0.buckets.count, $0.sweep.sweeps) }
    }
}
