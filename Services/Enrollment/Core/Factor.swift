import Foundation

/// A second factor of the Secure Login System (ENR-02).
public enum FactorKind: String, Sendable, CaseIterable, Codable {
    /// A code sent by SMS to the verified mobile number: everyone has it (ENR-01).
    case sms
    /// The IB Key authenticator app on a smartphone.
    case ibKey
    /// The Digital Security Card+, only while the balance is over USD 500,000.
    case dscPlus
}

/// Where a factor of a user stands.
public enum FactorState: String, Sendable, Codable {
    case active
    /// Replaced or withdrawn; kept for the record (ENR-09).
    case deactivated
}

/// The phone platform of an IB Key activation (ENR-05).
public enum DevicePlatform: String, Sendable, CaseIterable, Codable {
    /// Confirms with a PIN of 4 to 6 characters chosen on the phone.
    case android
    /// Confirms with the phone's own unlock (Face ID, fingerprint, passcode), never seen here.
    case ios
}
