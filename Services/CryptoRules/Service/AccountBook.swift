import CryptoRulesCore
import Foundation

/// The in-memory state the rules read: accounts, orders and mark prices.
///
/// It is a copy of the database, changed only after the change has been committed there,
/// so that checks (CheckOrder) never wait for SQLite. Not thread safe by itself: the
/// service guards it with a lock.
struct AccountBook: Sendable {
    var accounts: [String: AccountRecord] = [:]
    var orders: [String: OrderRecord] = [:]
    var prices: [CryptoAsset: MarkPrice] = [:]
    /// Open order ids per account, so snapshots do not scan every order ever placed.
    private(set) var openOrders: [String: Set<String>] = [:]

    func account(_ id: String) -> AccountRecord {
        accounts[id] ?? AccountRecord(accountID: id)
    }

    mutating func put(_ order: OrderRecord) {
        orders[order.orderID] = order
        if order.isOpen {
            openOrders[order.accountID, default: []].insert(order.orderID)
        } else {
            openOrders[order.accountID]?.remove(order.orderID)
        }
    }

    func openOrders(of accountID: String) -> [OrderRecord] {
        (openOrders[accountID] ?? []).compactMap { orders[$0] }
            .sorted { ($0.acceptedMs, $0.orderID) < ($1.acceptedMs, $1.orderID) }
    }

    func order(accountID: String, clientOrderID: String) -> OrderRecord? {
        guard !clientOrderID.isEmpty else { return nil }
        return orders.values.first { $0.accountID == accountID && $0.clientOrderID == clientOrderID }
    }

    /// What the checks need to know about an account, reservations included.
    func snapshot(_ accountID: String, month: String) -> AccountSnapshot {
        let account = account(accountID)
        var snapshot = AccountSnapshot(profile: account.profile, permissionGranted: account.permissionGranted,
                                       totalEquity: account.totalEquity, cash: account.cash,
                                       positions: account.positions,
                                       monthVolume: account.monthVolume[month] ?? 0)
        for order in openOrders(of: accountID) {
            snapshot.reservedCash += order.reservedCash
            snapshot.openBuyValue[order.asset, default: 0] += order.capValue
            snapshot.pendingSells[order.asset, default: 0] += order.reservedQuantity
        }
        return snapshot
    }

    /// Open orders whose expiry has come.
    func expiredOrders(at nowMs: Int64) -> [OrderRecord] {
        openOrders.values.flatMap { $0 }.compactMap { orders[$0] }
            .filter { ($0.expiresMs ?? .max) <= nowMs }
            .sorted { $0.acceptedMs < $1.acceptedMs }
    }
}
