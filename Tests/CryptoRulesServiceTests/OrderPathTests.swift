import CryptoRulesCore
@testable import CryptoRulesService
import Foundation
import SLSBus
import SLSMessages
import Testing
import SLSTesting

@Suite("crypto-rules order path", .serialized)
struct OrderPathTests {
    @Test func testCRY02_permissionIsGrantedOnlyToEligibleAccountsAndAnnounced() async throws {
        let harness = try ServiceHarness()
        let refused = try await harness.service.requestPermission(PermissionRequest(accountID: "U9"))
        #expect(!refused.granted)
        #expect(refused.ruleID == "CRY-02")
        try await harness.fundedAccount("U9")
        #expect(try harness.service.getPermission(PermissionRequest(accountID: "U9")).granted)
        #expect(try harness.outboxTypes().filter { $0 == PermissionDecided.protoName }.count == 2)
    }

    @Test func testCRY04_checkOrderIsADryRunWithQuantityCommissionAndExpiry() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let reply = try harness.service.checkOrder(OrderRequest(
            accountID: "U1", asset: .btc, side: .buy, type: .limit, cashValue: "1000", limitPrice: "30000",
            timeInForce: .minutes))
        #expect(reply.accepted)
        #expect(reply.quantity == "0.03333333")
        #expect(reply.commissionEstimate == "3")
        #expect(reply.expiresUnixMs == harness.clock.now.addingTimeInterval(300).unixMs)
        #expect(try harness.state().openOrders.isEmpty)
    }

    @Test func testCRY14_refusalNamesTheRuleOnTheBus() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount(cash: "50")
        let error = await #expect(throws: RPCError.self) {
            _ = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000"))
        }
        #expect(error?.code == .failedPrecondition)
        #expect(error?.ruleID == "CRY-06")
        let dry = try harness.service.checkOrder(ServiceHarness.limitBuy("0.01", at: "50000"))
        #expect(!dry.accepted && dry.ruleID == "CRY-06" && dry.reason.contains("no margin"))
        let bad = await #expect(throws: RPCError.self) {
            _ = try await harness.service.placeOrder(ServiceHarness.limitBuy("1.2.3", at: "50000"))
        }
        #expect(bad?.code == .invalidArgument)
    }

    @Test func testCRY12_fillsSettleAtOnceWithCommissionAndVolume() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let order = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.1", at: "50000"))
        // Reserved: 5000 + max(15, 2.25) = 5015.
        #expect(try harness.state().availableCash == "94985")
        #expect(try harness.outboxTypes().last == OrderAccepted.protoName)

        try await harness.service.settle(VenueOrderFilled(orderID: order.orderID, fillID: "F1", quantity: "0.04", price: "50000"))
        var state = try harness.state()
        #expect(state.positions.first?.quantity == "0.04")
        #expect(state.cash == "97994")                     // 100000 - 2000 - 6
        #expect(state.availableCash == "94985")            // 97994 - 3009 still reserved
        #expect(state.monthVolume == "2000")
        #expect(state.openOrders.first?.filledQuantity == "0.04")

        // A repeated fill id changes nothing.
        try await harness.service.settle(VenueOrderFilled(orderID: order.orderID, fillID: "F1", quantity: "0.04", price: "50000"))
        #expect(try harness.state().cash == "97994")

        try await harness.service.settle(VenueOrderFilled(orderID: order.orderID, fillID: "F2", quantity: "0.06", price: "49000"))
        state = try harness.state()
        #expect(state.positions.first?.quantity == "0.1")
        #expect(state.cash == Money.text(try Amount(97994) - 2940 - Amount("8.82")!))
        #expect(state.openOrders.isEmpty)
        #expect(state.availableCash == state.cash)
        #expect(try harness.outboxTypes().filter { $0 == OrderSettled.protoName }.count == 2)
    }

    @Test func testCRY06_openSellsAreHeldBackFromTheNextSell() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let buy = try await harness.service.placeOrder(ServiceHarness.limitBuy("1", at: "50000"))
        try await harness.service.settle(VenueOrderFilled(orderID: buy.orderID, fillID: "F1", quantity: "1", price: "50000"))
        let sell = OrderRequest(accountID: "U1", asset: .btc, side: .sell, type: .limit, quantity: "0.7",
                                limitPrice: "60000", timeInForce: .gtc)
        _ = try await harness.service.placeOrder(sell)
        let again = await #expect(throws: RPCError.self) { _ = try await harness.service.placeOrder(sell) }
        #expect(again?.ruleID == "CRY-06")
        #expect(try harness.state().positions.first?.pendingSellQuantity == "0.7")
    }

    @Test func testPlacingTheSameClientOrderIDTwiceReturnsTheFirstOrder() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let first = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000", client: "abc"))
        let second = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000", client: "abc"))
        #expect(first.orderID == second.orderID)
        #expect(try harness.state().openOrders.count == 1)
    }

    @Test func testAClosedOrdersClientOrderIDStillReturnsThatOrder() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let first = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000", client: "once"))
        _ = try await harness.service.cancelOrder(CancelOrderRequest(accountID: "U1", orderID: first.orderID))
        let retry = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000", client: "once"))
        #expect(retry.orderID == first.orderID)
        #expect(retry.status == .cancelled)
        #expect(try harness.state().openOrders.isEmpty)
    }

    @Test func testCancelReleasesTheReservationAndIsRefusedTwice() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let order = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.1", at: "50000"))
        let cancelled = try await harness.service.cancelOrder(CancelOrderRequest(accountID: "U1", orderID: order.orderID))
        #expect(cancelled.status == .cancelled)
        #expect(try harness.state().availableCash == "100000")
        let twice = await #expect(throws: RPCError.self) {
            _ = try await harness.service.cancelOrder(CancelOrderRequest(accountID: "U1", orderID: order.orderID))
        }
        #expect(twice?.code == .failedPrecondition)
        let other = await #expect(throws: RPCError.self) {
            _ = try await harness.service.cancelOrder(CancelOrderRequest(accountID: "U2", orderID: order.orderID))
        }
        #expect(other?.code == .notFound)
        #expect(try harness.outboxTypes().last == OrderClosed.protoName)
    }

    @Test func testCRY13_cryptoCannotBeDepositedOrWithdrawn() async throws {
        let harness = try ServiceHarness()
        for direction in ["deposit", "withdrawal"] {
            let error = #expect(throws: RPCError.self) {
                _ = try harness.service.requestTransfer(TransferRequest(accountID: "U1", asset: .btc, quantity: "1",
                                                                        direction: direction))
            }
            #expect(error?.ruleID == "CRY-13")
        }
        let bad = #expect(throws: RPCError.self) {
            _ = try harness.service.requestTransfer(TransferRequest(accountID: "U1", direction: "sideways"))
        }
        #expect(bad?.code == .invalidArgument)
    }

    @Test func testStalePriceIsNeverUsedAndOldPricesDoNotReplaceNewOnes() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        harness.clock.advance(61)
        let error = await #expect(throws: RPCError.self) {
            _ = try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000"))
        }
        #expect(error?.code == .unavailable)
        let now = harness.clock.now.unixMs
        try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "51000", asOfUnixMs: now))
        try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "1", asOfUnixMs: now - 1000))
        #expect(harness.service.book.withLock { $0.prices[.btc]?.price } == 51_000)
        #expect(try await harness.service.placeOrder(ServiceHarness.limitBuy("0.01", at: "50000")).status == .open)
    }

    @Test func testMalformedEventsAreDroppedAndTheServiceGoesOn() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        await #expect(throws: RPCError.self) { try await harness.service.apply(MarkPriceUpdated(asset: .btc, price: "abc")) }
        await #expect(throws: RPCError.self) { try await harness.service.apply(MarkPriceUpdated(asset: .unspecified, price: "5")) }
        await #expect(throws: RPCError.self) {
            try await harness.service.settle(VenueOrderFilled(orderID: "nope", fillID: "F", quantity: "1", price: "1"))
        }
        #expect(try harness.service.checkOrder(ServiceHarness.limitBuy("0.01", at: "50000")).accepted)
    }
}

