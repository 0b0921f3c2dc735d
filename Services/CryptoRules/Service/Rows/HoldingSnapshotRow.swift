import GRDB

/// One row of `holding_snapshot`: the value an account held on a day (CRY-11).
struct HoldingSnapshotRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "holding_snapshot"

    var accountID: String
    var day: String
    var value: String

    enum CodingKeys: String, CodingKey {
        case accountID = "account_id", day, value
    }
}
