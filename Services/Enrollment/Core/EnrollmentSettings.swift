import Foundation

/// The rules' figures: the articles' where they give one, DOMAIN.md's **Decided** values otherwise.
public struct EnrollmentSettings: Sendable, Equatable {
    /// How long an activation string may be used after it was issued (ENR-06, Decided: 10 minutes).
    public var activationLifetime: TimeInterval = 600
    /// Length of an Android PIN (ENR-05: at least 4 and up to 6 characters).
    public var pinLength: ClosedRange<Int> = 4...6
    /// DSC+ is for accounts whose balance is over this many USD (ENR-02; strictly over).
    public var dscPlusMinimumBalanceUSD: Decimal = 500_000
    /// Characters of an activation string, without separators (16: 80 bits from a 32-letter alphabet).
    public var activationCodeLength = 16
    /// Characters per group when an activation string is shown (`ABCD-EFGH-...`).
    public var activationCodeGroup = 4
    /// Activation attempts (Activate, AddUser) one phone (device id) may make per minute.
    public var attemptsPerDevicePerMinute = 20
    /// Activation attempts one caller identity (e.g. the mobile gateway, for all phones) may make per minute.
    public var attemptsPerCallerPerMinute = 6000
    /// Activation strings one user may be issued per minute.
    public var startsPerUserPerMinute = 10

    public init() {}
}
