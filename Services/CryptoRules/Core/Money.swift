import Foundation

/// Exact decimal arithmetic helpers: amounts and quantities are `Decimal`, never floating point.
public enum Money {
    /// Parses a plain decimal string ("10", "0.00012345", "-3.5"); nil for anything else
    /// (exponents, thousands separators, spaces inside, more than 38 digits).
    public static func parse(_ text: String) -> Decimal? {
        var digits = 0
        var sawPoint = false
        var lastWasDigit = false
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                digits += 1
                lastWasDigit = true
            case UInt8(ascii: "."):
                guard !sawPoint, lastWasDigit else { return nil }
                sawPoint = true
                lastWasDigit = false
            case UInt8(ascii: "-") where index == 0:
                lastWasDigit = false
            default:
                return nil
            }
        }
        guard lastWasDigit, digits <= 38 else { return nil }
        return Decimal(string: text, locale: posix)
    }

    private static let posix = Locale(identifier: "en_US_POSIX")

    /// Rounds to `scale` decimal places.
    public static func round(_ value: Decimal, scale: Int, mode: NSDecimalNumber.RoundingMode = .plain) -> Decimal {
        var input = value
        var output = Decimal()
        NSDecimalRound(&output, &input, scale, mode)
        return output
    }

    /// Rounds down to a whole number of `increment` (e.g. 0.00000001). A power of ten is
    /// a rounding at its scale, which spares a Decimal division (the hot path's costliest op).
    public static func floor(_ value: Decimal, toMultipleOf increment: Decimal) -> Decimal {
        guard increment > 0 else { return value }
        if increment.significand == 1 && increment.exponent <= 0 {
            return round(value, scale: -increment.exponent, mode: .down)
        }
        let steps = round(value / increment, scale: 0, mode: .down)
        return steps * increment
    }

    /// USD rounded to cents, half up.
    public static func cents(_ value: Decimal) -> Decimal {
        round(value, scale: 2, mode: .plain)
    }

    /// The canonical text form, as it goes into the database and onto the wire.
    public static func text(_ value: Decimal) -> String {
        NSDecimalNumber(decimal: value).stringValue
    }
}
