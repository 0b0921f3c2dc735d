import Foundation

/// Trading hours and order lifetimes on the market's wall clock (CRY-07, CRY-08).
public struct TradingCalendar: Sendable {
    public let settings: CryptoSettings
    private let calendar: Calendar

    public init(settings: CryptoSettings) {
        self.settings = settings
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = settings.marketTimeZone
        self.calendar = calendar
    }

    /// Whether `date` falls in the weekend window, Friday 16:00 to Sunday 03:00 market time,
    /// when only closing trades (sells) are taken.
    public func isClosingOnly(_ date: Date) -> Bool {
        let parts = calendar.dateComponents([.weekday, .hour], from: date)
        guard let weekday = parts.weekday, let hour = parts.hour else { return false }
        switch weekday {
        case 6: return hour >= settings.weekendStartHour  // Friday
        case 7: return true                                // Saturday
        case 1: return hour < settings.weekendEndHour      // Sunday
        default: return false
        }
    }

    /// The next end of the trading day after `date` (16:00 market time), across DST changes.
    public func endOfTradingDay(after date: Date) -> Date {
        let today = calendar.date(bySettingHour: settings.tradingDayEndHour, minute: 0, second: 0, of: date)!
        if today > date { return today }
        let tomorrow = calendar.date(byAdding: .day, value: 1, to: date)!
        return calendar.date(bySettingHour: settings.tradingDayEndHour, minute: 0, second: 0, of: tomorrow)!
    }

    /// When an order accepted at `date` is cancelled if not filled; nil for GTC.
    public func expiry(of timeInForce: TimeInForce, acceptedAt date: Date) -> Date? {
        switch timeInForce {
        case .ioc: date.addingTimeInterval(settings.iocCancelAfter)
        case .minutes: date.addingTimeInterval(settings.minutesOrderLifetime)
        case .day: endOfTradingDay(after: date)
        case .gtc: nil
        }
    }

    /// The calendar month of `date` on the market's clock, "YYYY-MM".
    public func month(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month], from: date)
        return String(format: "%04d-%02d", parts.year!, parts.month!)
    }

    /// The calendar day of `date` on the market's clock, "YYYY-MM-DD".
    public func day(of date: Date) -> String {
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    /// Number of days in a "YYYY-MM" month; nil when the text is not a month.
    public func daysIn(month: String) -> Int? {
        let parts = month.split(separator: "-")
        guard parts.count == 2, let year = Int(parts[0]), let number = Int(parts[1]), (1...12).contains(number),
              let first = calendar.date(from: DateComponents(year: year, month: number, day: 1)),
              let range = calendar.range(of: .day, in: .month, for: first) else { return nil }
        return range.count
    }
}
