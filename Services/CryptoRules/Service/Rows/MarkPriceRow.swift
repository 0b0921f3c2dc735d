import GRDB

/// One row of `mark_price`: the latest price of an asset and when it was true.
struct MarkPriceRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "mark_price"

    var asset: String
    var price: String
    var asOfMs: Int64

    enum CodingKeys: String, CodingKey {
        case asset, price, asOfMs = "as_of_ms"
    }
}
