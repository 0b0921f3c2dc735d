import GRDB

/// One row of `crypto_order`, open or closed.
struct OrderRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "crypto_order"

    var orderID: String
    var accountID: String
    var clientOrderID: String
    var asset: String
    var side: String
    var type: String
    var quantity: String?
    var cashValue: String?
    var limitPrice: String?
    var timeInForce: String
    var status: String
    var filledQuantity: String
    var fillCount: Int
    var commissionCharged: String
    var reservedCash: String
    var capValue: String
    var reservedQuantity: String
    var acceptedMs: Int64
    var expiresMs: Int64?
    var closeReason: String

    enum CodingKeys: String, CodingKey {
        case orderID = "order_id", accountID = "account_id", clientOrderID = "client_order_id", asset, side, type
        case quantity, cashValue = "cash_value", limitPrice = "limit_price", timeInForce = "time_in_force", status
        case filledQuantity = "filled_quantity", fillCount = "fill_count", commissionCharged = "commission_charged"
        case reservedCash = "reserved_cash", capValue = "cap_value", reservedQuantity = "reserved_quantity"
        case acceptedMs = "accepted_ms", expiresMs = "expires_ms", closeReason = "close_reason"
    }
}
