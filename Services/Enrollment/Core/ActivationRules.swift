import Foundation

/// An issued activation string as the service keeps it (never the string: its digest).
public struct PendingActivation: Sendable, Equatable {
    public let userName: String
    public let issuedAt: Date
    /// Set by the first attempt, whatever its outcome (ENR-06).
    public var consumedAt: Date?
    /// ENR-09: issued to move IB Key to a new phone; activating deactivates it on the old one.
    public var replacesExisting: Bool

    public init(userName: String, issuedAt: Date, consumedAt: Date? = nil, replacesExisting: Bool = false) {
        self.userName = userName
        self.issuedAt = issuedAt
        self.consumedAt = consumedAt
        self.replacesExisting = replacesExisting
    }
}

/// Why an activation was refused (ENR-07): the articles' one headline, and the actual cause
/// with its remedy (DOMAIN.md Decided: the portal session is authenticated, so naming the cause
/// tells a stranger nothing).
public enum ActivationRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case alreadyEnrolled
    case alreadyUsed
    case expired
    case badPin(String)
    /// ENR-08: adding a user needs IB Key already active on the phone.
    case notOnThisPhone
    /// ENR-08: the phone did not prove it holds its registered device key.
    case deviceNotProven
    /// ENR-09: a string that moves IB Key to a new phone is for activating that phone, not for
    /// adding a user to another one.
    case replaceNeedsActivation
    /// The device id is already another phone's (a different device key).
    case deviceIDTaken

    /// The articles' words, kept as the first line of every refusal.
    public static let headline = "An error has occurred. Please try again."

    public var ruleID: String {
        switch self {
        case .alreadyEnrolled, .alreadyUsed, .expired: "ENR-07"
        case .badPin: "ENR-05"
        case .notOnThisPhone, .deviceNotProven, .deviceIDTaken: "ENR-08"
        case .replaceNeedsActivation: "ENR-09"
        }
    }

    /// How a refusal is reported: the phone's proof failing is PERMISSION_DENIED, the rest
    /// FAILED_PRECONDITION.
    public var isProofFailure: Bool { self == .deviceNotProven || self == .deviceIDTaken }

    /// A short name of the cause for events and metrics (never the string or the PIN).
    public var reason: String {
        switch self {
        case .alreadyEnrolled: "already_enrolled"
        case .alreadyUsed: "already_used"
        case .expired: "expired"
        case .badPin: "bad_pin"
        case .notOnThisPhone: "not_on_this_phone"
        case .deviceNotProven: "device_not_proven"
        case .replaceNeedsActivation: "replace_needs_activation"
        case .deviceIDTaken: "device_id_taken"
        }
    }

    public var description: String {
        switch self {
        case .alreadyEnrolled:
            "\(Self.headline) This user is already enrolled on IB Key: log in again; if your phone gets a "
                + "notification you are already enrolled and need not activate."
        case .alreadyUsed:
            "\(Self.headline) This activation string was already used (any attempt uses it up): log out of "
                + "the Client Portal and log in again to get a fresh QR code."
        case .expired:
            "\(Self.headline) This activation string has expired: log out of the Client Portal and log in "
                + "again to get a fresh QR code."
        case .badPin(let why):
            "\(Self.headline) The PIN was not accepted: \(why). The activation string is used up: log out "
                + "and log in again to get a fresh QR code."
        case .notOnThisPhone:
            "\(Self.headline) IB Key is not active on this phone: activate it for a first user, then add others. "
                + "The activation string is used up: log out and log in again to get a fresh QR code."
        case .deviceNotProven:
            "\(Self.headline) This phone could not prove it is the one IB Key was activated on. The activation "
                + "string is used up: log out and log in again to get a fresh QR code."
        case .replaceNeedsActivation:
            "\(Self.headline) This string moves IB Key to a new phone: activate it on that phone (it cannot add a "
                + "user to another phone). Log out and log in again to get a fresh QR code."
        case .deviceIDTaken:
            "\(Self.headline) Another phone already uses this device id. The activation string is used up: log out "
                + "and log in again to get a fresh QR code."
        }
    }
}

/// ENR-05 to ENR-07: what an activation attempt with a known string comes to.
public enum ActivationRules {
    /// Decides an attempt at `now`: nil activates, otherwise the refusal. Whatever the outcome, the
    /// caller marks the string consumed (ENR-06: any attempt uses it up), so the second attempt is
    /// always `alreadyUsed`.
    ///
    /// - Parameters:
    ///   - pending: the string's record.
    ///   - userHasIBKey: whether the string's user already has an active IB Key.
    ///   - pin: what the phone sent for the PIN (Android), nil for iOS.
    public static func decide(_ pending: PendingActivation, userHasIBKey: Bool, platform: DevicePlatform,
                              pin: String?, now: Date, settings: EnrollmentSettings) -> ActivationRefusal? {
        if pending.consumedAt != nil { return .alreadyUsed }
        if now.timeIntervalSince(pending.issuedAt) >= settings.activationLifetime { return .expired }
        if userHasIBKey && !pending.replacesExisting { return .alreadyEnrolled }
        if let problem = PinRule.problem(with: pin, on: platform, settings: settings) { return .badPin(problem) }
        return nil
    }
}

/// ENR-02, ENR-10: which factors a user may add, and whether to recommend IB Key.
public enum FactorEligibility {
    /// Why `kind` may not be added for a balance of `balanceUSD`, or nil when it may.
    public static func problem(adding kind: FactorKind, balanceUSD: Decimal?, settings: EnrollmentSettings) -> String? {
        guard kind == .dscPlus else { return nil }
        guard let balanceUSD else {
            return "DSC+ is only for accounts whose balance is over USD \(settings.dscPlusMinimumBalanceUSD); "
                + "no balance of this account has arrived yet"
        }
        guard balanceUSD > settings.dscPlusMinimumBalanceUSD else {
            return "DSC+ is only for accounts whose balance is over USD \(settings.dscPlusMinimumBalanceUSD); "
                + "this account's balance is USD \(balanceUSD)"
        }
        return nil
    }

    /// ENR-10: the portal shows the IB Key banner to users without an active IB Key.
    public static func recommendsIBKey(activeFactors: Set<FactorKind>) -> Bool {
        !activeFactors.contains(.ibKey)
    }
}
