import Foundation
import Synchronization

/// Trading hours and order lifetimes on the market's wall clock (CRY-07, CRY-08).
public struct TradingCalendar: Sendable {
    public let settings: CryptoSettings
    private let calendar: Calendar
    private let offsets: OffsetCache

    public init(settings: CryptoSettings) {
        self.settings = settings
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = settings.marketTimeZone
        self.calendar = calendar
        self.offsets = OffsetCache(timeZone: settings.marketTimeZone)
    }

    /// Wall-clock fields of `date` on the market's clock, by arithmetic on the UTC offset
    /// (Calendar.dateComponents costs microseconds; this is on every order check).
    public func wallClock(_ date: Date) -> (year: Int, month: Int, day: Int, weekday: Int, hour: Int) {
        let seconds = Int(date.timeIntervalSince1970.rounded(.down))
            + offsets.secondsFromGMT(for: date)
        let days = Int((Double(seconds) / 86_400).rounded(.down))
        let hour = (seconds - days * 86_400) / 3600
        // 1 January 1970 was a Thursday; weekday 1 is Sunday, as in Calendar.
        let weekday = ((days % 7) + 7 + 4) % 7 + 1
        // Civil date from days since 1970 (Howard Hinnant's algorithm).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        return (year, month, day, weekday, hour)
    }

    /// Whether `date` falls in the weekend window, Friday 16:00 to Sunday 03:00 market time,
    /// when only closing trades (sells) are taken.
    public func isClosingOnly(_ date: Date) -> Bool {
        let clock = wallClock(date)
        switch clock.weekday {
        case 6: return clock.hour >= settings.weekendStartHour  // Friday
        case 7: return true                                      // Saturday
        case 1: return clock.hour < settings.weekendEndHour      // Sunday
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
        let clock = wallClock(date)
        guard (1000...9999).contains(clock.year) else {
            return "\(clock.year)-\(clock.month < 10 ? "0" : "")\(clock.month)"
        }
        // Every order check asks for the month: written digit by digit into a small string, which
        // needs no allocation, instead of through string interpolation.
        func digit(_ value: Int) -> UInt8 { UInt8(ascii: "0") + UInt8(value) }
        return String(unsafeUninitializedCapacity: 7) { text in
            text[0] = digit(clock.year / 1000)
            text[1] = digit(clock.year / 100 % 10)
            text[2] = digit(clock.year / 10 % 10)
            text[3] = digit(clock.year % 10)
            text[4] = UInt8(ascii: "-")
            text[5] = digit(clock.month / 10)
            text[6] = digit(clock.month % 10)
            return 7
        }
    }

    /// The calendar day of `date` on the market's clock, "YYYY-MM-DD".
    public func day(of date: Date) -> String {
        let clock = wallClock(date)
        return month(of: date) + "-\(clock.day < 10 ? "0" : "")\(clock.day)"
    }

    /// Number of days in a "YYYY-MM" month; nil when the text is not a month.
    public func daysIn(month: String) -> Int? {
        let parts = month.split(separator: "-")
        guard parts.count == 2, parts[0].count == 4, parts[1].count == 2,
              month.utf8.allSatisfy({ $0 == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) }), let year = Int(parts[0]), let number = Int(parts[1]), (1...12).contains(number),
              let first = calendar.date(from: DateComponents(year: year, month: number, day: 1)),
              let range = calendar.range(of: .day, in: .month, for: first) else { return nil }
        return range.count
    }
}

/// The market time zone's UTC offset, remembered until its next DST transition: a time
/// zone lookup goes through ICU and costs more than the rest of an order check.
final class OffsetCache: Sendable {
    private struct Span {
        let from: Date
        let until: Date
        let offset: Int
    }

    private let timeZone: TimeZone
    private let span = Mutex<Span?>(nil)

    init(timeZone: TimeZone) {
        self.timeZone = timeZone
    }

    func secondsFromGMT(for date: Date) -> Int {
        if let span = span.withLock({ $0 }), date >= span.from, date < span.until {
            return span.offset
        }
        let offset = timeZone.secondsFromGMT(for: date)
        let until = timeZone.nextDaylightSavingTimeTransition(after: date) ?? .distantFuture
        // Only when no transition lies between `date` and the next one (the offset holds throughout).
        if timeZone.secondsFromGMT(for: until.addingTimeInterval(-1)) == offset {
            span.withLock { $0 = Span(from: date, until: until, offset: offset) }
        }
        return offset
    }
}