@Suite("crypto-rules reads the broker-wide account events")
struct AccountEventTests {
    @Test func testACC03_ACC05_theMobileNumberEventDecidesTradingAndSurvivesARestart() async throws {
        let harness = try ServiceHarness()
        // The mobile number may arrive before the profile (events from different services).
        try await harness.route(MobileNumberUpdated(accountID: "U1", mobileNumber: "+85291234567", verified: false))
        try await harness.route(AccountProfileUpdated(accountID: "U1", hongKongResident: true, professionalInvestor: true,
                                                      investorType: .individual, assetsHkd: "9000000"))
        try await harness.route(AccountBalanceUpdated(accountID: "U1", totalEquity: "1000000", cash: "100000"))
        try await harness.route(MarkPriceUpdated(asset: .btc, price: "50000", asOfUnixMs: harness.clock.now.unixMs))
        _ = try await harness.service.requestPermission(PermissionRequest(accountID: "U1"))
        let unverified = try harness.service.checkOrder(ServiceHarness.limitBuy("0.01", at: "50000"))
        #expect(unverified.ruleID == "ACC-03")
        #expect(try harness.state().mobileVerified == false)

        try await harness.route(MobileNumberUpdated(accountID: "U1", mobileNumber: "+85291234567", verified: true))
        #expect(try harness.service.checkOrder(ServiceHarness.limitBuy("0.01", at: "50000")).accepted)
        // A later profile update keeps what the mobile number event said.
        try await harness.route(AccountProfileUpdated(accountID: "U1", hongKongResident: true, professionalInvestor: true,
                                                      investorType: .individual, assetsHkd: "9500000"))
        try harness.restart()
        #expect(try harness.state().mobileVerified)
        #expect(try harness.service.checkOrder(ServiceHarness.limitBuy("0.01", at: "50000")).accepted)

        // A malformed account event is refused naming the field; the account is unchanged.
        let refused = await #expect(throws: RPCError.self) {
            try await harness.route(MobileNumberUpdated(accountID: "U1\nU2", verified: false))
        }
        #expect(refused?.message.contains("account_id contains a control character") == true)
        #expect(try harness.state().mobileVerified)
    }
}
