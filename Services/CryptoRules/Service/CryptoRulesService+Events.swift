import CryptoRulesCore
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSStorage

extension CryptoRulesService {
    /// The event topics the service consumes.
    public static let topics = [AccountProfileUpdated.protoName, AccountBalanceUpdated.protoName,
                                MarkPriceUpdated.protoName, VenueOrderFilled.protoName, VenueOrderClosed.protoName]

    /// Applies one input event. A malformed one is logged and dropped; the service goes on.
    public func handle(_ event: ReceivedEvent) {
        do {
            if let profile = try event.decode(AccountProfileUpdated.self) {
                try apply(profile)
            } else if let balance = try event.decode(AccountBalanceUpdated.self) {
                try apply(balance)
            } else if let price = try event.decode(MarkPriceUpdated.self) {
                try apply(price)
            } else if let fill = try event.decode(VenueOrderFilled.self) {
                try settle(fill)
            } else if let closed = try event.decode(VenueOrderClosed.self) {
                try apply(closed)
            }
        } catch {
            let reason = (error as? RPCError)?.message ?? "\(type(of: error))"
            logger.warning("event dropped", metadata: ["type": "\(event.header.type)", "event": "\(event.header.eventID)",
                                                       "reason": "\(reason)"])
        }
    }

    func apply(_ event: AccountProfileUpdated) throws {
        let accountID = try ProtoMapping.requireAccount(event.accountID)
        guard let assets = try ProtoMapping.amount(event.assetsHkd.isEmpty ? "0" : event.assetsHkd, field: "assets_hkd")
        else { return }
        let type: CryptoRulesCore.InvestorType? = switch event.investorType {
        case .individual: .individual
        case .institution: .institution
        case .unspecified: nil
        }
        try mutate { book in
            var account = book.account(accountID)
            account.profile = InvestorProfile(hongKongResident: event.hongKongResident,
                                              professionalInvestor: event.professionalInvestor,
                                              investorType: type, assetsHKD: assets,
                                              mobileVerified: event.mobileVerified)
            try database.write { try CryptoStore.save(account, $0) }
            book.accounts[accountID] = account
        }
    }

    func apply(_ event: AccountBalanceUpdated) throws {
        let accountID = try ProtoMapping.requireAccount(event.accountID)
        let equity = try ProtoMapping.amount(event.totalEquity, field: "total_equity")
        let cash = try ProtoMapping.amount(event.cash, field: "cash")
        try mutate { book in
            var account = book.account(accountID)
            if let equity { account.totalEquity = equity }
            if let cash { account.cash = cash }
            try database.write { try CryptoStore.save(account, $0) }
            book.accounts[accountID] = account
        }
    }

    func apply(_ event: MarkPriceUpdated) throws {
        guard let asset = ProtoMapping.asset(event.asset) else {
            throw RPCError.invalidArgument("a mark price needs an asset (BTC or ETH)")
        }
        guard let price = try ProtoMapping.amount(event.price, field: "price"), price > 0 else {
            throw RPCError.invalidArgument("a mark price must be more than zero")
        }
        let asOf = event.asOfUnixMs > 0 ? Date(unixMs: event.asOfUnixMs) : now()
        try mutate { book in
            // An older price arriving late never replaces a newer one.
            if let current = book.prices[asset], current.asOf > asOf { return }
            let mark = MarkPrice(price: price, asOf: asOf)
            try database.write { try CryptoStore.save(price: mark, asset: asset, $0) }
            book.prices[asset] = mark
        }
    }

    /// Settles a fill at once (CRY-12): position, cash, the month's volume and the commission
    /// (CRY-10) change in one transaction with the OrderSettled event.
    func settle(_ event: VenueOrderFilled) throws {
        guard !event.fillID.isEmpty else { throw RPCError.invalidArgument("a fill needs a fill_id") }
        guard let quantity = try ProtoMapping.amount(event.quantity, field: "quantity"), quantity > 0,
              let price = try ProtoMapping.amount(event.price, field: "price"), price > 0 else {
            throw RPCError.invalidArgument("a fill needs a positive quantity and price")
        }
        let date = now()
        try mutate { book in
            guard try !database.read({ try CryptoStore.fillExists(event.fillID, $0) }) else { return }
            guard var order = book.orders[event.orderID] else {
                if try database.read({ try CryptoStore.order(id: event.orderID, $0) }) != nil {
                    throw RPCError.failedPrecondition("fill \(event.fillID) for order \(event.orderID), which is closed")
                }
                throw RPCError.notFound("fill \(event.fillID) names unknown order \(event.orderID)")
            }
            let remainingBefore = (order.quantity ?? quantity) - order.filledQuantity
            if order.type == .limit && quantity > remainingBefore {
                throw RPCError.failedPrecondition("fill \(event.fillID) exceeds what is left of \(order.orderID)")
            }
            var account = book.account(order.accountID)
            let month = calendar.month(of: date)
            let value = quantity * price
            let commission = Fees.fillCommission(fillValue: value, isFirstFill: order.fillCount == 0,
                                                 monthVolume: account.monthVolume[month] ?? 0, settings: settings)
            switch order.side {
            case .buy:
                account.positions[order.asset, default: 0] += quantity
                account.cash -= value + commission
            case .sell:
                account.positions[order.asset, default: 0] -= quantity
                account.cash += value - commission
            }
            account.monthVolume[month, default: 0] += value
            order.filledQuantity += quantity
            order.fillCount += 1
            order.commissionCharged += commission
            // A market order is done with its fill (the venue fills it by cash value, IOC).
            if order.type == .market || order.filledQuantity >= (order.quantity ?? 0) {
                order.close(.filled, reason: "")
            } else {
                let left = (remainingBefore - quantity) / remainingBefore
                order.reservedCash = Money.cents(order.reservedCash * left)
                order.capValue *= left
                order.reservedQuantity = order.side == .sell ? order.quantity! - order.filledQuantity : 0
            }
            let settled = OrderSettled(
                orderID: order.orderID, accountID: order.accountID, fillID: event.fillID,
                asset: ProtoMapping.asset(order.asset), side: ProtoMapping.side(order.side),
                quantity: Money.text(quantity), price: Money.text(price), commission: Money.text(commission),
                cashAfter: Money.text(account.cash), positionAfter: Money.text(account.positions[order.asset] ?? 0),
                orderStatus: ProtoMapping.status(order.status))
            try database.write { db in
                _ = try CryptoStore.insertFill(id: event.fillID, orderID: order.orderID, quantity: quantity,
                                               price: price, commission: commission, timeMs: date.unixMs, db)
                try CryptoStore.save(order, db)
                try CryptoStore.save(account, db)
                try Outbox.append(settled, in: db, nowUnixMs: date.unixMs)
            }
            book.put(order)
            book.accounts[account.accountID] = account
        }
    }

    func apply(_ event: VenueOrderClosed) throws {
        let status: OrderStatus
        switch event.outcome {
        case "cancelled": status = .cancelled
        case "rejected": status = .rejected
        default: throw RPCError.invalidArgument("outcome must be 'cancelled' or 'rejected'")
        }
        try mutate { book in
            guard var order = book.orders[event.orderID] else { return }  // unknown or already closed
            order.close(status, reason: event.reason.isEmpty ? "closed by the venue" : String(event.reason.prefix(200)))
            try close(order, in: &book)
        }
    }
}
