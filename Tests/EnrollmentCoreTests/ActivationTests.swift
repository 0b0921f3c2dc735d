import EnrollmentCore
import Foundation
import Testing

private let settings = EnrollmentSettings()
private let issued = Date(timeIntervalSince1970: 1_800_000_000)

@Suite("IB Key activation strings and attempts (ENR-04 to ENR-07)")
struct ActivationTests {
    @Test func testENR04_theStringIsEasyToTypeAndReadsBackWhateverTheCaseAndSeparators() throws {
        let code = ActivationCode.generate(length: settings.activationCodeLength)
        #expect(code.characters.count == 16)
        #expect(code.characters.allSatisfy { ActivationCode.alphabet.contains($0) })
        #expect(!code.characters.contains { "01IO".contains($0) })
        let shown = code.grouped(by: settings.activationCodeGroup)
        #expect(shown.split(separator: "-").map(\.count) == [4, 4, 4, 4])
        let typed = shown.lowercased().replacingOccurrences(of: "-", with: " ")
        #expect(try ActivationCode(typed: typed, length: 16) == code)
        #expect(try ActivationCode(typed: typed, length: 16).digest == code.digest)
        // Two strings are (overwhelmingly) different, and the description never shows one.
        #expect(ActivationCode.generate(length: 16) != code)
        #expect(!String(describing: code).contains(code.characters))
    }

    @Test func testENR04_badTypingIsNamedWithoutRepeatingTheInput() {
        #expect(throws: ActivationCodeError.notInAlphabet(position: 3)) { _ = try ActivationCode(typed: "AB0DEFGHJKLMNPQR", length: 16) }
        #expect(throws: ActivationCodeError.notInAlphabet(position: 1)) { _ = try ActivationCode(typed: "éBCDEFGHJKLMNPQR", length: 16) }
        #expect(throws: ActivationCodeError.wrongLength(expected: 16, got: 15)) { _ = try ActivationCode(typed: "ABCDEFGHJKLMNPQ", length: 16) }
        #expect(throws: ActivationCodeError.wrongLength(expected: 16, got: 0)) { _ = try ActivationCode(typed: "", length: 16) }
        #expect(throws: ActivationCodeError.tooLong(limit: 64)) {
            _ = try ActivationCode(typed: String(repeating: "A", count: 1 << 20), length: 16)
        }
    }

    @Test func testENR06_theStringExpiresTenMinutesAfterItWasIssued() {
        let pending = PendingActivation(userName: "u1", issuedAt: issued)
        let justInTime = ActivationRules.decide(pending, userHasIBKey: false, platform: .ios, pin: nil,
                                                now: issued.addingTimeInterval(599), settings: settings)
        #expect(justInTime == nil)
        let late = ActivationRules.decide(pending, userHasIBKey: false, platform: .ios, pin: nil,
                                          now: issued.addingTimeInterval(600), settings: settings)
        #expect(late == .expired)
    }

    @Test func testENR06_ENR07_aConsumedStringIsRefusedWhateverTheFirstAttemptCameTo() {
        let used = PendingActivation(userName: "u1", issuedAt: issued, consumedAt: issued.addingTimeInterval(5))
        let again = ActivationRules.decide(used, userHasIBKey: false, platform: .android, pin: "1234",
                                           now: issued.addingTimeInterval(10), settings: settings)
        #expect(again == .alreadyUsed)
        // Used up and expired: used up is the cause that happened first.
        let late = ActivationRules.decide(used, userHasIBKey: false, platform: .android, pin: "1234",
                                          now: issued.addingTimeInterval(3600), settings: settings)
        #expect(late == .alreadyUsed)
    }

    @Test func testENR07_alreadyEnrolledKeepsTheHeadlineAndNamesCauseAndRemedy() throws {
        let pending = PendingActivation(userName: "u1", issuedAt: issued)
        let result = ActivationRules.decide(pending, userHasIBKey: true, platform: .ios, pin: nil,
                                            now: issued.addingTimeInterval(1), settings: settings)
        let refusal = try #require(result)
        #expect(refusal == .alreadyEnrolled)
        #expect(refusal.description.hasPrefix("An error has occurred. Please try again."))
        #expect(refusal.description.contains("already enrolled"))
        #expect(refusal.description.contains("log in again"))
        #expect(ActivationRefusal.expired.description.contains("fresh QR code"))
        #expect(refusal.ruleID == "ENR-07")
    }

    @Test func testENR05_androidPinsOfFourToSixCharactersLettersDigitsAndSpecials() {
        for pin in ["1234", "a1b2c3", "P@s5", "!#%&*("] {
            #expect(PinRule.problem(with: pin, on: .android, settings: settings) == nil, "\(pin)")
        }
        for pin in ["123", "1234567", "", "12 34", "12é4", "123\u{0}"] {
            #expect(PinRule.problem(with: pin, on: .android, settings: settings) != nil, "\(pin)")
        }
        #expect(PinRule.problem(with: nil, on: .android, settings: settings) != nil)
        // The message never repeats the PIN.
        #expect(PinRule.problem(with: "7654321", on: .android, settings: settings)?.contains("7654321") == false)
        let pending = PendingActivation(userName: "u1", issuedAt: issued)
        let refused = ActivationRules.decide(pending, userHasIBKey: false, platform: .android, pin: "123",
                                             now: issued.addingTimeInterval(1), settings: settings)
        #expect(refused?.ruleID == "ENR-05")
        #expect(refused?.description.hasPrefix(ActivationRefusal.headline) == true)
    }

    @Test func testENR05_iosSendsNoPinAtAll() {
        #expect(PinRule.problem(with: nil, on: .ios, settings: settings) == nil)
        #expect(PinRule.problem(with: "1234", on: .ios, settings: settings) != nil)
    }
}

@Suite("Which factors a user may hold (ENR-02, ENR-03, ENR-10)")
struct FactorEligibilityTests {
    @Test func testENR02_dscPlusOnlyOverFiveHundredThousandDollars() {
        #expect(FactorEligibility.problem(adding: .dscPlus, balanceUSD: Decimal(string: "500000"), settings: settings) != nil)
        #expect(FactorEligibility.problem(adding: .dscPlus, balanceUSD: Decimal(string: "500000.01"), settings: settings) == nil)
        #expect(FactorEligibility.problem(adding: .dscPlus, balanceUSD: nil, settings: settings) != nil)
        #expect(FactorEligibility.problem(adding: .dscPlus, balanceUSD: Decimal(string: "500000"), settings: settings)?
            .contains("over USD 500000") == true)
    }

    @Test func testENR02_ENR03_smsAndIBKeyForEveryone() {
        for kind in [FactorKind.sms, .ibKey] {
            #expect(FactorEligibility.problem(adding: kind, balanceUSD: 0, settings: settings) == nil)
        }
    }

    @Test func testENR10_theBannerShowsUntilIBKeyIsActive() {
        #expect(FactorEligibility.recommendsIBKey(activeFactors: [.sms]))
        #expect(FactorEligibility.recommendsIBKey(activeFactors: [.sms, .dscPlus]))
        #expect(!FactorEligibility.recommendsIBKey(activeFactors: [.sms, .ibKey]))
    }
}
