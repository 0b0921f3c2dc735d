#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Milliseconds since 1970, the time base of every `*_unix_ms` field, for a date and back.
extension Date {
    /// Saturates far outside Int64's range instead of trapping (such dates never pass validation).
    public var unixMs: Int64 {
        Int64(exactly: (timeIntervalSince1970 * 1000).rounded()) ?? (timeIntervalSince1970 < 0 ? .min : .max)
    }

    public init(unixMs: Int64) {
        self.init(timeIntervalSince1970: Double(unixMs) / 1000)
    }
}
