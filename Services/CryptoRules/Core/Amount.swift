/// An exact decimal amount: money, prices, quantities and rates.
///
/// Stored as a 128-bit integer count of 10⁻¹⁸ units, so sums and comparisons are integer
/// operations and products and quotients are exact to 18 decimal places (a quotient is cut
/// there, toward zero). Foundation's `Amount` gives the same exactness but allocates on
/// every operation, which made it most of the cost of an order check. Never floating point.
public struct Amount: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Amount places kept.
    public static let scale = 18
    static let one: Int128 = 1_000_000_000_000_000_000
    /// 10⁰ to 10¹⁸: steps of every number of places, looked up rather than multiplied out.
    static let powersOfTen: [Int128] = (0...scale).map { places in
        (0..<places).reduce(Int128(1)) { power, _ in power * 10 }
    }
    /// Largest whole part accepted from text: far beyond any amount here, far below overflow.
    static let maximumWholeDigits = 20

    /// The value in units of 10⁻¹⁸.
    public let units: Int128

    public init(units: Int128) {
        self.units = units
    }

    public init(_ integer: Int) {
        units = Int128(integer) * Self.one
    }

    public static let zero = Amount(units: 0)

    /// Parses a plain decimal string ("10", "0.00012345", "-3.5"); nil for anything else
    /// (exponents, separators, spaces, more than 18 decimals or 20 whole digits).
    public init?(_ text: String) {
        var whole: Int128 = 0
        var fraction: Int128 = 0
        var wholeDigits = 0
        var fractionDigits = 0
        var negative = false
        var sawPoint = false
        var lastWasDigit = false
        for (index, byte) in text.utf8.enumerated() {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                let digit = Int128(byte - UInt8(ascii: "0"))
                if sawPoint {
                    fractionDigits += 1
                    guard fractionDigits <= Self.scale else { return nil }
                    fraction = fraction * 10 + digit
                } else {
                    wholeDigits += 1
                    guard wholeDigits <= Self.maximumWholeDigits else { return nil }
                    whole = whole * 10 + digit
                }
                lastWasDigit = true
            case UInt8(ascii: ".") where !sawPoint && lastWasDigit:
                sawPoint = true
                lastWasDigit = false
            case UInt8(ascii: "-") where index == 0:
                negative = true
            default:
                return nil
            }
        }
        guard lastWasDigit else { return nil }
        fraction *= Self.powersOfTen[Self.scale - fractionDigits]
        let units = whole * Self.one + fraction
        self.units = negative ? -units : units
    }

    /// The plain decimal text, without trailing zeros: "10", "0.03333333", "-2.5".
    public var description: String {
        // One 128-bit division for both parts.
        let (whole, remainder) = units.magnitude.quotientAndRemainder(dividingBy: UInt128(Self.one))
        // The fraction is below 10^18 and so fits 64 bits; so does any realistic whole part.
        // Converting through UInt64 avoids the much slower generic 128-bit text conversion.
        var fraction = UInt64(remainder)
        let wholeText = whole <= UInt128(UInt64.max) ? String(UInt64(whole)) : String(whole)
        var text = (units < 0 ? "-" : "") + wholeText
        guard fraction != 0 else { return text }
        var digits = Self.scale
        while fraction % 10 == 0 {
            fraction /= 10
            digits -= 1
        }
        let fractionText = String(fraction)
        text += "." + String(repeating: "0", count: digits - fractionText.count) + fractionText
        return text
    }

    public static func < (lhs: Amount, rhs: Amount) -> Bool { lhs.units < rhs.units }

    // Arithmetic is checked: a result that does not fit throws ``AmountOverflow`` instead of
    // trapping, so no value from outside can stop the process.

    public static func + (lhs: Amount, rhs: Amount) throws(AmountOverflow) -> Amount {
        let (sum, overflow) = lhs.units.addingReportingOverflow(rhs.units)
        guard !overflow else { throw AmountOverflow() }
        return Amount(units: sum)
    }

    public static func - (lhs: Amount, rhs: Amount) throws(AmountOverflow) -> Amount {
        let (difference, overflow) = lhs.units.subtractingReportingOverflow(rhs.units)
        guard !overflow else { throw AmountOverflow() }
        return Amount(units: difference)
    }

    public static prefix func - (value: Amount) throws(AmountOverflow) -> Amount {
        guard value.units != .min else { throw AmountOverflow() }
        return Amount(units: -value.units)
    }

    public static func += (lhs: inout Amount, rhs: Amount) throws(AmountOverflow) { lhs = try lhs + rhs }
    public static func -= (lhs: inout Amount, rhs: Amount) throws(AmountOverflow) { lhs = try lhs - rhs }

    /// The exact product, cut to 18 decimals toward zero.
    public static func * (lhs: Amount, rhs: Amount) throws(AmountOverflow) -> Amount {
        try Amount(units: Self.divide(lhs.units.multipliedFullWidth(by: rhs.units), by: Self.one))
    }

    public static func *= (lhs: inout Amount, rhs: Amount) throws(AmountOverflow) { lhs = try lhs * rhs }

    /// The quotient to 18 decimals, cut toward zero. Dividing by zero throws too.
    public static func / (lhs: Amount, rhs: Amount) throws(AmountOverflow) -> Amount {
        guard rhs.units != 0 else { throw AmountOverflow() }
        return try Amount(units: Self.divide(lhs.units.multipliedFullWidth(by: Self.one), by: rhs.units))
    }

    /// A 256-bit dividend divided by `divisor`, cut toward zero, when the quotient fits 128
    /// bits (where `dividingFullWidth` would trap): magnitudes are divided unsigned, then the sign
    /// is applied and the result checked against Int128's range.
    private static func divide(_ dividend: (high: Int128, low: UInt128), by divisor: Int128)
        throws(AmountOverflow) -> Int128 {
        var high = UInt128(bitPattern: dividend.high)
        var low = dividend.low
        if dividend.high < 0 {  // two's complement of the 256-bit value
            low = ~low &+ 1
            high = ~high &+ (low == 0 ? 1 : 0)
        }
        let divisorMagnitude = divisor.magnitude
        guard divisorMagnitude != 0, high < divisorMagnitude else { throw AmountOverflow() }
        let quotient = divisorMagnitude.dividingFullWidth((high: high, low: low)).quotient
        if (dividend.high < 0) != (divisor < 0) {
            guard quotient <= Int128.min.magnitude else { throw AmountOverflow() }
            return quotient == Int128.min.magnitude ? .min : -Int128(quotient)
        }
        guard quotient <= UInt128(Int128.max) else { throw AmountOverflow() }
        return Int128(quotient)
    }

    /// How to round to fewer decimals.
    public enum Rounding: Sendable {
        /// Toward zero (quantities sent to the venue).
        case down
        /// To the nearest, halves away from zero (money in cents).
        case halfUp
    }

    /// Rounded to `places` decimals (0...18).
    public func rounded(places: Int, _ rule: Rounding) -> Amount {
        precondition((0...Self.scale).contains(places), "places must be 0 to 18")
        let step = Self.powersOfTen[Self.scale - places]
        let (quotient, remainder) = units.quotientAndRemainder(dividingBy: step)
        var steps = quotient
        if rule == .halfUp && remainder.magnitude * 2 >= step.magnitude {
            steps += units < 0 ? -1 : 1
        }
        // Rounding away from zero can pass the largest value by one step: keep it in range.
        let (rounded, overflow) = steps.multipliedReportingOverflow(by: step)
        return Amount(units: overflow ? quotient * step : rounded)
    }

    /// The number of decimals of the smallest step `self` is a power of ten of (0.00000001 -> 8),
    /// or nil when it is not a power of ten no larger than 1.
    var powerOfTenPlaces: Int? {
        Self.powersOfTen.firstIndex(of: units).map { Self.scale - $0 }
    }
}

/// An amount that would not fit: the result of arithmetic on values far outside any real
/// order or balance. Services refuse the input that led to it.
public struct AmountOverflow: Error, Sendable, Equatable, CustomStringConvertible {
    public init() {}
    public var description: String { "the amount is out of range" }
}

extension Amount {
    /// The largest magnitude accepted from outside: 10^15 (a thousand trillion), so products of
    /// two accepted values and sums of many stay far inside the 128-bit range.
    public static let inputLimit = Amount(units: 1_000_000_000_000_000 * one)

    /// Parses `text` as ``init(_:)-(String)`` does, and also refuses values whose magnitude is
    /// ``inputLimit`` or more.
    public init?(input text: String) {
        guard let value = Amount(text), value.units.magnitude < Self.inputLimit.units.magnitude else { return nil }
        self = value
    }
}

extension Amount: ExpressibleByIntegerLiteral {
    public init(integerLiteral value: Int) {
        self.init(value)
    }
}
