import GRDB

/// One row of `factor`: a second factor of a user, active or deactivated.
struct FactorRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "factor"

    var id: Int64?
    var userName: String
    /// `FactorKind` raw value.
    var kind: String
    /// `FactorState` raw value.
    var state: String
    var sinceMs: Int64
    var deviceID: String
    /// `DevicePlatform` raw value; empty for factors without a phone.
    var platform: String
    var devicePublicKey: [UInt8]
    var pushToken: String
    /// The phone's key-agreement public key (empty when none was sent).
    var deviceAgreementKey: [UInt8]
    /// DSC+: the card's serial.
    var cardSerial: String = ""
    /// Android: the PIN's hash sealed for challenge verification (opaque to this service).
    var sealedPINHash: [UInt8] = []

    enum CodingKeys: String, CodingKey {
        case id, userName = "user_name", kind, state, sinceMs = "since_ms", deviceID = "device_id", platform
        case devicePublicKey = "device_public_key", pushToken = "push_token", deviceAgreementKey = "device_agreement_key"
        case cardSerial = "card_serial", sealedPINHash = "sealed_pin_hash"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}
