/// Why an order or request is refused: the DOMAIN.md rule and what the user can do (CRY-14).
public struct Refusal: Error, Sendable, Hashable, CustomStringConvertible {
    /// The rule id, e.g. "CRY-05"; empty for refusals that no rule names (a missing price).
    public let ruleID: String
    /// Plain words, including what the user can do about it.
    public let message: String
    /// What kind of problem it is, for the status code on the bus.
    public let kind: Kind

    public enum Kind: Sendable, Hashable {
        /// The request itself is malformed (a quantity that is not a number).
        case invalidInput
        /// A rule forbids it in the current state of the account or market.
        case ruleViolation
        /// A permission is missing.
        case notPermitted
        /// An input the check needs is missing or stale (a mark price).
        case missingInput
    }

    public init(_ ruleID: String, _ message: String, kind: Kind = .ruleViolation) {
        self.ruleID = ruleID
        self.message = message
        self.kind = kind
    }

    public var description: String { ruleID.isEmpty ? message : "\(ruleID): \(message)" }
}
