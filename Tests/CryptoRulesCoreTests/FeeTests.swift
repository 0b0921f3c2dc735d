import CryptoRulesCore
import Foundation
import Testing

@Suite("CRY-10, CRY-11: commission and custody")
struct FeeTests {
    @Test func testCRY10_tiersByTheMonthsVolumeBeforeTheOrder() throws {
        let settings = Fixture.settings
        #expect(Fees.commissionRate(monthVolume: 0, settings: settings) == Fixture.d("0.0030"))
        #expect(Fees.commissionRate(monthVolume: 100_000, settings: settings) == Fixture.d("0.0030"))
        #expect(Fees.commissionRate(monthVolume: Fixture.d("100000.01"), settings: settings) == Fixture.d("0.0025"))
        #expect(Fees.commissionRate(monthVolume: 1_000_000, settings: settings) == Fixture.d("0.0025"))
        #expect(Fees.commissionRate(monthVolume: Fixture.d("1000000.01"), settings: settings) == Fixture.d("0.0020"))
    }

    @Test func testCRY10_minimumIsTwoDollarsTwentyFive() throws {
        let settings = Fixture.settings
        #expect(try Fees.commission(tradeValue: 100, monthVolume: 0, settings: settings) == Fixture.d("2.25"))
        #expect(try Fees.commission(tradeValue: 750, monthVolume: 0, settings: settings) == Fixture.d("2.25"))
        #expect(try Fees.commission(tradeValue: 10_000, monthVolume: 0, settings: settings) == 30)
        #expect(try Fees.commission(tradeValue: 10_000, monthVolume: 2_000_000, settings: settings) == 20)
        #expect(try Fees.fillCommission(fillValue: 100, isFirstFill: false, monthVolume: 0, settings: settings)
                == Fixture.d("0.3"))
        #expect(try Fees.fillCommission(fillValue: 100, isFirstFill: true, monthVolume: 0, settings: settings)
                == Fixture.d("2.25"))
    }

    @Test func testCRY10_checkEstimatesCommission() throws {
        #expect(Fixture.evaluate(Fixture.marketBuy(10_000)).order?.commission == 30)
        #expect(Fixture.evaluate(Fixture.marketBuy(10_000)).order?.reservedCash == 10_030)
    }

    @Test func testCRY11_custodyIsEightBasisPointsOfTheAverageDailyValue() throws {
        let settings = Fixture.settings
        // 30 days at 100,000 -> average 100,000 -> fee 80.
        let full = try Fees.custodyFee(dailyValues: Array(repeating: 100_000, count: 30), daysInMonth: 30, settings: settings)
        #expect(full.average == 100_000)
        #expect(full.fee == 80)
        // Held for 15 of 30 days: average 50,000, fee 40.
        #expect(try Fees.custodyFee(dailyValues: Array(repeating: 100_000, count: 15), daysInMonth: 30,
                                settings: settings).fee == 40)
    }

    @Test func testSettingsParseCommissionTiers() throws {
        let tiers = CryptoSettings.parseTiers("100000:0.0030,1000000:0.0025,:0.0020")
        #expect(tiers?.count == 3)
        #expect(tiers?.last?.upTo == nil)
        #expect(CryptoSettings.parseTiers("100000:0.003") == nil)
        #expect(CryptoSettings.parseTiers("abc:0.1,:0.2") == nil)
    }
}
