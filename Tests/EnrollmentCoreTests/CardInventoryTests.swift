import EnrollmentCore
import Testing

@Suite("The DSC+ card inventory file (ENR-02)")
struct CardInventoryTests {
    @Test func cardsAreReadLineByLineWithCommentsAndBlanks() throws {
        let cards = try CardInventory.parse("""
            # serial, seed (hex), OCRA suite
            DSC0001, 3132333435363738393031323334353637383930, OCRA-1:HOTP-SHA1-8:QN06

            DSC0002,3132333435363738393031323334353637383930313233343536373839303132,OCRA-1:HOTP-SHA256-8:QN08
            """)
        #expect(cards.map(\.serial) == ["DSC0001", "DSC0002"])
        #expect(cards[0].seed == Array("12345678901234567890".utf8))
        #expect(cards[1].suite == "OCRA-1:HOTP-SHA256-8:QN08")
    }

    @Test func aBadLineIsNamedWithoutShowingTheSeed() {
        let seed = "3132333435363738393031323334353637383930"
        for (text, problem) in [
            ("DSC1,\(seed)", "3 fields"),
            ("DSC 1,\(seed),OCRA-1:HOTP-SHA1-8:QN06", "serial"),
            ("DSC1,31zz,OCRA-1:HOTP-SHA1-8:QN06", "seed"),
            ("DSC1,3132,OCRA-1:HOTP-SHA1-8:QN06", "seed"),
            ("DSC1,\(seed),HOTP", "suite"),
            ("DSC1,\(seed),OCRA-1:HOTP-MD5-8:QN06", "suite"),
            ("DSC1,\(seed),OCRA-1:HOTP-SHA1-8:QN06-PSHA1", "suite"),
            ("DSC1,\(seed),OCRA-1:HOTP-SHA1-8:QN06\nDSC1,\(seed),OCRA-1:HOTP-SHA1-8:QN06", "twice"),
        ] {
            let error = #expect(throws: CardInventoryError.self) { _ = try CardInventory.parse(text) }
            #expect(error?.description.contains(problem) == true, "\(text): \(String(describing: error))")
            #expect(error?.description.contains(seed) == false)
        }
    }
}
