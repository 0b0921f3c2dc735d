import ArgumentParser
import Logging
import SLSBus
import SLSRuntime
import ZeroMQ

/// The event bus: an XSUB/XPUB proxy (libzmq's zmq_proxy) plus a health endpoint.
@main
struct EventBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-event-bus",
        abstract: "Forwards events from publishers to subscribers (XSUB/XPUB proxy).",
        discussion: """
            Publishers connect a PUB socket to --publishers; subscribers connect a SUB socket to \
            --subscribers. The bus keeps no state: events are not stored here (durable events \
            live in each producer's outbox). Health checks are answered on --listen.
            """)

    @Option(help: "XSUB endpoint publishers connect to (env SLS_EVENTS_PUBLISHERS).")
    var publishers = Environment.string("SLS_EVENTS_PUBLISHERS", default: ServiceCatalog.eventsPublishEndpoint)

    @Option(help: "XPUB endpoint subscribers connect to (env SLS_EVENTS_SUBSCRIBERS).")
    var subscribers = Environment.string("SLS_EVENTS_SUBSCRIBERS", default: ServiceCatalog.eventsSubscribeEndpoint)

    @Option(help: "ROUTER endpoint answering health checks (env SLS_LISTEN).")
    var listen = Environment.string("SLS_LISTEN", default: ServiceCatalog.eventBus.defaultEndpoint)

    @Option(help: "Largest event frame forwarded, in bytes; a publisher sending a larger one is disconnected (env SLS_MAX_EVENT_BYTES).")
    var maxEventBytes = Environment.int("SLS_MAX_EVENT_BYTES", default: 262_144)

    @Option(help: "Events queued per publisher and per subscriber; past it a slow subscriber misses events (env SLS_EVENT_HIGH_WATER_MARK).")
    var eventHighWaterMark = Environment.int("SLS_EVENT_HIGH_WATER_MARK", default: 10_000)

    @Option(help: "trace, debug, info, notice, warning, error or critical (env SLS_LOG_LEVEL).")
    var logLevel = Environment.string("SLS_LOG_LEVEL", default: "info")

    func validate() throws {
        let bad = Environment.problems(numbers: ["SLS_MAX_EVENT_BYTES", "SLS_EVENT_HIGH_WATER_MARK"])
        guard bad.isEmpty else { throw ValidationError(bad.joined(separator: "; ")) }
        guard (1024...(64 << 20)).contains(maxEventBytes) else {
            throw ValidationError("--max-event-bytes must be 1024 to \(64 << 20); got \(maxEventBytes)")
        }
        guard (1...1_000_000).contains(eventHighWaterMark) else {
            throw ValidationError("--event-high-water-mark must be 1 to 1000000; got \(eventHighWaterMark)")
        }
    }

    func run() async throws {
        bootstrapLogging(level: logLevel)
        let logger = Logger(label: "event-bus")
        let context = ZMQContext()
        let proxy = try ZMQProxy(context: context, frontend: (.xsubscriber, publishers),
                                 backend: (.xpublisher, subscribers),
                                 maxMessageBytes: maxEventBytes, highWaterMark: eventHighWaterMark)
        let server = try RPCServer(context: context, configuration: .init(endpoint: listen, serviceName: "event-bus"),
                                   logger: logger)
        proxy.start()
        try server.start()
        logger.info("forwarding events", metadata: [
            "publishers": "\(proxy.frontendEndpoint)", "subscribers": "\(proxy.backendEndpoint)"])
        let signal = await ShutdownSignal.wait()
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        await server.shutdown(grace: .seconds(2))
        proxy.stop()
        logger.info("stopped")
    }
}
