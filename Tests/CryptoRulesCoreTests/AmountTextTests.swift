import CryptoRulesCore
import Testing

/// Amounts go to and from text at every boundary (requests, replies, the database): parsing and
/// printing must be exact at every number of places, and so must rounding.
@Suite("Amounts as text and rounded")
struct AmountTextTests {
    @Test func everyNumberOfPlacesReadsAndPrintsBackExactly() throws {
        var fraction = ""
        for places in 0...Amount.scale {
            if places > 0 { fraction += String((places % 9) + 1) }
            for whole in ["0", "7", "12345678901234567890"] {
                let text = places == 0 ? whole : whole + "." + fraction
                let amount = try #require(Amount(text), "\(text)")
                #expect(amount.description == text)
                #expect(Amount("-" + text)?.description == (text == "0" ? "0" : "-" + text))
            }
        }
        #expect(Amount("2.50")?.description == "2.5")
        #expect(Amount("0.000000000000000001")?.units == 1)
        #expect(Amount("1")?.units == 1_000_000_000_000_000_000)
        #expect(Amount("0.0000000000000000001") == nil, "19 places")
        #expect(Amount("123456789012345678901") == nil, "21 whole digits")
        for bad in ["", ".", "1.", ".5", "1.2.3", "--1", "1-", "1e5", " 1", "1,000"] {
            #expect(Amount(bad) == nil, "\(bad)")
        }
    }

    @Test func roundingAtEveryNumberOfPlaces() throws {
        let value = try #require(Amount("9.876543210987654321"))
        let expected = ["10", "9.9", "9.88", "9.877", "9.8765", "9.87654", "9.876543", "9.8765432", "9.87654321",
                        "9.876543211", "9.8765432110", "9.87654321099", "9.876543210988", "9.8765432109877",
                        "9.87654321098765", "9.876543210987654", "9.8765432109876543", "9.87654321098765432",
                        "9.876543210987654321"]
        for places in 0...Amount.scale {
            let rounded = value.rounded(places: places, .halfUp)
            #expect(rounded == Amount(expected[places]), "\(places) places: \(rounded)")
            #expect(value.rounded(places: places, .down) <= value)
        }
        #expect(try #require(Amount("-2.5")).rounded(places: 0, .halfUp) == Amount("-3"))
        #expect(try #require(Amount("-2.5")).rounded(places: 0, .down) == Amount("-2"))
    }
}
