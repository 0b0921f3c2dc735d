import SLSRuntime
import Testing

@Suite("Token buckets per key")
struct RateLimiterTests {
    @Test func aKeySpendsItsCapacityThenRefillsWithTime() {
        var limiter = RateLimiter(capacity: 10, refillPerSecond: 1)
        let fullSpend = limiter.take(10, for: "a", nowMs: 0)
        #expect(fullSpend)
        let overdrawn = limiter.take(1, for: "a", nowMs: 0)
        #expect(!overdrawn)
        let otherKey = limiter.take(1, for: "b", nowMs: 0)
        #expect(otherKey, "keys are independent")
        let beforeRefill = limiter.take(2, for: "a", nowMs: 1_999)
        #expect(!beforeRefill)
        let afterRefill = limiter.take(2, for: "a", nowMs: 2_000)
        #expect(afterRefill)
        #expect(limiter.available(for: "a", nowMs: 1_000_000) == 10, "never more than the capacity")
    }

    @Test func keysFromOutsideCannotGrowItWithoutBound() {
        var limiter = RateLimiter(capacity: 5, refillPerSecond: 0, maxKeys: 100)
        let drainedFirst = limiter.take(5, for: "drained", nowMs: 0)
        #expect(drainedFirst)
        for index in 0..<10_000 { _ = limiter.take(1, for: "k\(index)", nowMs: 0) }
        #expect(limiter.keyCount <= 100)
        let drainedAgain = limiter.take(1, for: "drained", nowMs: 0)
        #expect(!drainedAgain, "a drained bucket is kept over fuller ones")
    }

    @Test func refusedRequestsFromNewKeysCannotGrowItEither() {
        // A cost above the capacity is refused for every key, new or not.
        var limiter = RateLimiter(capacity: 10, refillPerSecond: 1, maxKeys: 50)
        for index in 0..<5_000 {
            let took = limiter.take(100, for: "caller-\(index)", nowMs: 0)
            #expect(!took)
        }
        #expect(limiter.keyCount <= 50)
    }
}
