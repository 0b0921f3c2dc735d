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

    @Option(name: .customLong(S.eventsPublish.flag), help: S.eventsPublish.help)
    public var eventsPublish = S.eventsPublish.initial

    @Option(name: .customLong(S.eventsSubscribe.flag), help: S.eventsSubscribe.help)
    public var eventsSubscribe = S.eventsSubscribe.initial

    @Option(name: .customLong(S.maxMessageBytes.flag), help: S.maxMessageBytes.help)
    public var maxMessageBytes = S.maxMessageBytes.initial

    @Option(name: .customLong(S.heartbeatSeconds.flag), help: S.heartbeatSeconds.help)
    public var heartbeatSeconds = S.heartbeatSeconds.initial

    @Option(name: .customLong(S.shutdownGraceSeconds.flag), help: S.shutdownGraceSeconds.help)
    public var shutdownGraceSeconds = S.shutdownGraceSeconds.initial

    @Option(name: .customLong(S.busyPollMicroseconds.flag), help: S.busyPollMicroseconds.help)
    public var busyPollMicroseconds = S.busyPollMicroseconds.initial

    @Option(name: .customLong(S.logLevel.flag), help: S.logLevel.help)
    public var logLevel = S.logLevel.initial

    // MARK: Bus security

    @OptionGroup(title: "Bus security") public var bus: BusSecurityOptions

    // MARK: Input limits and memory bounds

    @Option(name: .customLong(S.maxIdentifierBytes.flag), help: S.maxIdentifierBytes.help)
    public var maxIdentifierBytes = S.maxIdentifierBytes.initial

    @Option(name: .customLong(S.maxTextBytes.flag), help: S.maxTextBytes.help)
    public var maxTextBytes = S.maxTextBytes.initial

    @Option(name: .customLong(S.maxRepeated.flag), help: S.maxRepeated.help)
    public var maxRepeated = S.maxRepeated.initial

    @Option(name: .customLong(S.clockSkewSeconds.flag), help: S.clockSkewSeconds.help)
    public var clockSkewSeconds = S.clockSkewSeconds.initial

    @Option(name: .customLong(S.maxCallsInFlight.flag), help: S.maxCallsInFlight.help)
    public var maxCallsInFlight = S.maxCallsInFlight.initial

    @Option(name: .customLong(S.replyHighWaterMark.flag), help: S.replyHighWaterMark.help)
    public var replyHighWaterMark = S.replyHighWaterMark.initial

    @Option(name: .customLong(S.maxEventBytes.flag), help: S.maxEventBytes.help)
    public var maxEventBytes = S.maxEventBytes.initial

    @Option(name: .customLong(S.eventBuffer.flag), help: S.eventBuffer.help)
    public var eventBuffer = S.eventBuffer.initial

    @Option(name: .customLong(S.maxProducers.flag), help: S.maxProducers.help)
    public var maxProducers = S.maxProducers.initial

    @Option(name: .customLong(S.replayMaxEvents.flag), help: S.replayMaxEvents.help)
    public var replayMaxEvents = S.replayMaxEvents.initial

    @Option(name: .customLong(S.replayEventsPerMinute.flag), help: S.replayEventsPerMinute.help)
    public var replayEventsPerMinute = S.replayEventsPerMinute.initial

    @Option(name: .customLong(S.memoryTrimSeconds.flag), help: S.memoryTrimSeconds.help)
    public var memoryTrimSeconds = S.memoryTrimSeconds.initial

    public init() {}

    /// The field limits every request and event is held to.
    public var fieldLimits: FieldLimits {
        FieldLimits(identifierBytes: maxIdentifierBytes, textBytes: maxTextBytes, bytesFieldBytes: maxMessageBytes,
                    repeatedCount: maxRepeated, clockSkewMilliseconds: Int64(clockSkewSeconds) * 1000)
    }

    private typealias S = ServiceSettings

    public func validate() throws {
        try S.eventsPublish.check(eventsPublish)
        try S.eventsSubscribe.check(eventsSubscribe)
        try S.maxMessageBytes.check(maxMessageBytes)
        try S.heartbeatSeconds.check(heartbeatSeconds)
        try S.shutdownGraceSeconds.check(shutdownGraceSeconds)
        try S.busyPollMicroseconds.check(busyPollMicroseconds)
        try S.logLevel.check(logLevel)
        try S.maxIdentifierBytes.check(maxIdentifierBytes)
        try S.maxTextBytes.check(maxTextBytes)
        try S.maxRepeated.check(maxRepeated)
        try S.clockSkewSeconds.check(clockSkewSeconds)
        try S.maxCallsInFlight.check(maxCallsInFlight)
        try S.replyHighWaterMark.check(replyHighWaterMark)
        try S.maxEventBytes.check(maxEventBytes)
        try S.eventBuffer.check(eventBuffer)
        try S.maxProducers.check(maxProducers)
        try S.replayMaxEvents.check(replayMaxEvents)
        try S.replayEventsPerMinute.check(replayEventsPerMinute)
        try S.memoryTrimSeconds.check(memoryTrimSeconds)
        guard Logger.Level(rawValue: logLevel) != nil else {
            throw ValidationError("--log-level (env SLS_LOG_LEVEL) must be one of trace, debug, info, notice, warning, "
                                  + "error, critical; got '\(logLevel.prefix(64))'")
        }
        for (flag, endpoint) in [("--listen", listen), ("--events-publish", eventsPublish),
                                 ("--events-subscribe", eventsSubscribe)] {
            try ServiceSettings.checkEndpoint(endpoint, flag: flag)
        }
    }
}
