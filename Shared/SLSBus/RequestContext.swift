import Logging
import SLSMessages

/// What a handler knows about the call it serves.
public struct RequestContext: Sendable {
    /// `package.Service/Method`.
    public let method: String
    public let traceID: String
    /// Who called: the identity bound to the caller's key when the server is secured
    /// (``isAuthenticated``), otherwise only what the caller's header claims.
    public let caller: String
    /// Whether ``caller`` was established by CurveZMQ authentication.
    public let isAuthenticated: Bool
    /// Absolute deadline in Unix milliseconds; 0 means none.
    public let deadlineUnixMs: Int64
    public let metadata: [String: String]
    /// The server's field limits and clock, for checks a handler adds of its own.
    public let validator: FieldValidator
    let serviceLogger: Logger

    /// A logger carrying the method and trace id (built on use: most calls never log).
    public var logger: Logger {
        var logger = serviceLogger
        logger[metadataKey: "method"] = "\(method)"
        if !traceID.isEmpty { logger[metadataKey: "trace"] = "\(traceID)" }
        return logger
    }

    /// Whether the caller has given up waiting.
    public var isPastDeadline: Bool {
        deadlineUnixMs != 0 && unixMilliseconds() > deadlineUnixMs
    }
}
