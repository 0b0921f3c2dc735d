/// Token buckets per key (a caller, a user): each key may spend `capacity` at once and
/// gets `refillPerSecond` back every second.
///
/// Keys from outside cannot grow it without bound: at most `maxKeys` buckets are kept, and
/// the fullest ones (those that would be full again anyway) are forgotten first. Time is
/// passed in, so the rule is testable.
public struct RateLimiter: Sendable {
    private struct Bucket {
        var tokens: Double
        var updatedMs: Int64
    }

    public let capacity: Double
    public let refillPerSecond: Double
    public let maxKeys: Int
    private var buckets: [String: Bucket] = [:]

    public init(capacity: Double, refillPerSecond: Double, maxKeys: Int = 10_000) {
        self.capacity = max(0, capacity)
        self.refillPerSecond = max(0, refillPerSecond)
        self.maxKeys = max(1, maxKeys)
    }

    /// Takes `cost` tokens from `key`'s bucket when it has them; returns whether it did.
    public mutating func take(_ cost: Double, for key: String, nowMs: Int64) -> Bool {
        var bucket = refilled(buckets[key], nowMs: nowMs)
        let allowed = bucket.tokens >= cost
        if allowed { bucket.tokens -= cost }
        // A key seen for the first time makes room before it is stored, refused or not.
        if buckets[key] == nil && buckets.count >= maxKeys { forgetFullest(nowMs: nowMs) }
        buckets[key] = bucket
        return allowed
    }

    /// How many keys are remembered now.
    public var keyCount: Int { buckets.count }

    /// Tokens `key` could spend now.
    public func available(for key: String, nowMs: Int64) -> Double {
        refilled(buckets[key], nowMs: nowMs).tokens
    }

    private func refilled(_ bucket: Bucket?, nowMs: Int64) -> Bucket {
        guard var bucket else { return Bucket(tokens: capacity, updatedMs: nowMs) }
        let elapsed = Double(max(0, nowMs &- bucket.updatedMs)) / 1000
        bucket.tokens = min(capacity, bucket.tokens + elapsed * refillPerSecond)
        bucket.updatedMs = nowMs
        return bucket
    }

    private mutating func forgetFullest(nowMs: Int64) {
        let count = max(1, buckets.count / 10)
        let fullest = buckets.map { ($0.key, refilled($0.value, nowMs: nowMs).tokens) }
            .sorted { $0.1 > $1.1 }.prefix(count).map(\.0)
        for key in fullest { buckets[key] = nil }
    }
}
