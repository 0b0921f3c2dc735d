import ArgumentParser
import SLSBus

/// Every setting the services (and, for those it shares, the event bus) take, each declared once
/// with its flag, environment variable, default and allowed range. Service-specific ones live
/// with the service (e.g. `CryptoOptions`).
public enum ServiceSettings {
    public static let eventsPublish = Setting(
        flag: "events-publish", variable: "SLS_EVENTS_PUBLISH", default: ServiceCatalog.eventsPublishEndpoint,
        summary: "Event bus endpoint that publishers connect to (the bus binds its XSUB socket there).")
    public static let eventsSubscribe = Setting(
        flag: "events-subscribe", variable: "SLS_EVENTS_SUBSCRIBE", default: ServiceCatalog.eventsSubscribeEndpoint,
        summary: "Event bus endpoint that subscribers connect to (the bus binds its XPUB socket there).")
    public static let maxMessageBytes = Setting(
        flag: "max-message-bytes", variable: "SLS_MAX_MESSAGE_BYTES", default: 1_048_576, range: 1024...(256 << 20),
        summary: "Largest request accepted, in bytes.")
    public static let heartbeatSeconds = Setting(
        flag: "heartbeat-seconds", variable: "SLS_HEARTBEAT_SECONDS", default: 5.0, range: 0...86_400,
        summary: "Seconds between heartbeat events; 0 turns them off.")
    public static let shutdownGraceSeconds = Setting(
        flag: "shutdown-grace-seconds", variable: "SLS_SHUTDOWN_GRACE_SECONDS", default: 10.0, range: 0...3600,
        summary: "Seconds calls in flight get to finish on SIGINT/SIGTERM.")
    public static let busyPollMicroseconds = Setting(
        flag: "busy-poll-microseconds", variable: "SLS_BUSY_POLL_MICROSECONDS", default: 100, range: 0...10_000,
        summary: "Microseconds a socket thread keeps polling after a call before it sleeps: lower latency for some CPU; 0 turns it off.")
    public static let logLevel = Setting(
        flag: "log-level", variable: "SLS_LOG_LEVEL", default: "info",
        summary: "trace, debug, info, notice, warning, error or critical.")
    public static let maxIdentifierBytes = Setting(
        flag: "max-identifier-bytes", variable: "SLS_MAX_IDENTIFIER_BYTES", default: 128, range: 16...4096,
        summary: "Longest identifier field (ids, names, producer, caller), in bytes.")
    public static let maxTextBytes = Setting(
        flag: "max-text-bytes", variable: "SLS_MAX_TEXT_BYTES", default: 4096, range: 64...(1 << 20),
        summary: "Longest free-text field, in bytes.")
    public static let maxRepeated = Setting(
        flag: "max-repeated", variable: "SLS_MAX_REPEATED", default: 1000, range: 1...100_000,
        summary: "Most elements in one repeated field.")
    public static let clockSkewSeconds = Setting(
        flag: "clock-skew-seconds", variable: "SLS_CLOCK_SKEW_SECONDS", default: 300, range: 0...86_400,
        summary: "How far ahead of this machine's clock a reported time may be, in seconds.")
    public static let maxCallsInFlight = Setting(
        flag: "max-calls-in-flight", variable: "SLS_MAX_CALLS_IN_FLIGHT", default: 1024, range: 1...100_000,
        summary: "Calls running at once; more are refused with RESOURCE_EXHAUSTED.")
    public static let replyHighWaterMark = Setting(
        flag: "reply-high-water-mark", variable: "SLS_REPLY_HIGH_WATER_MARK", default: 1000, range: 1...1_000_000,
        summary: "Replies queued for one client; past it, replies to a client that does not read are dropped.")
    public static let maxEventBytes = Setting(
        flag: "max-event-bytes", variable: "SLS_MAX_EVENT_BYTES", default: 262_144, range: 1024...(64 << 20),
        summary: "Largest event accepted, in bytes (the bus: forwarded; a service: handled).")
    public static let eventBuffer = Setting(
        flag: "event-buffer", variable: "SLS_EVENT_BUFFER", default: 10_000, range: 1...1_000_000,
        summary: "Events waiting to be handled at most; more are dropped, counted and seen as a gap.")
    public static let maxProducers = Setting(
        flag: "max-producers", variable: "SLS_MAX_PRODUCERS", default: 1000, range: 1...1_000_000,
        summary: "Event producers remembered for gap detection.")
    public static let replayMaxEvents = Setting(
        flag: "replay-max-events", variable: "SLS_REPLAY_MAX_EVENTS", default: 1000, range: 1...100_000,
        summary: "Events one EventLog/Replay call republishes at most.")
    public static let replayEventsPerMinute = Setting(
        flag: "replay-events-per-minute", variable: "SLS_REPLAY_EVENTS_PER_MINUTE", default: 5000,
        range: 1...10_000_000, summary: "Events one caller may have replayed per minute.")
    public static let memoryTrimSeconds = Setting(
        flag: "memory-trim-seconds", variable: "SLS_MEMORY_TRIM_SECONDS", default: 10, range: 0...86_400,
        summary: "Seconds between returns of freed heap memory to the system (malloc_trim); 0 turns it off.")

    /// Throws unless `endpoint` looks like a ZeroMQ endpoint.
    public static func checkEndpoint(_ endpoint: String, flag: String) throws {
        guard endpoint.contains("://") else {
            throw ValidationError("\(flag) must be a ZeroMQ endpoint such as tcp://127.0.0.1:7101; "
                                  + "got '\(endpoint.prefix(64))'")
        }
    }
}
