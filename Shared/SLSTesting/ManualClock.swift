import Foundation
import SLSMessages
import Synchronization

/// A clock a test moves by hand; pass `{ clock.now }` where a service takes its time.
public final class ManualClock: Sendable {
    private let current: Mutex<Date>

    public init(_ start: Date) {
        current = Mutex(start)
    }

    public var now: Date { current.withLock { $0 } }
    /// The time in Unix milliseconds.
    public var nowUnixMs: Int64 { now.unixMs }

    public func set(_ date: Date) { current.withLock { $0 = date } }
    public func advance(_ seconds: TimeInterval) { current.withLock { $0 = $0.addingTimeInterval(seconds) } }
}
