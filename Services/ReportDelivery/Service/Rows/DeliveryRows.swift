import Foundation
import GRDB

/// One row of `delivery_user`: a user of the SFTP endpoint (DLV-10) and their Message Center
/// preferences (DLV-09).
struct DeliveryUserRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery_user"

    var userName: String
    var createdMs: Int64
    /// When the set-up was complete and the user notified; nil before.
    var readyMs: Int64?
    /// The registered PGP key; empty when none (statements are held, DLV-08).
    var pgpFingerprint: String
    var primaryLanguage: String
    var secondaryLanguage: String
    /// `email`, `sms`, comma-separated.
    var channels: String

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", createdMs = "created_ms", readyMs = "ready_ms", pgpFingerprint = "pgp_fingerprint"
        case primaryLanguage = "primary_language", secondaryLanguage = "secondary_language", channels
    }
}

/// One row of `delivery_ssh_key`: a registered SSH public key (DLV-01, DLV-02). Public half only.
struct SSHKeyRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery_ssh_key"

    var userName: String
    var fingerprint: String
    var keyType: String
    var bits: Int
    var blob: Data
    var comment: String
    var addedMs: Int64

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", fingerprint, keyType = "key_type", bits, blob, comment, addedMs = "added_ms"
    }
}

/// One row of `delivery_address`: an address range a user connects from (DLV-04).
struct AddressRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery_address"

    var userName: String
    var position: Int
    var range: String

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", position, range = "address_range"
    }
}

/// One row of `delivery_statement`: a statement received, delivered, held or purged.
struct StatementRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery_statement"

    var statementID: String
    var userName: String
    var name: String
    var period: String
    /// `delivered`, `held` or `purged`.
    var state: String
    /// The file in the user's folder (`name` + `.gpg`).
    var fileName: String
    var receivedMs: Int64
    var deliveredMs: Int64?
    var purgedMs: Int64?
    var sizeBytes: Int64
    /// While held: the statement sealed with the service's key (never in clear); nil otherwise.
    var sealed: Data?

    enum CodingKeys: String, CodingKey {
        case statementID = "statement_id", userName = "user_name", name, period, state, fileName = "file_name"
        case receivedMs = "received_ms", deliveredMs = "delivered_ms", purgedMs = "purged_ms", sizeBytes = "size_bytes"
        case sealed
    }
}

/// One row of `delivery_message`: a message in a user's Message Center (DLV-09).
struct CenterMessageRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "delivery_message"

    var id: Int64?
    var userName: String
    var createdMs: Int64
    var language: String
    var subject: String
    var body: String
    var statementID: String

    enum CodingKeys: String, CodingKey {
        case id, userName = "user_name", createdMs = "created_ms", language, subject, body, statementID = "statement_id"
    }

    mutating func didInsert(_ inserted: InsertionSuccess) {
        id = inserted.rowID
    }
}

/// One row of `delivery_account`: the read model of ACC-05 this service needs: which broker user
/// names exist (from AccountOpened). Contact details stay with the account services.
struct AccountRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery_account"

    var userName: String
    var accountID: String
    var openedMs: Int64

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", accountID = "account_id", openedMs = "opened_ms"
    }
}

/// One row of `delivery_inbox`: a statement that arrived as an event and is not delivered yet
/// (kept sealed, retried after a passing failure, so an event is never lost to one).
struct InboxRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "delivery_inbox"

    var statementID: String
    var sealed: Data
    var receivedMs: Int64
    var attempts: Int

    enum CodingKeys: String, CodingKey {
        case statementID = "statement_id", sealed, receivedMs = "received_ms", attempts
    }
}
