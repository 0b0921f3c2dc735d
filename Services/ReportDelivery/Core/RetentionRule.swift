/// DLV-07: files are kept a number of days after delivery, then purged.
public struct RetentionRule: Sendable, Equatable {
    public let days: Int

    /// 100 days, DLV-07.
    public static let standard = RetentionRule(days: 100)

    /// - Parameter days: 1 to 36,500 (a century); the setting holds it to its own range.
    public init(days: Int) {
        precondition((1...36_500).contains(days), "retention days must be 1 to 36,500")
        self.days = days
    }

    /// Whether a file delivered at `deliveredMs` is due for purging at `nowMs`: on the
    /// `days`-th day after delivery, to the millisecond. Times from files or the database never trap.
    public func isDue(deliveredMs: Int64, nowMs: Int64) -> Bool {
        let (age, overflow) = nowMs.subtractingReportingOverflow(deliveredMs)
        if overflow { return deliveredMs < 0 }
        return age >= Int64(days) * 86_400_000
    }

    /// The last moment a file delivered at `deliveredMs` is still kept, for messages.
    public func purgeTime(deliveredMs: Int64) -> Int64 {
        deliveredMs.addingReportingOverflow(Int64(days) * 86_400_000).partialValue
    }
}
