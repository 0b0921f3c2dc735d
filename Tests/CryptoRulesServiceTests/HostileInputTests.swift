import CryptoRulesCore
@testable import CryptoRulesService
import Foundation
import GRDB
import SLSBus
import SLSMessages
import Testing
import SLSTesting

/// Each of these inputs used to crash the service, or make it believe something false.
@Suite("crypto-rules refuses hostile input and keeps serving", .serialized)
struct CryptoHostileInputTests {
    @Test func testCRY03_anAssetTheServiceDoesNotKnowIsRefusedByRuleEvenWhenNegative() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        for number: Int32 in [-1, 7, .min] {
            let request = OrderRequest(accountID: "U1", asset: .unrecognized(number), side: .buy, type: .limit,
                                       quantity: "0.01", limitPrice: "50000", timeInForce: .minutes)
            // Through the wire, as a client would send it.
            let decoded = try OrderRequest(serializedBytes: request.serializedBytes())
            let reply = try harness.service.checkOrder(decoded)
            #expect(!reply.accepted)
            #expect(reply.ruleID == "CRY-03")
        }
        let side = try harness.service.checkOrder(OrderRequest(
            accountID: "U1", asset: .btc, side: .unrecognized(-5), type: .limit, quantity: "0.01",
            limitPrice: "50000", timeInForce: .minutes))
        #expect(side.ruleID == "CRY-04")
    }

    @Test func testCRY04_twentyDigitAmountsAreRefusedNamingTheRangeInsteadOfTrapping() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let huge = "99999999999999999999"
        let requests = [
            OrderRequest(accountID: "U1", asset: .btc, side: .buy, type: .limit, quantity: huge, limitPrice: huge,
                         timeInForce: .minutes),
            OrderRequest(accountID: "U1", asset: .btc, side: .buy, type: .limit, cashValue: huge,
                         limitPrice: "0.000000000000000001", timeInForce: .minutes),
        ]
        for request in requests {
            let error = #expect(throws: RPCError.self) { _ = try harness.service.checkOrder(request) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.ruleID == "CRY-04")
            #expect(error?.message.contains("less than 1,000,000,000,000,000") == true)
        }
        // Inside the input range, a quotient can still be too large: refused, not a trap.
        let tiny = try harness.service.checkOrder(OrderRequest(
            accountID: "U1", asset: .btc, side: .buy, type: .limit, cashValue: "999999999999999",
            limitPrice: "0.000000000000000001", timeInForce: .minutes))
        #expect(!tiny.accepted)
        #expect(tiny.ruleID == "CRY-04")
        #expect(try harness.service.checkOrder(ServiceHarness.limitBuy("0.01", at: "50000")).accepted)
    }

    @Test func aHugeMarkPriceIsRefusedAndCannotPoisonValuationsOrRestarts() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("1", at: "50000"))
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "F1", quantity: "1", price: "50000"))
        let error = await #expect(throws: RPCError.self) {
            try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "99999999999999999999",
                                                       asOfUnixMs: harness.clock.now.unixMs))
        }
        #expect(error?.code == .invalidArgument)
        #expect(try harness.state().positions.first?.marketValue == "50000")
        // A price stored before inputs were bounded: the row is left out at start-up, not a crash loop.
        try await harness.database.write { db in
            try db.execute(sql: "UPDATE mark_price SET price = '99999999999999999999' WHERE asset = 'BTC'")
        }
        try harness.restart()
        #expect(harness.service.book.withLock { $0.prices[.btc] } == nil)
        #expect(try harness.state().positions.first?.marketValue == "")
        #expect(await harness.service.snapshotHoldings() == 0)
        // The real feed replaces it.
        try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "51000", asOfUnixMs: harness.clock.now.unixMs))
        #expect(try harness.state().positions.first?.marketValue == "51000")
    }

    @Test func aPriceFromTheFutureIsRefusedAndAStoredOneIsIgnoredAfterARestart() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let year3000: Int64 = 32_503_680_000_000
        let error = await #expect(throws: RPCError.self) {
            try await harness.route(MarkPriceUpdated(asset: .btc, price: "1", asOfUnixMs: year3000))
        }
        #expect(error?.message.contains("in the future") == true)
        // Within the clock skew (5 minutes by default) a time ahead is accepted.
        let skewed = harness.clock.now.unixMs + 299_000
        try await harness.route(MarkPriceUpdated(asset: .btc, price: "50500", asOfUnixMs: skewed))
        #expect(harness.service.book.withLock { $0.prices[.btc]?.price } == 50_500)
        // Through the bus the same refusal happens when decoding, naming the field.
        let event = ReceivedEvent(MarkPriceUpdated(asset: .btc, price: "2", asOfUnixMs: year3000), producer: "feed")
        let decodeError = #expect(throws: RPCError.self) {
            _ = try event.decode(MarkPriceUpdated.self, nowUnixMs: harness.clock.now.unixMs)
        }
        #expect(decodeError?.message.contains("as_of_unix_ms") == true)
        // A year-3000 price stored earlier would never be replaced by the real feed: ignored at start-up.
        try await harness.database.write { db in
            try db.execute(sql: "UPDATE mark_price SET price = '1', as_of_ms = ? WHERE asset = 'BTC'",
                           arguments: [year3000])
        }
        try harness.restart()
        try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "50000", asOfUnixMs: harness.clock.now.unixMs))
        #expect(harness.service.book.withLock { $0.prices[.btc]?.price } == 50_000)
    }

    @Test func testCRY12_aFillMustFitItsOrder() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount(cash: "600000", equity: "10000000")
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("1", at: "50000"))
        let cases: [(VenueOrderFilled, String)] = [
            (VenueOrderFilled(orderID: buy.orderID, fillID: "A", quantity: "1", price: "50000.01"), "above the buy limit"),
            (VenueOrderFilled(orderID: buy.orderID, fillID: "B", quantity: "1.00000001", price: "50000"), "exceeds"),
            (VenueOrderFilled(orderID: buy.orderID, fillID: "C", quantity: "1", price: "0"), "positive"),
            (VenueOrderFilled(orderID: "CO-nobody", fillID: "D", quantity: "1", price: "50000"), "unknown order"),
        ]
        for (fill, words) in cases {
            let error = await #expect(throws: RPCError.self) { try await harness.service.settle(fill) }
            #expect(error?.message.contains(words) == true, "\(error?.message ?? "")")
        }
        #expect(try harness.state().cash == "600000", "no refused fill moved money")
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "E", quantity: "1", price: "49000"))
        // A sell never fills below its limit.
        let sell = try await harness.service.placeOrder(OrderRequest(
            accountID: "U1", asset: .btc, side: .sell, type: .limit, quantity: "0.5", limitPrice: "52000",
            timeInForce: .gtc))
        let low = await #expect(throws: RPCError.self) {
            try await harness.service.settle(VenueOrderFilled(orderID: sell.orderID, fillID: "F", quantity: "0.5",
                                                        price: "51999.99"))
        }
        #expect(low?.message.contains("below the sell limit") == true)
        // A market buy's fill never costs more than its cash value.
        let market = try await harness.service.placeOrder(OrderRequest(
            accountID: "U1", asset: .btc, side: .buy, type: .market, cashValue: "10000", timeInForce: .ioc))
        let dear = await #expect(throws: RPCError.self) {
            try await harness.service.settle(VenueOrderFilled(orderID: market.orderID, fillID: "G", quantity: "0.2",
                                                        price: "50000.01"))
        }
        #expect(dear?.message.contains("exceeds the order's cash value") == true)
        try await harness.service.settle(VenueOrderFilled(orderID: market.orderID, fillID: "H", quantity: "0.2",
                                                    price: "50000"))
    }
}

