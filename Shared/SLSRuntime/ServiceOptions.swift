import ArgumentParser
import Logging

/// The defaults that differ between services (their port, name and data folder).
public protocol ServiceDefaults: Sendable {
    /// Short name used in logs, event producers and the data file, e.g. `crypto-rules`.
    static var serviceName: String { get }
    /// Default ROUTER endpoint.
    static var listen: String { get }
}

/// Settings every service takes: flags first, then `SLS_*` environment variables, then defaults.
public struct ServiceOptions<Defaults: ServiceDefaults>: ParsableArguments {
    @Option(help: "ROUTER endpoint to bind for calls (env SLS_LISTEN).")
    public var listen: String = Environment.string("SLS_LISTEN", default: Defaults.listen)

    @Option(help: "Folder for the service's SQLite database (env SLS_DATA_DIR).")
    public var dataDir: String = Environment.string("SLS_DATA_DIR", default: "data/\(Defaults.serviceName)")

    @Option(help: "Event bus endpoint that publishers connect to (env SLS_EVENTS_PUBLISH).")
    public var eventsPublish: String = Environment.string("SLS_EVENTS_PUBLISH", default: "tcp://127.0.0.1:7091")

    @Option(help: "Event bus endpoint that subscribers connect to (env SLS_EVENTS_SUBSCRIBE).")
    public var eventsSubscribe: String = Environment.string("SLS_EVENTS_SUBSCRIBE", default: "tcp://127.0.0.1:7092")

    @Option(help: "Largest request accepted, in bytes (env SLS_MAX_MESSAGE_BYTES).")
    public var maxMessageBytes: Int = Environment.int("SLS_MAX_MESSAGE_BYTES", default: 1_048_576)

    @Option(help: "Seconds between heartbeat events; 0 turns them off (env SLS_HEARTBEAT_SECONDS).")
    public var heartbeatSeconds: Double = Double(Environment.string("SLS_HEARTBEAT_SECONDS", default: "5")) ?? 5

    @Option(help: "Seconds to let calls in flight finish on SIGINT/SIGTERM (env SLS_SHUTDOWN_GRACE_SECONDS).")
    public var shutdownGraceSeconds: Double = Double(Environment.string("SLS_SHUTDOWN_GRACE_SECONDS", default: "10")) ?? 10

    @Option(help: "Microseconds the socket thread keeps polling after a call before it sleeps: lower latency for some CPU; 0 turns it off (env SLS_BUSY_POLL_MICROSECONDS).")
    public var busyPollMicroseconds: Int = Environment.int("SLS_BUSY_POLL_MICROSECONDS", default: 100)

    @Option(help: "trace, debug, info, notice, warning, error or critical (env SLS_LOG_LEVEL).")
    public var logLevel: String = Environment.string("SLS_LOG_LEVEL", default: "info")

    public init() {}

    public func validate() throws {
        let badVariables = Environment.problems(numbers: ["SLS_MAX_MESSAGE_BYTES", "SLS_HEARTBEAT_SECONDS",
                                                          "SLS_SHUTDOWN_GRACE_SECONDS", "SLS_BUSY_POLL_MICROSECONDS"])
        guard badVariables.isEmpty else { throw ValidationError(badVariables.joined(separator: "; ")) }
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level must be one of trace, debug, info, notice, warning, error, critical; got '\(logLevel)'")
        }
        guard maxMessageBytes >= 1024 else {
            throw ValidationError("--max-message-bytes must be at least 1024; got \(maxMessageBytes)")
        }
        guard (0...10_000).contains(busyPollMicroseconds) else {
            throw ValidationError("--busy-poll-microseconds must be 0 to 10000; got \(busyPollMicroseconds)")
        }
        guard heartbeatSeconds >= 0, shutdownGraceSeconds >= 0 else {
            throw ValidationError("--heartbeat-seconds and --shutdown-grace-seconds cannot be negative")
        }
        for (flag, endpoint) in [("--listen", listen), ("--events-publish", eventsPublish),
                                 ("--events-subscribe", eventsSubscribe)] {
            guard endpoint.contains("://") else {
                throw ValidationError("\(flag) must be a ZeroMQ endpoint such as tcp://127.0.0.1:7101; got '\(endpoint)'")
            }
        }
    }
}
