import GRDB

/// One row of `month_volume`: an account's trade value in a month, for the commission tier.
struct MonthVolumeRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "month_volume"

    var accountID: String
    var month: String
    var volume: String

    enum CodingKeys: String, CodingKey {
        case accountID = "account_id", month, volume
    }
}
