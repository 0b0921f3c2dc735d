import CryptoRulesCore
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage

extension CryptoRulesService {
    /// Declares the events the service consumes (ACC-05 account data, market data, the venue);
    /// the host subscribes to exactly these. A refused event is logged by the router and dropped.
    public func routeEvents(_ router: EventRouter) {
        router.on(AccountProfileUpdated.self) { [self] event, _ in try await apply(event) }
        router.on(MobileNumberUpdated.self) { [self] event, _ in try await apply(event) }
        router.on(AccountBalanceUpdated.self) { [self] event, _ in try await apply(event) }
        router.on(MarkPriceUpdated.self) { [self] event, _ in try await apply(event) }
        router.on(VenueOrderFilled.self) { [self] event, _ in try await settle(event) }
        router.on(VenueOrderClosed.self) { [self] event, _ in try await apply(event) }
    }

    func apply(_ event: AccountProfileUpdated) async throws {
        let accountID = try ProtoMapping.requireAccount(event.accountID)
        guard let assets = try ProtoMapping.amount(event.assetsHkd.isEmpty ? "0" : event.assetsHkd, field: "assets_hkd")
        else { return }
        let type: CryptoRulesCore.InvestorType? = switch event.investorType {
        case .individual: .individual
        case .institution: .institution
        case .unspecified, .unrecognized: nil
        }
        try await mutate { book, db in
            var account = book.account(accountID)
            account.profile = InvestorProfile(hongKongResident: event.hongKongResident,
                                              professionalInvestor: event.professionalInvestor,
                                              investorType: type, assetsHKD: assets,
                                              mobileVerified: account.mobileVerified)
            try CryptoStore.save(account, db)
            book.accounts[accountID] = account
        }
    }

    /// ACC-03: trading waits for a verified mobile number.
    func apply(_ event: MobileNumberUpdated) async throws {
        let accountID = try ProtoMapping.requireAccount(event.accountID)
        try await mutate { book, db in
            var account = book.account(accountID)
            account.mobileVerified = event.verified
            account.profile?.mobileVerified = event.verified
            try CryptoStore.save(account, db)
            book.accounts[accountID] = account
        }
    }

    func apply(_ event: AccountBalanceUpdated) async throws {
        let accountID = try ProtoMapping.requireAccount(event.accountID)
        let equity = try ProtoMapping.amount(event.totalEquity, field: "total_equity")
        let cash = try ProtoMapping.amount(event.cash, field: "cash")
        try await mutate { book, db in
            var account = book.account(accountID)
            if let equity { account.totalEquity = equity }
            if let cash { account.cash = cash }
            try CryptoStore.save(account, db)
            book.accounts[accountID] = account
        }
    }

    func apply(_ event: MarkPriceUpdated) async throws {
        guard let asset = ProtoMapping.asset(event.asset) else {
            throw RPCError.invalidArgument("a mark price needs an asset (BTC or ETH)")
        }
        guard let price = try ProtoMapping.amount(event.price, field: "price"), price > 0 else {
            throw RPCError.invalidArgument("a mark price must be more than zero")
        }
        // The router has already refused a time before 1970 or beyond the clock skew: one from
        // the future would never be replaced by the real feed (older prices lose).
        let asOf = event.asOfUnixMs > 0 ? Date(unixMs: event.asOfUnixMs) : now()
        try await mutate { book, db in
            // An older price arriving late never replaces a newer one.
            if let current = book.prices[asset], current.asOf > asOf { return }
            let mark = MarkPrice(price: price, asOf: asOf)
            try CryptoStore.save(price: mark, asset: asset, db)
            book.prices[asset] = mark
        }
    }

