import CryptoRulesCore
import Foundation

/// What the service knows about one account (the read model of ACC-05 plus its own state).
struct AccountRecord: Sendable, Hashable {
    let accountID: String
    var profile: InvestorProfile?
    /// ACC-03, from `MobileNumberUpdated`; copied into ``profile`` for the rules.
    var mobileVerified = false
    var permissionGranted = false
    var permissionDecidedMs: Int64 = 0
    var totalEquity: Amount = 0
    var cash: Amount = 0
    var positions: [CryptoAsset: Amount] = [:]
    /// Trade value per month ("YYYY-MM"), for the commission tier.
    var monthVolume: [String: Amount] = [:]
}

enum OrderStatus: String, Sendable {
    case open = "OPEN", filled = "FILLED", cancelled = "CANCELLED", expired = "EXPIRED", rejected = "REJECTED"
}

/// One order and what it holds back while open.
struct OrderRecord: Sendable, Hashable {
    let orderID: String
    let accountID: String
    let clientOrderID: String
    let asset: CryptoAsset
    let side: OrderSide
    let type: CryptoOrderType
    let quantity: Amount?
    let cashValue: Amount?
    let limitPrice: Amount?
    let timeInForce: TimeInForce
    var status: OrderStatus
    var filledQuantity: Amount = 0
    var fillCount = 0
    var commissionCharged: Amount = 0
    /// Remaining cash held back (open buys).
    var reservedCash: Amount
    /// Remaining value counted against the holdings cap (open buys).
    var capValue: Amount
    /// Remaining quantity held back (open sells).
    var reservedQuantity: Amount
    let acceptedMs: Int64
    let expiresMs: Int64?
    var closeReason = ""

    var isOpen: Bool { status == .open }

    /// Releases everything the order held back.
    mutating func close(_ status: OrderStatus, reason: String) {
        self.status = status
        closeReason = reason
        reservedCash = 0
        capValue = 0
        reservedQuantity = 0
    }
}
