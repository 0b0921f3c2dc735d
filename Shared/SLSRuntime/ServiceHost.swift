import GRDB
import Logging
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
    private let subscriberConfiguration: EventSubscriber.Configuration
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
        // Whatever the caller's umask: files this process creates are its owner's alone.
        umask(0o077)
        name = D.serviceName
        logger = Logger(label: D.serviceName)
        context = ZMQContext()
        heartbeat = .milliseconds(Int64(options.heartbeatSeconds * 1000))
        grace = .milliseconds(Int64(options.shutdownGraceSeconds * 1000))
        eventsSubscribe = options.eventsSubscribe
        subscriberConfiguration = EventSubscriber.Configuration(
            maxEventBytes: options.maxEventBytes, bufferLimit: options.eventBuffer,
            fieldLimits: options.fieldLimits, maxProducers: options.maxProducers)
        database = try ServiceDatabase.open(dataDirectory: options.dataDir, name: D.serviceName,
                                            logger: logger, migrations: migrations)
        server = try RPCServer(
            context: context,
            configuration: .init(endpoint: options.listen, serviceName: D.serviceName,
                                 maxMessageBytes: options.maxMessageBytes,
                                 busyPoll: .microseconds(options.busyPollMicroseconds),
                                 fieldLimits: options.fieldLimits, maxCallsInFlight: options.maxCallsInFlight,
                                 replyHighWaterMark: options.replyHighWaterMark),
            logger: logger)
        publisher = try EventPublisher(context: context, endpoint: options.eventsPublish, producer: D.serviceName)
        outbox = OutboxRelay(database: database, publisher: publisher, logger: logger)
        let replayLimiter = Mutex(RateLimiter(capacity: Double(options.replayEventsPerMinute),
                                              refillPerSecond: Double(options.replayEventsPerMinute) / 60))
        let replayMaxEvents = options.replayMaxEvents
        let replayPerMinute = options.replayEventsPerMinute
        server.register(EventLogAPI.replay) { [outbox] request, context in
            let limit = request.limit == 0 ? replayMaxEvents : min(Int(request.limit), replayMaxEvents)
            guard request.fromSequence <= UInt64(Int64.max) else {
                throw RPCError.invalidArgument("from_sequence must be at most \(Int64.max)")
            }
            // Charge the whole request up front: a caller may replay `replayEventsPerMinute` events a
            // minute, all callers together ten times that.
            let nowMs = unixMilliseconds()
            let allowed = replayLimiter.withLock { limiter in
                limiter.take(Double(limit), for: "caller:" + context.caller, nowMs: nowMs)
                    && limiter.take(Double(limit) / 10, for: "all callers", nowMs: nowMs)
            }
            guard allowed else {
                throw RPCError(.resourceExhausted, "replay is limited to \(replayPerMinute) events "
                               + "per minute per caller; ask for fewer (limit) or retry later")
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
        let subscriber = try EventSubscriber(context: context, endpoint: eventsSubscribe, topics: topics,
                                             configuration: subscriberConfiguration, logger: logger)
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
