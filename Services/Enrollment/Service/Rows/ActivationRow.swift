import GRDB

/// One row of `activation`: an issued activation string, by its digest (the string is not kept).
struct ActivationRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "activation"

    var digest: String
    var userName: String
    var issuedMs: Int64
    /// Set by the first attempt, whatever its outcome (ENR-06).
    var consumedMs: Int64?
    /// ENR-09: activating with it moves IB Key to the new phone.
    var replacesExisting: Bool

    enum CodingKeys: String, CodingKey {
        case digest, userName = "user_name", issuedMs = "issued_ms", consumedMs = "consumed_ms"
        case replacesExisting = "replaces_existing"
    }
}
