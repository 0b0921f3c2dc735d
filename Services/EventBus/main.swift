import ArgumentParser
import Logging
import SLSBus
import SLSRuntime
import ServiceLifecycle
import ZeroMQ

/// The event bus: an XSUB/XPUB proxy (libzmq's zmq_proxy) plus a health endpoint.
@main
struct EventBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-event-bus",
        abstract: "Forwards events from publishers to subscribers (XSUB/XPUB proxy), enforcing the bus policy.",
        discussion: """
            Binds XSUB at --events-publish, where publishers connect their PUB sockets, and XPUB at \
            --events-subscribe, where subscribers connect their SUB sockets: the same settings the \
            services read to reach it. The bus keeps no state: events are not stored here (durable events \
            live in each producer's outbox). Health checks are answered on --listen.

            With keys (the default), every socket speaks CurveZMQ and admits only keys of --public-keys; \
            an event is forwarded only when its producer field is its publisher's identity and the policy \
            lets that identity publish its type, and a subscription is applied only when the policy lets \
            the subscriber read every type it matches. Everything else is dropped, counted and logged.
            """)

    private typealias S = ServiceSettings

    @Option(help: "ROUTER endpoint answering health checks (env SLS_LISTEN).")
    var listen = Environment.string("SLS_LISTEN", default: ServiceCatalog.eventBus.defaultEndpoint)

    // The settings the bus shares with the services, declared once in ServiceSettings.

    @Option(name: .customLong(S.eventsPublish.flag), help: S.eventsPublish.help)
    var eventsPublish = S.eventsPublish.initial

    @Option(name: .customLong(S.eventsSubscribe.flag), help: S.eventsSubscribe.help)
    var eventsSubscribe = S.eventsSubscribe.initial

    @Option(name: .customLong(S.maxEventBytes.flag), help: S.maxEventBytes.help)
    var maxEventBytes = S.maxEventBytes.initial

    @Option(name: .customLong(S.busyPollMicroseconds.flag), help: S.busyPollMicroseconds.help)
    var busyPollMicroseconds = S.busyPollMicroseconds.initial

    @Option(name: .customLong(S.logLevel.flag), help: S.logLevel.help)
    var logLevel = S.logLevel.initial

    @OptionGroup(title: "Bus security") var bus: BusSecurityOptions

    // The bus's own.

    static let eventHighWaterMark = Setting(
        flag: "event-high-water-mark", variable: "SLS_EVENT_HIGH_WATER_MARK", default: 10_000, range: 1...1_000_000,
        summary: "Events queued per publisher and per subscriber; past it a slow subscriber misses events.")

    @Option(name: .customLong(Self.eventHighWaterMark.flag), help: Self.eventHighWaterMark.help)
    var eventHighWaterMark = Self.eventHighWaterMark.initial

    func validate() throws {
        try S.eventsPublish.check(eventsPublish)
        try S.eventsSubscribe.check(eventsSubscribe)
        try S.maxEventBytes.check(maxEventBytes)
        try S.busyPollMicroseconds.check(busyPollMicroseconds)
        try S.logLevel.check(logLevel)
        try Self.eventHighWaterMark.check(eventHighWaterMark)
        for (flag, endpoint) in [("--listen", listen), ("--events-publish", eventsPublish),
                                 ("--events-subscribe", eventsSubscribe)] {
            try ServiceSettings.checkEndpoint(endpoint, flag: flag)
        }
    }

    func run() async throws {
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "event-bus")
        let context = ZMQContext()
        let secured = try bus.load(identity: ServiceCatalog.eventBus.name, logger: logger)
        // Before anything binds: without a handler libzmq would admit every client.
        let authentication = try secured.map { try $0.security.startAuthentication(context: context, logger: logger) }
        defer { authentication?.stop() }
        var serverSecurity: CurveServer?
        var filter = ZMQProxy.Filter.everything
        if let secured, let authentication {
            serverSecurity = CurveServer(keyPair: secured.security.keyPair, policy: secured.policy,
                                         authentication: authentication)
            filter = EventBusAuthorizer(policy: secured.policy, logger: logger).filter
        }
        let proxy = try ZMQProxy(context: context, publishersEndpoint: eventsPublish,
                                 subscribersEndpoint: eventsSubscribe, maxMessageBytes: maxEventBytes,
                                 highWaterMark: eventHighWaterMark, curve: secured?.security.keyPair, filter: filter)
        let server = try RPCServer(context: context, configuration: .init(
            endpoint: listen, serviceName: ServiceCatalog.eventBus.name, busyPoll: .microseconds(busyPollMicroseconds),
            security: serverSecurity), logger: logger)
        logger.info("forwarding events", metadata: [
            "publishers": "\(proxy.publishersEndpoint)", "subscribers": "\(proxy.subscribersEndpoint)"])
        // The same lifecycle as the services: one ServiceGroup, stopped in reverse order.
        let parts: [any Service] = [ZMQProxyService(proxy: proxy), RPCServerService(server: server, grace: .seconds(2)),
                                    ShutdownAnnouncer(logger: logger, plan: "answering health checks in flight, then closing")]
        let configurations = parts.map { part in
            ServiceGroupConfiguration.ServiceConfiguration(
                service: part, successTerminationBehavior: .gracefullyShutdownGroup,
                failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        let group = ServiceGroup(configuration: .init(
            services: configurations, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        logger.info("stopped")
    }
}
