import CryptoRulesCore
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSStorage

extension CryptoRulesService {
    /// Runs every check against `book` as it is now. Call with the book's lock held.
    func evaluate(_ intent: OrderIntent, accountID: String, in book: borrowing AccountBook, at date: Date)
        -> Result<PricedOrder, Refusal> {
        let snapshot: AccountSnapshot
        do {
            snapshot = try book.snapshot(accountID, month: calendar.month(of: date))
        } catch {
            return .failure(Refusal("CRY-04", "This account's amounts are too large to check an order against.",
                                    kind: .invalidInput))
        }
        let mark = intent.asset.flatMap { book.prices[$0] }
        return engine.evaluate(intent, account: snapshot, mark: mark, now: date)
    }

    func checkOrder(_ request: OrderRequest) throws -> CheckOrderReply {
        let accountID = try ProtoMapping.requireAccount(request.accountID)
        let intent = try ProtoMapping.intent(request)
        let date = now()
        switch book.withLock({ evaluate(intent, accountID: accountID, in: $0, at: date) }) {
        case .success(let order):
            return CheckOrderReply(accepted: true, quantity: order.quantity.map(Money.text) ?? "",
                                   tradeValue: Money.text(order.tradeValue),
                                   commissionEstimate: Money.text(order.commission),
                                   expiresUnixMs: order.expiresAt?.unixMs ?? 0)
        case .failure(let refusal):
            return CheckOrderReply(accepted: false, ruleID: refusal.ruleID, reason: refusal.message)
        }
    }

    func placeOrder(_ request: OrderRequest) async throws -> Order {
        let accountID = try ProtoMapping.requireAccount(request.accountID)
        guard request.clientOrderID.count <= 64 else {
            throw RPCError.invalidArgument("client_order_id is at most 64 characters")
        }
        let intent = try ProtoMapping.intent(request)
        let date = now()
        return try await mutate { [self] book, db in
            // A retry of an order already placed gets that order back, open or closed.
            if let existing = book.openOrder(accountID: accountID, clientOrderID: request.clientOrderID) {
                return ProtoMapping.message(existing)
            }
            if !request.clientOrderID.isEmpty,
               let closed = try CryptoStore.order(accountID: accountID, clientOrderID: request.clientOrderID, db) {
                return ProtoMapping.message(closed)
            }
            guard book.openOrderCount(of: accountID) < settings.maxOpenOrdersPerAccount else {
                throw RPCError.failedPrecondition(
                    "this account already has \(settings.maxOpenOrdersPerAccount) open orders, the most it may have; "
                    + "cancel one or wait for one to fill or expire")
            }
            let priced: PricedOrder
            switch evaluate(intent, accountID: accountID, in: book, at: date) {
            case .success(let order): priced = order
            case .failure(let refusal): throw ProtoMapping.error(refusal)
            }
            let order = OrderRecord(
                orderID: "CO-\(randomHexID())", accountID: accountID, clientOrderID: request.clientOrderID,
                asset: priced.asset, side: priced.side, type: priced.type, quantity: priced.quantity,
                cashValue: priced.cashValue, limitPrice: priced.limitPrice, timeInForce: priced.timeInForce,
                status: .open, reservedCash: priced.reservedCash,
                capValue: priced.side == .buy ? priced.tradeValue : 0,
                reservedQuantity: priced.reservedQuantity, acceptedMs: date.unixMs,
                expiresMs: priced.expiresAt?.unixMs)
            let message = ProtoMapping.message(order)
            try CryptoStore.save(order, db)
            try Outbox.append(OrderAccepted(order: message), in: db, nowUnixMs: date.unixMs)
            book.put(order)
            return message
        }
    }

    func cancelOrder(_ request: CancelOrderRequest) async throws -> Order {
        let accountID = try ProtoMapping.requireAccount(request.accountID)
        let nowMs = now().unixMs
        return try await mutate { book, db in
            guard var order = book.orders[request.orderID], order.accountID == accountID else {
                if let closed = try CryptoStore.order(id: request.orderID, db),
                   closed.accountID == accountID {
                    throw RPCError.failedPrecondition("order \(closed.orderID) is already \(closed.status.rawValue.lowercased())")
                }
                throw RPCError.notFound("no order \(request.orderID.prefix(64)) for account \(accountID)")
            }
            order.close(.cancelled, reason: "cancelled by the user")
            try Self.close(order, in: &book, db, nowMs: nowMs)
            return ProtoMapping.message(order)
        }
    }

    /// Writes a closed order and its OrderClosed event, and applies it. Call inside `mutate`.
    static func close(_ order: OrderRecord, in book: inout AccountBook, _ db: Database, nowMs: Int64) throws {
        try CryptoStore.save(order, db)
        try Outbox.append(OrderClosed(order: ProtoMapping.message(order)), in: db, nowUnixMs: nowMs)
        book.put(order)
    }

    /// Cancels every open order whose time has come (Minutes, Day, unfilled IOC). Runs on a
    /// timer and once at start-up, so orders that expired while the service was down are
    /// closed right after it comes back.
    @discardableResult
    public func expireOrders() async -> Int {
        let nowMs = now().unixMs
        do {
            return try await mutate { book, db in
                let due = book.expiredOrders(at: nowMs)
                for var order in due {
                    let reason = order.timeInForce == .ioc ? "not filled immediately (IOC)"
                        : order.timeInForce == .minutes ? "not filled within 5 minutes" : "end of the trading day"
                    order.close(.expired, reason: reason)
                    try Self.close(order, in: &book, db, nowMs: nowMs)
                }
                return due.count
            }
        } catch {
            logger.error("expiring orders failed; will retry", metadata: ["error": "\(type(of: error))"])
            return 0
        }
    }

    func accountState(_ request: GetAccountStateRequest) throws -> AccountState {
        let accountID = try ProtoMapping.requireAccount(request.accountID)
        return try ProtoMapping.checked("account state") { try accountState(accountID) }
    }

    private func accountState(_ accountID: String) throws -> AccountState {
        let date = now()
        let book = self.book.withLock { $0 }
        let account = book.account(accountID)
        let snapshot = try book.snapshot(accountID, month: calendar.month(of: date))
        var used: Amount = 0
        var positions: [Position] = []
        for asset in CryptoAsset.allCases {
            let quantity = account.positions[asset] ?? 0
            let price = book.prices[asset]?.price
            try used += quantity * (price ?? 0) + (snapshot.openBuyValue[asset] ?? 0)
            guard quantity != 0 || (snapshot.pendingSells[asset] ?? 0) != 0 else { continue }
            positions.append(Position(
                asset: ProtoMapping.asset(asset), quantity: Money.text(quantity),
                pendingSellQuantity: Money.text(snapshot.pendingSells[asset] ?? 0),
                marketValue: try price.map { price throws in Money.text(Money.cents(try quantity * price)) } ?? ""))
        }
        return AccountState(
            accountID: accountID, permissionGranted: account.permissionGranted,
            mobileVerified: account.mobileVerified, cash: Money.text(account.cash),
            availableCash: Money.text(try snapshot.availableCash), totalEquity: Money.text(account.totalEquity),
            holdingsCap: Money.text(try engine.holdingsCap(totalEquity: account.totalEquity)),
            holdingsUsed: Money.text(used), monthVolume: Money.text(snapshot.monthVolume), positions: positions,
            openOrders: book.openOrders(of: accountID).map(ProtoMapping.message))
    }
}
