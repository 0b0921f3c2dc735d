import GRDB

/// One row of `custody_charge`: a month's custody fee charged to an account (CRY-11).
struct CustodyChargeRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "custody_charge"

    var accountID: String
    var month: String
    var averageDailyValue: String
    var fee: String
    var days: Int

    enum CodingKeys: String, CodingKey {
        case accountID = "account_id", month, averageDailyValue = "average_daily_value", fee, days
    }
}
