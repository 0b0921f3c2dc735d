/// Helpers for amounts as the rules use them. Everything is exact (see ``Amount``).
public enum Money {
    /// Parses a plain decimal string ("10", "0.00012345", "-3.5"); nil for anything else.
    public static func parse(_ text: String) -> Amount? {
        Amount(text)
    }

    /// Rounds down to a whole number of `increment` (e.g. 0.00000001).
    public static func floor(_ value: Amount, toMultipleOf increment: Amount) throws(AmountOverflow) -> Amount {
        guard increment > .zero else { return value }
        if let places = increment.powerOfTenPlaces { return value.rounded(places: places, .down) }
        let steps = try (value / increment).rounded(places: 0, .down)
        return try steps * increment
    }

    /// USD rounded to cents, half up.
    public static func cents(_ value: Amount) -> Amount {
        value.rounded(places: 2, .halfUp)
    }

    /// The canonical text form, as it goes into the database and onto the wire.
    public static func text(_ value: Amount) -> String {
        value.description
    }
}
