import GRDB

/// One row of `account`: the read model of ACC-05 and the permission.
struct AccountRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "account"

    var accountID: String
    var hasProfile: Bool
    var hongKongResident: Bool
    var professionalInvestor: Bool
    var investorType: String?
    var assetsHKD: String
    var mobileVerified: Bool
    var permissionGranted: Bool
    var permissionDecidedMs: Int64
    var totalEquity: String
    var cash: String

    enum CodingKeys: String, CodingKey {
        case accountID = "account_id", hasProfile = "has_profile", hongKongResident = "hong_kong_resident"
        case professionalInvestor = "professional_investor", investorType = "investor_type"
        case assetsHKD = "assets_hkd", mobileVerified = "mobile_verified"
        case permissionGranted = "permission_granted", permissionDecidedMs = "permission_decided_ms"
        case totalEquity = "total_equity", cash
    }
}