    /// Settles a fill at once (CRY-12): position, cash, the month's volume and the commission
    /// (CRY-10) change in one transaction with the OrderSettled event.
    func settle(_ event: VenueOrderFilled) async throws {
        guard !event.fillID.isEmpty else { throw RPCError.invalidArgument("a fill needs a fill_id") }
        guard let quantity = try ProtoMapping.amount(event.quantity, field: "quantity"), quantity > 0,
              let price = try ProtoMapping.amount(event.price, field: "price"), price > 0 else {
            throw RPCError.invalidArgument("a fill needs a positive quantity and price")
        }
        let date = now()
        try await mutate { [self] book, db in
            guard try !CryptoStore.fillExists(event.fillID, db) else { return }
            guard var order = book.orders[event.orderID] else {
                if try CryptoStore.order(id: event.orderID, db) != nil {
                    throw RPCError.failedPrecondition("fill \(event.fillID) for order \(event.orderID), which is closed")
                }
                throw RPCError.notFound("fill \(event.fillID) names unknown order \(event.orderID)")
            }
            let remainingBefore = try (order.quantity ?? quantity) - order.filledQuantity
            let value = try quantity * price
            if let refusal = try Self.fillRefusal(quantity: quantity, price: price, value: value,
                                                  remaining: remainingBefore, order: order) {
                throw RPCError.failedPrecondition("fill \(event.fillID) for order \(order.orderID): \(refusal)")
            }
            var account = book.account(order.accountID)
            let month = calendar.month(of: date)
            let commission = try Fees.fillCommission(fillValue: value, isFirstFill: order.fillCount == 0,
                                                     monthVolume: account.monthVolume[month] ?? 0, settings: settings)
            switch order.side {
            case .buy:
                try account.positions[order.asset, default: 0] += quantity
                try account.cash -= value + commission
            case .sell:
                try account.positions[order.asset, default: 0] -= quantity
                try account.cash += value - commission
            }
            try account.monthVolume[month, default: 0] += value
            try order.filledQuantity += quantity
            order.fillCount += 1
            try order.commissionCharged += commission
            // A market order is done with its fill (the venue fills it by cash value, IOC).
            if order.type == .market || order.filledQuantity >= (order.quantity ?? 0) {
                order.close(.filled, reason: "")
            } else {
                let left = try (remainingBefore - quantity) / remainingBefore
                order.reservedCash = Money.cents(try order.reservedCash * left)
                try order.capValue *= left
                order.reservedQuantity = order.side == .sell ? try order.quantity! - order.filledQuantity : 0
            }
            let settled = OrderSettled(
                orderID: order.orderID, accountID: order.accountID, fillID: event.fillID,
                asset: ProtoMapping.asset(order.asset), side: ProtoMapping.side(order.side),
                quantity: Money.text(quantity), price: Money.text(price), commission: Money.text(commission),
                cashAfter: Money.text(account.cash), positionAfter: Money.text(account.positions[order.asset] ?? 0),
                orderStatus: ProtoMapping.status(order.status))
            _ = try CryptoStore.insertFill(id: event.fillID, orderID: order.orderID, quantity: quantity,
                                           price: price, commission: commission, timeMs: date.unixMs, db)
            try CryptoStore.save(order, db)
            try CryptoStore.save(account, db)
            try Outbox.append(settled, in: db, nowUnixMs: date.unixMs)
            book.put(order)
            book.accounts[account.accountID] = account
        }
    }

    /// Why a fill cannot belong to `order`, or nil when it can: it may not exceed what is left,
    /// cross the limit price (a buy never above it, a sell never below), or, for a market buy,
    /// cost more than the order's cash value.
    static func fillRefusal(quantity: Amount, price: Amount, value: Amount, remaining: Amount,
                            order: OrderRecord) throws(AmountOverflow) -> String? {
        if order.quantity != nil && quantity > remaining {
            return "quantity \(Money.text(quantity)) exceeds the \(Money.text(remaining)) left"
        }
        if let limit = order.limitPrice {
            if order.side == .buy && price > limit {
                return "price \(Money.text(price)) is above the buy limit \(Money.text(limit))"
            }
            if order.side == .sell && price < limit {
                return "price \(Money.text(price)) is below the sell limit \(Money.text(limit))"
            }
        }
        if order.type == .market, order.side == .buy, let cashValue = order.cashValue, value > cashValue {
            return "value \(Money.text(value)) exceeds the order's cash value \(Money.text(cashValue))"
        }
        return nil
    }

    func apply(_ event: VenueOrderClosed) async throws {
        let status: OrderStatus
        switch event.outcome {
        case "cancelled": status = .cancelled
        case "rejected": status = .rejected
        default: throw RPCError.invalidArgument("outcome must be 'cancelled' or 'rejected'")
        }
        let nowMs = now().unixMs
        try await mutate { book, db in
            guard var order = book.orders[event.orderID] else { return }  // unknown or already closed
            order.close(status, reason: event.reason.isEmpty ? "closed by the venue" : String(event.reason.prefix(200)))
            try Self.close(order, in: &book, db, nowMs: nowMs)
        }
    }
}
