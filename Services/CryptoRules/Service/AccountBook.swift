import CryptoRulesCore
import Foundation

/// The in-memory state the rules read: accounts, orders and mark prices.
///
/// It is a copy of the database, changed only after the change has been committed there,
/// so that checks (CheckOrder) never wait for SQLite. Not thread safe by itself: the
/// service guards it with a lock.
struct AccountBook: Sendable {
    var accounts: [String: AccountRecord] = [:]
    /// Open orders only: a closed order leaves memory once it is written (SQLite keeps it).
    private(set) var orders: [String: OrderRecord] = [:]
    var prices: [CryptoAsset: MarkPrice] = [:]
    /// Open order ids per account, so snapshots do not scan every open order.
    private var openOrders: [String: Set<String>] = [:]
    /// Open orders by account and client order id, for idempotent placing.
    private var byClientOrderID: [String: String] = [:]

    func account(_ id: String) -> AccountRecord {
        accounts[id] ?? AccountRecord(accountID: id)
    }

    private static func clientKey(_ accountID: String, _ clientOrderID: String) -> String {
        "\(accountID)\u{1F}\(clientOrderID)"
    }

    /// Records an order's new state: kept while open, dropped once closed.
    mutating func put(_ order: OrderRecord) {
        let key = Self.clientKey(order.accountID, order.clientOrderID)
        if order.isOpen {
            orders[order.orderID] = order
            openOrders[order.accountID, default: []].insert(order.orderID)
            if !order.clientOrderID.isEmpty { byClientOrderID[key] = order.orderID }
        } else {
            orders[order.orderID] = nil
            openOrders[order.accountID]?.remove(order.orderID)
            if openOrders[order.accountID]?.isEmpty == true { openOrders[order.accountID] = nil }
            if !order.clientOrderID.isEmpty { byClientOrderID[key] = nil }
        }
    }

    func openOrderCount(of accountID: String) -> Int {
        openOrders[accountID]?.count ?? 0
    }

    func openOrders(of accountID: String) -> [OrderRecord] {
        (openOrders[accountID] ?? []).compactMap { orders[$0] }
            .sorted { ($0.acceptedMs, $0.orderID) < ($1.acceptedMs, $1.orderID) }
    }

    /// The open order placed with this client order id, if any.
    func openOrder(accountID: String, clientOrderID: String) -> OrderRecord? {
        guard !clientOrderID.isEmpty else { return nil }
        return byClientOrderID[Self.clientKey(accountID, clientOrderID)].flatMap { orders[$0] }
    }

    /// What the checks need to know about an account, reservations included.
    func snapshot(_ accountID: String, month: String) throws(AmountOverflow) -> AccountSnapshot {
        let account = account(accountID)
        var snapshot = AccountSnapshot(profile: account.profile, permissionGranted: account.permissionGranted,
                                       totalEquity: account.totalEquity, cash: account.cash,
                                       positions: account.positions,
                                       monthVolume: account.monthVolume[month] ?? 0)
        for order in openOrders(of: accountID) {
            try snapshot.reservedCash += order.reservedCash
            try snapshot.openBuyValue[order.asset, default: 0] += order.capValue
            try snapshot.pendingSells[order.asset, default: 0] += order.reservedQuantity
        }
        return snapshot
    }

    /// Open orders whose expiry has come.
    func expiredOrders(at nowMs: Int64) -> [OrderRecord] {
        orders.values.filter { ($0.expiresMs ?? .max) <= nowMs }
            .sorted { $0.acceptedMs < $1.acceptedMs }
    }
}
