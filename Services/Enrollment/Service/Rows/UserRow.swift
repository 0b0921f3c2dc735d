import GRDB

/// One row of `enrollment_user`: the read model of ACC-05 this service needs.
struct UserRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "enrollment_user"

    var userName: String
    var accountID: String
    var mobileNumber: String
    var mobileVerified: Bool
    /// Total equity in USD as decimal text; nil until a balance has arrived.
    var balanceUSD: String?

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", accountID = "account_id", mobileNumber = "mobile_number"
        case mobileVerified = "mobile_verified", balanceUSD = "balance_usd"
    }
}
