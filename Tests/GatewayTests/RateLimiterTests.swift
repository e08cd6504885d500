@testable import GatewayService
import Testing

@Suite("Rate limiter")
struct RateLimiterTests {
    @Test("a bucket allows its burst, then says how long to wait, then refills")
    func buckets() {
        let limiter = RateLimiter(perSecond: 2, burst: 2)
        #expect(limiter.take("ana", now: 10) == nil)
        #expect(limiter.take("ana", now: 10) == nil)
        #expect(limiter.take("ana", now: 10) == 0.5)
        #expect(limiter.take("ben", now: 10) == nil, "another key has its own bucket")
        #expect(limiter.take("ana", now: 10.5) == nil)
        #expect(limiter.take("ana", now: 10.5) != nil)
    }

    @Test("a clock stepped back leaves no bucket in debt: the wait is at most one token's time")
    func clockSteppedBack() {
        let limiter = RateLimiter(perSecond: 2, burst: 2)
        #expect(limiter.take("ana", now: 1000) == nil)
        #expect(limiter.take("ana", now: 1000) == nil)
        #expect(limiter.take("ana", now: 1000) == 0.5)
        // A minute back: before, the bucket fell to 0 − 60·2 tokens and the wait to 60.5 s.
        let wait = limiter.take("ana", now: 940)
        #expect(wait != nil && wait! <= 0.5, "\(String(describing: wait))")
        #expect(limiter.take("ana", now: 940.5) == nil, "it refills from the new time on")
        #expect(limiter.take("ben", now: 940) == nil, "a new key starts full")
        #expect(EdgeInterceptor.monotonicSeconds() <= EdgeInterceptor.monotonicSeconds())
    }

    @Test("buckets idle long enough to be full again are forgotten once there are many")
    func idleBucketsAreForgotten() {
        let limiter = RateLimiter(perSecond: 1, burst: 5, sweepThreshold: 10)
        for key in 0..<10 { #expect(limiter.take("idle-\(key)", now: 0) == nil) }
        #expect(limiter.footprint.buckets == 10)
        #expect(limiter.take("active", now: 3) == nil)
        #expect(limiter.footprint == (buckets: 11, sweeps: 1), "none is full again after 3 s")
        // At 20 buckets the second sweep (4 s) finds none full again either.
        for key in 0..<10 { #expect(limiter.take("more-\(key)", now: 4) == nil) }
        #expect(limiter.footprint == (buckets: 21, sweeps: 2))
        // At 40 the third (5.5 s): the first ten are full again (5 s since their call); "active"
        // (2.5 s) and the others are not.
        for key in 10..<30 { #expect(limiter.take("more-\(key)", now: 5.5) == nil) }
        let (buckets, sweeps) = limiter.footprint
        #expect(sweeps == 3)
        #expect(buckets == 41 - 10, "the ten idle buckets are gone")
        #expect(limiter.take("active", now: 5.5) == nil, "a kept bucket keeps its tokens")
    }

    @Test("many active keys cost a sweep per doubling, not one per call")
    func manyActiveKeys() {
        let limiter = RateLimiter(perSecond: 1, burst: 5, sweepThreshold: 100)
        for key in 0..<20_000 { #expect(limiter.take("address-\(key)", now: Double(key) / 1_000_000) == nil) }
        let (buckets, sweeps) = limiter.footprint
        #expect(buckets == 20_000)
        // 100, 200, 400, … 12,800: eight sweeps. Sweeping at every call past the threshold, as the
        // limiter once did, would have been 19,901.
        #expect(sweeps == 8)
    }
}
