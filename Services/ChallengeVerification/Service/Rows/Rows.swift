import GRDB

/// One row of `cv_user`: a user's password hash and IP restrictions (ACC-01, ACC-02, ACC-04).
struct CVUserRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "cv_user"
    var userName: String
    /// Argon2id encoded hash; nil until a password is set.
    var passwordHash: String?
    var ipRestricted: Bool
    /// The allowed addresses and ranges, one per line.
    var ipAllowed: String
    var accountID: String = ""
    /// Where SMS and voice codes go (CHL-06), once verified (ACC-03).
    var mobileNumber: String = ""
    var mobileVerified: Bool = false

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", passwordHash = "password_hash", ipRestricted = "ip_restricted", ipAllowed = "ip_allowed"
        case accountID = "account_id", mobileNumber = "mobile_number", mobileVerified = "mobile_verified"
    }
}

/// One row of `phone`: an IB Key phone of a user, from enrollment's events (public keys only).
struct PhoneRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "phone"
    var userName: String
    var deviceID: String
    var platform: String
    var agreementKey: [UInt8]
    var active: Bool
    /// Android: the PIN's SHA-1 sealed by the phone for this service (opened only to answer).
    var sealedPINHash: [UInt8] = []
    /// The phone's signing public key: its polls and push answers are signed with it (CHL-02).
    var signingKey: [UInt8] = []
    /// Where push notifications reach it; empty: no push.
    var pushToken: String = ""

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", deviceID = "device_id", platform, agreementKey = "agreement_key", active
        case sealedPINHash = "sealed_pin_hash", signingKey = "signing_key", pushToken = "push_token"
    }
}

/// One row of `login`: a login attempt and its one outstanding challenge (CHL-08).
struct LoginRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "login"
    var loginID: String
    var userName: String
    var clientAddress: String
    var startedMs: Int64
    var deviceID: String
    var challenge: String
    var challengeIssuedMs: Int64?
    var verifiedMs: Int64?
    /// The chosen factor: `ibKey`, `sms` or `voice` (CHL-11: only that one is used).
    var factor: String = ""
    /// SMS and voice: SHA-256 of the login id and the code (the code itself is not kept).
    var codeHash: [UInt8] = []
    /// SMS and voice codes sent for this login (CHL-06's resend limit).
    var sends: Int = 0
    /// Push: the number the login screen shows and the ones the phone offers ("12,34,56").
    var pushNumber: Int = 0
    var pushChoices: String = ""
    /// Set when the login was refused for good (a push declined as "not me", a password reset).
    var refusedMs: Int64?
    /// `LoginPurpose` raw value (CHL-07, CHL-12).
    var purpose: Int = 0

    enum CodingKeys: String, CodingKey {
        case loginID = "login_id", userName = "user_name", clientAddress = "client_address", startedMs = "started_ms"
        case deviceID = "device_id", challenge, challengeIssuedMs = "challenge_issued_ms", verifiedMs = "verified_ms"
        case factor, codeHash = "code_hash", sends
        case pushNumber = "push_number", pushChoices = "push_choices", refusedMs = "refused_ms", purpose
    }
}

/// One row of `failure_counter`: CHL-09's count for one factor of one user, kept in one place.
struct FailureCounterRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "failure_counter"
    var userName: String
    var factor: String
    /// `FailureCounter` as JSON.
    var counter: String

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", factor, counter
    }
}

/// One row of `audit`: a decision, chained to the one before by its hash.
struct AuditRow: Codable, FetchableRecord, MutablePersistableRecord {
    static let databaseTableName = "audit"
    var id: Int64?
    var userName: String
    var atMs: Int64
    var address: String
    var factor: String
    var outcome: String
    var ruleID: String
    var hash: [UInt8]

    enum CodingKeys: String, CodingKey {
        case id, userName = "user_name", atMs = "at_ms", address, factor, outcome, ruleID = "rule_id", hash
    }

    mutating func didInsert(_ inserted: InsertionSuccess) { id = inserted.rowID }
}

/// One row of `code_send`: an SMS or voice code sent, for the per-user hourly limit (CHL-06).
struct CodeSendRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "code_send"
    var userName: String
    var sentMs: Int64

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", sentMs = "sent_ms"
    }
}

/// One row of `password_reset`: a reset in progress (ACC-06), its code kept as a hash.
struct PasswordResetRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "password_reset"
    var resetID: String
    var userName: String
    var codeHash: [UInt8]
    var issuedMs: Int64
    var usedMs: Int64?

    enum CodingKeys: String, CodingKey {
        case resetID = "reset_id", userName = "user_name", codeHash = "code_hash", issuedMs = "issued_ms", usedMs = "used_ms"
    }
}

/// One row of `card`: a DSC+ card of a user (CHL-05), its seed sealed to this service's key.
struct CardRow: Codable, FetchableRecord, PersistableRecord {
    static let databaseTableName = "card"
    var userName: String
    var serial: String
    /// The seed as enrollment sealed it for this service (opened only to check a response).
    var sealedSeed: [UInt8]
    var suite: String
    var active: Bool

    enum CodingKeys: String, CodingKey {
        case userName = "user_name", serial, sealedSeed = "sealed_seed", suite, active
    }
}