@Suite("crypto-rules bounds what one account can hold in memory")
struct CryptoOpenOrderLimitTests {
    @Test func anAccountMayHoldAtMostTheOpenOrderLimit() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount(cash: "1000000", equity: "100000000")
        let limit = CryptoSettings().maxOpenOrdersPerAccount
        for index in 0..<limit {
            _ = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.001", at: "40000", client: "c\(index)"))
        }
        let error = await #expect(throws: RPCError.self) {
            _ = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.001", at: "40000", client: "one-more"))
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.message.contains("\(limit) open orders") == true)
        // A retry of an order already placed still returns it, and a cancel makes room.
        let first = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.001", at: "40000", client: "c0"))
        _ = try await harness.service.cancelOrder(CancelOrderRequest(accountID: "U1", orderID: first.orderID))
        #expect(try await harness.service.placeOrder(ServiceHarness.limitBuy("0.001", at: "40000", client: "one-more")).status == .open)
    }
}

@Suite("crypto-rules reloads what it computed, even beyond the input range")
struct CryptoComputedBalanceTests {
    @Test func aBalanceGrownPastTheInputRangeByFillsSurvivesARestart() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount(cash: "200000", equity: "10000000")
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("2", at: "50000"))
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "B", quantity: "2", price: "50000"))
        // A sell has no upper price bound: a fill at 900 trillion brings cash past 10^15.
        let sell = try await harness.service.placeOrder(OrderRequest(
            accountID: "U1", asset: .btc, side: .sell, type: .limit, quantity: "2", limitPrice: "10", timeInForce: .gtc))
        try await harness.service.settle(VenueOrderFilled(orderID: sell.orderID, fillID: "S", quantity: "2",
                                                          price: "900000000000000"))
        let before = try harness.state()
        #expect(Amount(before.cash)! > Amount.inputLimit)
        try harness.restart()
        let after = try harness.state()
        #expect(after == before, "the account is loaded as it was, not left out")
        #expect(after.permissionGranted)
    }
}
