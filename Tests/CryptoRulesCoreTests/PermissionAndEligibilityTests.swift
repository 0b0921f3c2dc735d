import CryptoRulesCore
import Foundation
import Testing

@Suite("CRY-01, CRY-02, ACC-03: who may trade")
struct PermissionAndEligibilityTests {
    @Test func testCRY01_orderWithoutPermissionIsRefused() throws {
        var account = Fixture.account()
        account.permissionGranted = false
        let refusal = Fixture.evaluate(Fixture.marketBuy(100), account: account).refusal
        #expect(refusal?.ruleID == "CRY-01")
        #expect(refusal?.message.contains("request it") == true)
    }

    @Test func testCRY02_individualNeedsOverEightMillionHKD() throws {
        var profile = Fixture.profile
        profile.assetsHKD = 8_000_000
        #expect(Eligibility.refusal(for: profile, settings: Fixture.settings)?.ruleID == "CRY-02")
        profile.assetsHKD = Fixture.d("8000000.01")
        #expect(Eligibility.refusal(for: profile, settings: Fixture.settings) == nil)
    }

    @Test func testCRY02_institutionNeedsOverFortyMillionHKD() throws {
        var profile = Fixture.profile
        profile.investorType = .institution
        profile.assetsHKD = 40_000_000
        #expect(Eligibility.refusal(for: profile, settings: Fixture.settings)?.ruleID == "CRY-02")
        profile.assetsHKD = Fixture.d("40000000.01")
        #expect(Eligibility.refusal(for: profile, settings: Fixture.settings) == nil)
    }

    @Test func testCRY02_onlyHongKongResidentProfessionalInvestors() throws {
        var profile = Fixture.profile
        profile.hongKongResident = false
        #expect(Eligibility.refusal(for: profile, settings: Fixture.settings)?.message.contains("Hong Kong") == true)
        profile = Fixture.profile
        profile.professionalInvestor = false
        #expect(Eligibility.refusal(for: profile, settings: Fixture.settings)?.message.contains("Professional") == true)
        #expect(Eligibility.refusal(for: nil, settings: Fixture.settings)?.ruleID == "CRY-02")
    }

    @Test func testCRY02_profileThatBecameIneligibleStopsOrders() throws {
        var account = Fixture.account()
        account.profile?.professionalInvestor = false
        #expect(Fixture.evaluate(Fixture.marketBuy(100), account: account).refusal?.ruleID == "CRY-02")
    }

    @Test func testACC03_unverifiedMobileNumberRestrictsTrading() throws {
        var account = Fixture.account()
        account.profile?.mobileVerified = false
        let refusal = Fixture.evaluate(Fixture.marketBuy(100), account: account).refusal
        #expect(refusal?.ruleID == "ACC-03")
        #expect(refusal?.message.contains("SMS") == true)
    }
}
