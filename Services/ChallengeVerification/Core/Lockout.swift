import Foundation

/// CHL-09: consecutive wrong answers lock a factor. **Decided:** 5 failures lock it for 15 minutes;
/// a success resets the count. Beyond the anchors (as Keycloak): after `permanentAfterLocks`
/// temporary locks in a row without a success, the lock is permanent until an operator lifts it.
public struct LockoutPolicy: Sendable, Equatable {
    public var maxFailures = 5
    public var lockDuration: TimeInterval = 15 * 60
    /// 0: never permanent.
    public var permanentAfterLocks = 0

    public init() {}
}

/// The failure count of one factor of one user, in one place.
public struct FailureCounter: Sendable, Equatable, Codable {
    public private(set) var consecutiveFailures = 0
    /// Temporary locks since the last success.
    public private(set) var locks = 0
    public private(set) var lockedUntil: Date?
    public private(set) var lockedForGood = false

    public init() {}

    /// Whether the factor may be used at `now`.
    public func isLocked(at now: Date) -> Bool {
        lockedForGood || (lockedUntil.map { now < $0 } ?? false)
    }

    /// Records a wrong answer; returns true when this one locked the factor.
    @discardableResult
    public mutating func recordFailure(at now: Date, policy: LockoutPolicy) -> Bool {
        if let until = lockedUntil, now >= until { lockedUntil = nil }
        consecutiveFailures += 1
        guard consecutiveFailures >= policy.maxFailures else { return false }
        consecutiveFailures = 0
        locks += 1
        if policy.permanentAfterLocks > 0 && locks >= policy.permanentAfterLocks {
            lockedForGood = true
        } else {
            lockedUntil = now.addingTimeInterval(policy.lockDuration)
        }
        return true
    }

    /// A right answer: the count starts again.
    public mutating func recordSuccess() {
        consecutiveFailures = 0
        locks = 0
        lockedUntil = nil
    }

    /// An operator lifts any lock.
    public mutating func unlock() {
        self = FailureCounter()
    }
}
