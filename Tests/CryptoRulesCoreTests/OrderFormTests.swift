import CryptoRulesCore
import Foundation
import Testing

@Suite("CRY-03, CRY-04, CRY-05: what can be ordered")
struct OrderFormTests {
    @Test func testCRY03_onlyBitcoinAndEther() throws {
        var intent = Fixture.marketBuy(100)
        intent.asset = nil
        #expect(Fixture.evaluate(intent).refusal?.ruleID == "CRY-03")
        intent.asset = .eth
        #expect(Fixture.evaluate(intent, mark: Fixture.mark(3_000)).order != nil)
    }

    @Test func testCRY04_marketOrderIsGivenInCashValueOnly() throws {
        let byQuantity = OrderIntent(asset: .btc, side: .buy, type: .market, quantity: 1, timeInForce: .ioc)
        #expect(Fixture.evaluate(byQuantity).refusal?.ruleID == "CRY-04")
        let order = Fixture.evaluate(Fixture.marketBuy(10_000)).order
        #expect(order?.tradeValue == 10_000)
        #expect(order?.quantity == nil)
    }

    @Test func testCRY04_limitOrderNeedsAPriceAndQuantityOrValue() throws {
        let noPrice = OrderIntent(asset: .btc, side: .buy, type: .limit, quantity: 1, timeInForce: .ioc)
        #expect(Fixture.evaluate(noPrice).refusal?.ruleID == "CRY-04")
        let both = Fixture.limit(.buy, quantity: 1, cash: 100, price: 50_000)
        #expect(Fixture.evaluate(both).refusal?.ruleID == "CRY-04")
        let neither = Fixture.limit(.buy, price: 50_000)
        #expect(Fixture.evaluate(neither).refusal?.ruleID == "CRY-04")
        var noType = Fixture.marketBuy(100)
        noType.type = nil
        #expect(Fixture.evaluate(noType).refusal?.ruleID == "CRY-04")
    }

    @Test func testCRY04_limitCashValueIsConvertedAtTheLimitPriceRoundedDown() throws {
        // 1000 / 30000 = 0.0333333333...; rounded down to 0.00000001.
        let order = Fixture.evaluate(Fixture.limit(.buy, cash: 1_000, price: 30_000)).order
        #expect(order?.quantity == Fixture.d("0.03333333"))
        #expect(try order?.tradeValue == Fixture.d("0.03333333") * 30_000)
        #expect(order!.tradeValue <= 1_000)
    }

    @Test func testCRY04_nonPositiveAmountsAreRefused() throws {
        #expect(Fixture.evaluate(Fixture.marketBuy(0)).refusal?.ruleID == "CRY-04")
        #expect(Fixture.evaluate(Fixture.limit(.buy, quantity: 1, price: -5)).refusal?.ruleID == "CRY-04")
    }

    @Test func testCRY05_minimumIsTenDollarsOfTradeValue() throws {
        #expect(Fixture.evaluate(Fixture.marketBuy(10)).order != nil)
        #expect(Fixture.evaluate(Fixture.marketBuy(Fixture.d("9.99"))).refusal?.ruleID == "CRY-05")
        // Quantity times price: 0.0002 * 50000 = 10 exactly, and just under.
        #expect(Fixture.evaluate(Fixture.limit(.buy, quantity: Fixture.d("0.0002"), price: 50_000)).order != nil)
        let under = Fixture.evaluate(Fixture.limit(.buy, quantity: Fixture.d("0.00019999"), price: 50_000))
        #expect(under.refusal?.ruleID == "CRY-05")
    }

    @Test func testCRY05_valueBelowOneQuantityStepIsRefused() throws {
        let dust = Fixture.evaluate(Fixture.limit(.buy, cash: Fixture.d("0.0000001"), price: 50_000))
        #expect(dust.refusal?.ruleID == "CRY-05")
    }
}
