import GRDB

/// One row of `position`: a quantity held.
struct PositionRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "position"

    var accountID: String
    var asset: String
    var quantity: String

    enum CodingKeys: String, CodingKey {
        case accountID = "account_id", asset, quantity
    }
}
