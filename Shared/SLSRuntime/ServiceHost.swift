import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSStorage
import ZeroMQ

/// Everything a service needs at run time, started in the right order and stopped in reverse.
///
/// A service executable parses its options, creates a host, registers its methods on
/// ``server`` and event handlers via ``subscribe(topics:)``, then calls ``run()``, which
/// returns after SIGINT or SIGTERM once calls in flight have finished.
public final class ServiceHost: @unchecked Sendable {
    public let name: String
    public let logger: Logger
    public let context: ZMQContext
    public let server: RPCServer
    public let publisher: EventPublisher
    public let database: DatabasePool
    public let outbox: OutboxRelay
    public let version = "0.1.0"
    public let startedUnixMs = unixMilliseconds()
    private let eventsSubscribe: String
    private let heartbeat: Duration
    private let grace: Duration
    private var subscribers: [EventSubscriber] = []
    private var backgroundTasks: [Task<Void, Never>] = []

    /// Opens the database, creates the server socket and connects to the event bus.
    public init<D>(
        options: ServiceOptions<D>,
        info: RPCMethod<ServiceInfoRequest, ServiceInfo>?,
        apiPackage: String,
        migrations: (inout DatabaseMigrator) -> Void = { _ in }
    ) throws {
        bootstrapLogging(level: options.logLevel)
        name = D.serviceName
        logger = Logger(label: D.serviceName)
        context = ZMQContext()
        heartbeat = .milliseconds(Int64(options.heartbeatSeconds * 1000))
        grace = .milliseconds(Int64(options.shutdownGraceSeconds * 1000))
        eventsSubscribe = options.eventsSubscribe
        database = try ServiceDatabase.open(dataDirectory: options.dataDir, name: D.serviceName,
                                            logger: logger, migrations: migrations)
        server = try RPCServer(
            context: context,
            configuration: .init(endpoint: options.listen, serviceName: D.serviceName,
                                 maxMessageBytes: options.maxMessageBytes,
                                 busyPoll: .microseconds(options.busyPollMicroseconds)),
            logger: logger)
        publisher = try EventPublisher(context: context, endpoint: options.eventsPublish, producer: D.serviceName)
        outbox = OutboxRelay(database: database, publisher: publisher, logger: logger)
        server.register(EventLogAPI.replay) { [outbox] request, _ in
            let limit = request.limit == 0 ? 1000 : min(Int(request.limit), 1000)
            guard request.fromSequence <= UInt64(Int64.max) else {
                throw RPCError.invalidArgument("from_sequence is out of range")
            }
            let (count, last) = try outbox.replay(from: Int64(request.fromSequence), limit: limit)
            return ReplayReply(republished: UInt32(count), lastSequence: UInt64(last))
        }
        if let info {
            server.register(info) { [unowned self] _, _ in
                ServiceInfo(service: name, version: version, startedUnixMs: startedUnixMs,
                            listenEndpoint: server.boundEndpoint, apiPackage: apiPackage,
                            methods: server.methodNames)
            }
        }
    }

    /// Subscribes to events; `handle` runs for each, in order, one at a time.
    /// Call before ``run()``.
    public func subscribe(topics: [String], handle: @escaping @Sendable (ReceivedEvent) async -> Void) throws {
        let subscriber = try EventSubscriber(context: context, endpoint: eventsSubscribe, topics: topics, logger: logger)
        subscribers.append(subscriber)
        backgroundTasks.append(Task {
            for await event in subscriber.events {
                await handle(event)
            }
        })
    }

    /// Runs `body` in the background until shutdown (timers, expiry sweeps).
    public func background(_ body: @escaping @Sendable () async -> Void) {
        backgroundTasks.append(Task { await body() })
    }

    /// Serves until SIGINT or SIGTERM, then shuts down cleanly.
    public func run() async throws {
        try server.start()
        backgroundTasks.append(Task { [outbox] in await outbox.run() })
        if heartbeat > .zero {
            backgroundTasks.append(Task { [self] in await sendHeartbeats() })
        }
        logger.info("started", metadata: ["service": "\(name)", "version": "\(version)",
                                          "endpoint": "\(server.boundEndpoint)"])
        let signal = await ShutdownSignal.wait()
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        await shutdown()
    }

    /// Stops serving (finishing calls in flight), stops background work and closes sockets.
    public func shutdown() async {
        await server.shutdown(grace: grace)
        subscribers.forEach { $0.close() }
        backgroundTasks.forEach { $0.cancel() }
        for task in backgroundTasks { await task.value }
        outbox.publishPending()
        publisher.close()
        logger.info("stopped")
    }

    private func sendHeartbeats() async {
        while !Task.isCancelled {
            do {
                try publisher.publish(ServiceHeartbeat(service: name, version: version, startedUnixMs: startedUnixMs,
                                                       requestsServed: server.requestsServed))
            } catch {
                logger.warning("heartbeat not published", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: heartbeat)
        }
    }
}
