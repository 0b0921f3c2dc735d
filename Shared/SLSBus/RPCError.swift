import SLSMessages

/// A call that did not end with OK: the gRPC status code, plain words and,
/// for domain refusals, the rule id from DOMAIN.md.
public struct RPCError: Error, CustomStringConvertible, Sendable, Equatable {
    public var code: StatusCode
    /// Plain words for a person. Never put secrets here: replies and logs carry it.
    public var message: String
    /// The DOMAIN.md rule a refusal enforces, e.g. "CRY-05"; empty otherwise.
    public var ruleID: String

    public init(_ code: StatusCode, _ message: String, ruleID: String = "") {
        self.code = code
        self.message = message
        self.ruleID = ruleID
    }

    init(status: Status) {
        self.init(status.code, status.message, ruleID: status.ruleID)
    }

    var status: Status {
        Status(code: code, message: message, ruleID: ruleID)
    }

    public var description: String {
        let rule = ruleID.isEmpty ? "" : " [\(ruleID)]"
        return "\(code)\(rule): \(message)"
    }

    public static func invalidArgument(_ message: String, ruleID: String = "") -> RPCError {
        RPCError(.invalidArgument, message, ruleID: ruleID)
    }

    public static func failedPrecondition(_ message: String, ruleID: String = "") -> RPCError {
        RPCError(.failedPrecondition, message, ruleID: ruleID)
    }

    public static func notFound(_ message: String) -> RPCError {
        RPCError(.notFound, message)
    }

    public static func permissionDenied(_ message: String, ruleID: String = "") -> RPCError {
        RPCError(.permissionDenied, message, ruleID: ruleID)
    }
}
