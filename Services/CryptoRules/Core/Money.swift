import Foundation

/// Exact decimal arithmetic helpers: amounts and quantities are `Decimal`, never floating point.
public enum Money {
    /// Parses a plain decimal string ("10", "0.00012345"); nil for anything else.
    public static func parse(_ text: String) -> Decimal? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty,
              trimmed.range(of: #"^-?[0-9]+(\.[0-9]+)?$"#, options: .regularExpression) != nil else { return nil }
        return Decimal(string: trimmed, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Rounds to `scale` decimal places.
    public static func round(_ value: Decimal, scale: Int, mode: NSDecimalNumber.RoundingMode = .plain) -> Decimal {
        var input = value
        var output = Decimal()
        NSDecimalRound(&output, &input, scale, mode)
        return output
    }

    /// Rounds down to a whole number of `increment` (e.g. 0.00000001).
    public static func floor(_ value: Decimal, toMultipleOf increment: Decimal) -> Decimal {
        guard increment > 0 else { return value }
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
