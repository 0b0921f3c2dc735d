import Foundation

/// The kind of code a login waits for (CHL-02 to CHL-06).
public enum ChallengeKind: String, Sendable, Codable, CaseIterable {
    /// A 6-digit challenge answered by an 8-digit OCRA response (IB Key without push, DSC+).
    case challengeResponse
    /// A code sent by SMS.
    case sms
    /// The same code read out by a voice call-back.
    case voice
}

/// CHL-08's figures. **Decided:** challenges expire after 3 minutes; SMS and voice codes after 5.
public struct ChallengeSettings: Sendable, Equatable {
    public var challengeLifetime: TimeInterval = 180
    public var codeLifetime: TimeInterval = 300
    public init() {}

    public func lifetime(of kind: ChallengeKind) -> TimeInterval {
        kind == .challengeResponse ? challengeLifetime : codeLifetime
    }
}

/// One outstanding challenge, bound to one login attempt (CHL-08).
public struct PendingChallenge: Sendable, Equatable, Codable {
    public let loginID: String
    public let kind: ChallengeKind
    public let issuedAt: Date
    /// Set by the one successful answer.
    public var answeredAt: Date?
    /// Set when a newer code replaced it (CHL-06: the old one stops working).
    public var replacedAt: Date?

    public init(loginID: String, kind: ChallengeKind, issuedAt: Date) {
        self.loginID = loginID
        self.kind = kind
        self.issuedAt = issuedAt
    }
}

/// Why an answer to a challenge is not even checked.
public enum ChallengeRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case otherLogin
    case expired
    case alreadyAnswered
    case replaced

    public var ruleID: String { self == .replaced ? "CHL-06" : "CHL-08" }

    public var description: String {
        switch self {
        case .otherLogin: "this challenge belongs to another login attempt"
        case .expired: "the challenge has expired: start the login again"
        case .alreadyAnswered: "the challenge was already answered: it can be used once"
        case .replaced: "a newer code was sent: use the latest one"
        }
    }
}

/// CHL-08: whether an answer to `challenge` for `loginID` at `now` may be checked at all.
public enum ChallengeRules {
    public static func refusal(_ challenge: PendingChallenge, loginID: String, now: Date,
                               settings: ChallengeSettings) -> ChallengeRefusal? {
        if challenge.loginID != loginID { return .otherLogin }
        if challenge.answeredAt != nil { return .alreadyAnswered }
        if challenge.replacedAt != nil { return .replaced }
        if now.timeIntervalSince(challenge.issuedAt) >= settings.lifetime(of: challenge.kind) { return .expired }
        return nil
    }

    /// A random numeric code of `digits` digits (the 6-digit challenge, SMS codes).
    public static func numericCode(digits: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<digits).map { _ in Character(String(UInt8.random(in: 0...9, using: &generator))) })
    }
}
