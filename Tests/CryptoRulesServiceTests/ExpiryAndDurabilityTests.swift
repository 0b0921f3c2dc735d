import CryptoRulesCore
@testable import CryptoRulesService
import Foundation
import SLSMessages
import SLSBus
import Testing
import SLSTesting

@Suite("crypto-rules expiry, restarts and fees", .serialized)
struct ExpiryAndDurabilityTests {
    @Test func testCRY08_minutesOrderIsOpenAt459AndExpiredAt500() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let order = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.1", at: "50000", tif: .minutes))
        harness.clock.advance(299)
        #expect(await harness.service.expireOrders() == 0)
        #expect(try harness.state().openOrders.map(\.orderID) == [order.orderID])
        harness.clock.advance(1)
        #expect(await harness.service.expireOrders() == 1)
        let state = try harness.state()
        #expect(state.openOrders.isEmpty)
        #expect(state.availableCash == "100000")
        #expect(try harness.outboxTypes().last == OrderClosed.protoName)
        // Closed orders leave memory; the database keeps them.
        #expect(harness.service.book.withLock { $0.orders.isEmpty })
        #expect(try await harness.database.read { try CryptoStore.order(id: order.orderID, $0) }?.status == .expired)
    }

    @Test func testCRY08_dayOrderExpiresAtTheEndOfTheTradingDay() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("1", at: "50000"))
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "F1", quantity: "1", price: "50000"))
        let sell = try await harness.service.placeOrder(OrderRequest(accountID: "U1", asset: .btc, side: .sell, type: .limit,
                                                               quantity: "0.5", limitPrice: "70000", timeInForce: .day))
        #expect(sell.expiresUnixMs == ServiceHarness.newYork(2026, 11, 24, 16).unixMs)
        harness.clock.set(ServiceHarness.newYork(2026, 11, 24, 15, 59))
        #expect(await harness.service.expireOrders() == 0)
        harness.clock.set(ServiceHarness.newYork(2026, 11, 24, 16))
        #expect(await harness.service.expireOrders() == 1)
    }

    @Test func testCRY08_unfilledIOCOrderIsCancelled() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        _ = try await harness.service.placeOrder(OrderRequest(accountID: "U1", asset: .btc, side: .buy, type: .market,
                                                        cashValue: "1000", timeInForce: .ioc))
        harness.clock.advance(9)
        #expect(await harness.service.expireOrders() == 0)
        harness.clock.advance(1)
        #expect(await harness.service.expireOrders() == 1)
    }

    @Test func testExpirySurvivesARestart() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let order = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.1", at: "50000", tif: .minutes))
        // Down from 1 minute to 10 minutes after acceptance.
        harness.clock.advance(600)
        try harness.restart()
        #expect(try harness.state().openOrders.map(\.orderID) == [order.orderID])
        #expect(await harness.service.expireOrders() == 1)
        #expect(try harness.state().openOrders.isEmpty)
    }

    @Test func testCRY12_stateIsReloadedExactlyAfterARestart() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.2", at: "50000", tif: .minutes))
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "F1", quantity: "0.05", price: "50000"))
        _ = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "40000", tif: .ioc))
        let before = try harness.state()
        try harness.restart()
        let after = try harness.state()
        #expect(after == before)
        #expect(after.openOrders.count == 2)
    }

    @Test func testCRY11_monthlyCustodyFeeOnAverageDailyValue() async throws {
        let harness = try ServiceHarness(start: ServiceHarness.newYork(2026, 11, 1, 12))
        try await harness.fundedAccount()
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("1", at: "50000"))
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "F1", quantity: "1", price: "50000"))
        let cash = try harness.state().cash
        // Held 1 BTC at 50,000 on 15 of November's 30 days.
        for _ in 0..<15 {
            try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "50000", asOfUnixMs: harness.clock.now.unixMs))
            #expect(await harness.service.snapshotHoldings() == 1)
            #expect(await harness.service.snapshotHoldings() == 1)  // a second snapshot the same day is not kept
            harness.clock.advance(86_400)
        }
        // November has not ended: nothing can be charged for it yet.
        let early = await #expect(throws: RPCError.self) {
            _ = try await harness.service.chargeCustodyFees(CustodyFeeRequest(month: "2026-11"))
        }
        #expect(early?.ruleID == "CRY-11")
        await #expect(throws: RPCError.self) { _ = try await harness.service.chargeCustodyFees(CustodyFeeRequest(month: "2027-01")) }
        harness.clock.set(ServiceHarness.newYork(2026, 12, 1, 0, 1))
        let reply = try await harness.service.chargeCustodyFees(CustodyFeeRequest(month: "2026-11"))
        #expect(reply.charges.count == 1)
        #expect(reply.charges.first?.averageDailyValue == "25000")
        #expect(reply.charges.first?.fee == "20")
        #expect(reply.charges.first?.days == 15)
        #expect(try harness.state().cash == Money.text(Money.parse(cash)! - 20))
        // Charging the month again returns the same charge and takes nothing more.
        #expect(try await harness.service.chargeCustodyFees(CustodyFeeRequest(month: "2026-11")).charges == reply.charges)
        #expect(try harness.state().cash == Money.text(Money.parse(cash)! - 20))
        await #expect(throws: Error.self) { _ = try await harness.service.chargeCustodyFees(CustodyFeeRequest(month: "Nov")) }
    }
}
