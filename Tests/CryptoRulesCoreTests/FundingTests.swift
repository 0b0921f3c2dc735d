import CryptoRulesCore
import Foundation
import Testing

@Suite("CRY-06, CRY-09: no margin, no shorting, the holdings cap")
struct FundingTests {
    @Test func testCRY06_buyMustBePaidInFullFromAvailableCash() throws {
        // 1000 + commission max(3.00, 2.25) = 1003.00
        #expect(Fixture.evaluate(Fixture.marketBuy(1_000), account: Fixture.account(cash: 1_003)).order != nil)
        let short = Fixture.evaluate(Fixture.marketBuy(1_000), account: Fixture.account(cash: Fixture.d("1002.99")))
        #expect(short.refusal?.ruleID == "CRY-06")
        // Cash held back by open buys is not available.
        let reserved = Fixture.evaluate(Fixture.marketBuy(1_000),
                                        account: Fixture.account(cash: 1_003, reservedCash: Fixture.d("0.01")))
        #expect(reserved.refusal?.ruleID == "CRY-06")
    }

    @Test func testCRY06_cryptoPositionsGiveNoBuyingPower() throws {
        let account = Fixture.account(cash: 0, equity: 10_000_000, btc: 10)
        #expect(Fixture.evaluate(Fixture.marketBuy(100), account: account).refusal?.ruleID == "CRY-06")
    }

    @Test func testCRY06_sellNeverExceedsHeldLessPendingSells() throws {
        let account = Fixture.account(btc: 1, pendingSells: Fixture.d("0.4"))
        #expect(Fixture.evaluate(Fixture.limit(.sell, quantity: Fixture.d("0.6"), price: 50_000), account: account).order != nil)
        let over = Fixture.evaluate(Fixture.limit(.sell, quantity: Fixture.d("0.60000001"), price: 50_000), account: account)
        #expect(over.refusal?.ruleID == "CRY-06")
        #expect(Fixture.evaluate(Fixture.limit(.sell, quantity: 1, price: 50_000), account: Fixture.account()).refusal?.ruleID
                == "CRY-06")
    }

    @Test func testCRY06_marketSellQuantityIsEstimatedAtTheMarkPrice() throws {
        let sell = OrderIntent(asset: .btc, side: .sell, type: .market, cashValue: 25_000, timeInForce: .ioc)
        #expect(Fixture.evaluate(sell, account: Fixture.account(btc: Fixture.d("0.5"))).order?.quantity == Fixture.d("0.5"))
        #expect(Fixture.evaluate(sell, account: Fixture.account(btc: Fixture.d("0.49999999"))).refusal?.ruleID == "CRY-06")
    }

    @Test func testCRY09_capIsTenPercentOfEquityIncludingPositionsAndOpenBuys() throws {
        // Equity 200,000 -> cap 20,000. Held 0.1 BTC at 50,000 = 5,000; open buys 5,000; room 10,000.
        let account = Fixture.account(cash: 100_000, equity: 200_000, btc: Fixture.d("0.1"), openBuys: 5_000)
        #expect(Fixture.evaluate(Fixture.marketBuy(10_000), account: account).order != nil)
        let over = Fixture.evaluate(Fixture.marketBuy(Fixture.d("10000.01")), account: account)
        #expect(over.refusal?.ruleID == "CRY-09")
    }

    @Test func testCRY09_capIsAtMostOneMillionDollars() throws {
        #expect(try Fixture.engine.holdingsCap(totalEquity: 20_000_000) == 1_000_000)
        #expect(try Fixture.engine.holdingsCap(totalEquity: 5_000_000) == 500_000)
        let rich = Fixture.account(cash: 5_000_000, equity: 50_000_000)
        #expect(Fixture.evaluate(Fixture.marketBuy(1_000_000), account: rich).order != nil)
        #expect(Fixture.evaluate(Fixture.marketBuy(Fixture.d("1000000.01")), account: rich).refusal?.ruleID == "CRY-09")
    }

    @Test func testPriceMissingOrStaleRefusesBuysButNotLimitSells() throws {
        #expect(Fixture.evaluate(Fixture.marketBuy(100), mark: nil).refusal?.kind == .missingInput)
        let stale = Fixture.mark(at: Fixture.weekday.addingTimeInterval(-61))
        #expect(Fixture.evaluate(Fixture.marketBuy(100), mark: stale).refusal?.kind == .missingInput)
        let fresh = Fixture.mark(at: Fixture.weekday.addingTimeInterval(-60))
        #expect(Fixture.evaluate(Fixture.marketBuy(100), mark: fresh).order != nil)
        let sell = Fixture.limit(.sell, quantity: Fixture.d("0.1"), price: 50_000)
        #expect(Fixture.evaluate(sell, account: Fixture.account(btc: 1), mark: nil).order != nil)
    }
}
