import ArgumentParser
import Logging
import SLSBus
import SLSMessages

/// The defaults that differ between services: their entry in the ``ServiceCatalog``.
public protocol ServiceDefaults: Sendable {
    /// The service's name and default endpoint.
    static var entry: CatalogEntry { get }
}

extension ServiceDefaults {
    /// Short name used in logs, event producers and the data file, e.g. `crypto-rules`.
    public static var serviceName: String { entry.name }
    /// Default ROUTER endpoint.
    public static var listen: String { entry.defaultEndpoint }
}

/// Settings every service takes: flags first, then `SLS_*` environment variables, then defaults.
public struct ServiceOptions<Defaults: ServiceDefaults>: ParsableArguments {
    @Option(help: "ROUTER endpoint to bind for calls (env SLS_LISTEN).")
    public var listen: String = Environment.string("SLS_LISTEN", default: Defaults.listen)

    @Option(help: "Folder for the service's SQLite database (env SLS_DATA_DIR).")
    public var dataDir: String = Environment.string("SLS_DATA_DIR", default: "data/\(Defaults.serviceName)")

    @Option(help: "Event bus endpoint that publishers connect to (env SLS_EVENTS_PUBLISH).")
    public var eventsPublish: String = Environment.string("SLS_EVENTS_PUBLISH", default: ServiceCatalog.eventsPublishEndpoint)

    @Option(help: "Event bus endpoint that subscribers connect to (env SLS_EVENTS_SUBSCRIBE).")
    public var eventsSubscribe: String = Environment.string("SLS_EVENTS_SUBSCRIBE", default: ServiceCatalog.eventsSubscribeEndpoint)

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

    // MARK: Input limits and memory bounds

    @Option(help: "Longest identifier field (ids, names, producer, caller), in bytes (env SLS_MAX_IDENTIFIER_BYTES).")
    public var maxIdentifierBytes: Int = Environment.int("SLS_MAX_IDENTIFIER_BYTES", default: 128)

    @Option(help: "Longest free-text field, in bytes (env SLS_MAX_TEXT_BYTES).")
    public var maxTextBytes: Int = Environment.int("SLS_MAX_TEXT_BYTES", default: 4096)

    @Option(help: "Most elements in one repeated field (env SLS_MAX_REPEATED).")
    public var maxRepeated: Int = Environment.int("SLS_MAX_REPEATED", default: 1000)

    @Option(help: "How far ahead of this machine's clock a reported time may be, in seconds (env SLS_CLOCK_SKEW_SECONDS).")
    public var clockSkewSeconds: Int = Environment.int("SLS_CLOCK_SKEW_SECONDS", default: 300)

    @Option(help: "Calls running at once; more are refused with RESOURCE_EXHAUSTED (env SLS_MAX_CALLS_IN_FLIGHT).")
    public var maxCallsInFlight: Int = Environment.int("SLS_MAX_CALLS_IN_FLIGHT", default: 1024)

    @Option(help: "Replies queued for one client; past it replies to a client that does not read are dropped (env SLS_REPLY_HIGH_WATER_MARK).")
    public var replyHighWaterMark: Int = Environment.int("SLS_REPLY_HIGH_WATER_MARK", default: 1000)

    @Option(help: "Largest event frame accepted from the bus, in bytes (env SLS_MAX_EVENT_BYTES).")
    public var maxEventBytes: Int = Environment.int("SLS_MAX_EVENT_BYTES", default: 262_144)

    @Option(help: "Events waiting to be handled at most; more are dropped, counted and seen as a gap (env SLS_EVENT_BUFFER).")
    public var eventBuffer: Int = Environment.int("SLS_EVENT_BUFFER", default: 10_000)

    @Option(help: "Event producers remembered for gap detection (env SLS_MAX_PRODUCERS).")
    public var maxProducers: Int = Environment.int("SLS_MAX_PRODUCERS", default: 1000)

    @Option(help: "Events one EventLog/Replay call republishes at most (env SLS_REPLAY_MAX_EVENTS).")
    public var replayMaxEvents: Int = Environment.int("SLS_REPLAY_MAX_EVENTS", default: 1000)

    @Option(help: "Events one caller may have replayed per minute (env SLS_REPLAY_EVENTS_PER_MINUTE).")
    public var replayEventsPerMinute: Int = Environment.int("SLS_REPLAY_EVENTS_PER_MINUTE", default: 5000)

    @Option(help: "Seconds between returns of freed heap memory to the system (malloc_trim); 0 turns it off (env SLS_MEMORY_TRIM_SECONDS).")
    public var memoryTrimSeconds: Int = Environment.int("SLS_MEMORY_TRIM_SECONDS", default: 10)

    public init() {}

    /// The field limits every request and event is held to.
    public var fieldLimits: FieldLimits {
        FieldLimits(identifierBytes: maxIdentifierBytes, textBytes: maxTextBytes, bytesFieldBytes: maxMessageBytes,
                    repeatedCount: maxRepeated, clockSkewMilliseconds: Int64(clockSkewSeconds) * 1000)
    }

    static var numericVariables: [String] {
        ["SLS_MAX_MESSAGE_BYTES", "SLS_HEARTBEAT_SECONDS", "SLS_SHUTDOWN_GRACE_SECONDS", "SLS_BUSY_POLL_MICROSECONDS",
         "SLS_MAX_IDENTIFIER_BYTES", "SLS_MAX_TEXT_BYTES", "SLS_MAX_REPEATED", "SLS_CLOCK_SKEW_SECONDS",
         "SLS_MAX_CALLS_IN_FLIGHT", "SLS_REPLY_HIGH_WATER_MARK", "SLS_MAX_EVENT_BYTES", "SLS_EVENT_BUFFER",
         "SLS_MAX_PRODUCERS", "SLS_REPLAY_MAX_EVENTS", "SLS_REPLAY_EVENTS_PER_MINUTE",
         "SLS_MEMORY_TRIM_SECONDS"]
    }

    public func validate() throws {
        let badVariables = Environment.problems(numbers: Self.numericVariables)
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
        for (flag, value, range) in [
            ("--max-identifier-bytes", maxIdentifierBytes, 16...4096), ("--max-text-bytes", maxTextBytes, 64...(1 << 20)),
            ("--max-repeated", maxRepeated, 1...100_000), ("--clock-skew-seconds", clockSkewSeconds, 0...86_400),
            ("--max-calls-in-flight", maxCallsInFlight, 1...100_000),
            ("--reply-high-water-mark", replyHighWaterMark, 1...1_000_000),
            ("--max-event-bytes", maxEventBytes, 1024...(64 << 20)), ("--event-buffer", eventBuffer, 1...1_000_000),
            ("--max-producers", maxProducers, 1...1_000_000), ("--replay-max-events", replayMaxEvents, 1...100_000),
            ("--replay-events-per-minute", replayEventsPerMinute, 1...10_000_000),
            ("--memory-trim-seconds", memoryTrimSeconds, 0...86_400),
        ] {
            guard range.contains(value) else {
                throw ValidationError("\(flag) must be \(range.lowerBound) to \(range.upperBound); got \(value)")
            }
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
