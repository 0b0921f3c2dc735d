import CryptoRulesCore
import Testing

@Suite("Amount arithmetic refuses instead of trapping")
struct AmountOverflowTests {
    private func d(_ text: String) -> Amount { Amount(text)! }

    @Test func signsOfQuotientsAreRightAndCutTowardZero() throws {
        #expect(try d("7") / d("2") == d("3.5"))
        #expect(try d("-7") / d("2") == d("-3.5"))
        #expect(try d("7") / d("-2") == d("-3.5"))
        #expect(try d("-7") / d("-2") == d("3.5"))
        #expect(try d("1") / d("3") == d("0.333333333333333333"))
        #expect(try d("-1") / d("3") == d("-0.333333333333333333"), "cut toward zero, not down")
        #expect(try d("-2") * d("3.5") == d("-7"))
    }

    @Test func resultsThatDoNotFitThrow() throws {
        let huge = Amount(units: .max)
        #expect(throws: AmountOverflow.self) { try huge + Amount(units: 1) }
        #expect(throws: AmountOverflow.self) { try Amount(units: .min) - Amount(units: 1) }
        #expect(throws: AmountOverflow.self) { try -Amount(units: .min) }
        #expect(throws: AmountOverflow.self) { try huge * d("2") }
        #expect(throws: AmountOverflow.self) { try d("1") / .zero }
        #expect(throws: AmountOverflow.self) { try huge / d("0.5") }
        // Both negative, quotient exactly 2^127: one past Int128.max, which used to trap.
        var fiveTo18: Int128 = 1
        for _ in 0..<18 { fiveTo18 *= 5 }
        #expect(throws: AmountOverflow.self) {
            try Amount(units: -(Int128(1) << 110)) / Amount(units: -2 * fiveTo18)
        }
        // A divisor of one unit is fine when the quotient fits.
        #expect(try Amount(units: 5) / Amount(units: 1) == d("5"))
    }
}
