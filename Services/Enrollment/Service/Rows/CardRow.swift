import GRDB

/// One row of `card`: a DSC+ card of the inventory. The seed is sealed (see ``SealingVault``).
struct CardRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "card"

    var serial: String
    /// ChaCha20-Poly1305 box of the OCRA seed, the serial as associated data.
    var sealedSeed: [UInt8]
    var suite: String
    var assignedUser: String?
    var importedMs: Int64

    enum CodingKeys: String, CodingKey {
        case serial, sealedSeed = "sealed_seed", suite, assignedUser = "assigned_user", importedMs = "imported_ms"
    }
}
