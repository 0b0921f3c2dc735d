import GRDB

/// One row of `fill`: a venue fill, kept once per fill id.
struct FillRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "fill"

    var fillID: String
    var orderID: String
    var quantity: String
    var price: String
    var commission: String
    var timeMs: Int64

    enum CodingKeys: String, CodingKey {
        case fillID = "fill_id", orderID = "order_id", quantity, price, commission, timeMs = "time_ms"
    }
}
