import CMalloc
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
import ServiceLifecycle
import ZeroMQ

/// Everything a service needs at run time, started in the right order and stopped in reverse.
///
/// A service executable parses its options, creates a host, registers its methods on
/// ``server``, its event handlers with ``on(_:_:)`` and its timers with ``every(_:named:_:)``,
/// then calls ``run()``, which returns after SIGINT or SIGTERM once calls in flight have finished.
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
    private let eventBusClient: CurveClient?
    private let heartbeat: Duration
    private let memoryTrim: Duration
    private let grace: Duration
    /// The service's event routes; declare them before ``run()`` (see ``on(_:_:)``).
    public let events = EventRouter()
    private var jobs: [PeriodicJob] = []
    /// Parts of the service beyond the bus (e.g. report delivery's SFTP endpoint).
    private var extraServices: [(service: any Service, name: String)] = []
    /// Facts particular to the service that GetInfo returns.
    private let infoDetails = Mutex<[InfoDetail]>([])
    /// This service's clock in Unix milliseconds (shifted in rehearsals).
    public let clock: @Sendable () -> Int64
    private let listenEndpoint: String
    /// The ZAP handler admitting clients, when bus security is on.
    private let authentication: ZAPHandler?
    /// This service's keys and the bus policy; nil with `--insecure`.
    public let security: BusSecurity?

    /// Opens the database, creates the server socket and connects to the event bus.
    public init<D>(
        options: ServiceOptions<D>,
        info: RPCMethod<ServiceInfoRequest, ServiceInfo>?,
        apiPackage: String,
        migrations: (inout DatabaseMigrator) -> Void = { _ in },
        clock: @escaping @Sendable () -> Int64 = { unixMilliseconds() }
    ) throws {
        self.clock = clock
        listenEndpoint = options.listen
        bootstrapLogging(level: options.logLevel)
        // Whatever the caller's umask: files this process creates are its owner's alone.
        umask(0o077)
        name = D.serviceName
        logger = Logger(label: D.serviceName)
        context = ZMQContext()
        let secured = try options.bus.load(identity: D.serviceName, logger: logger)
        security = secured?.security
        // Before the server binds: without a handler libzmq would admit every client.
        let authentication = try secured.map { [context, logger] in
            try $0.security.startAuthentication(context: context, logger: logger)
        }
        self.authentication = authentication
        let busClient = try secured.map { try $0.security.client(of: ServiceCatalog.eventBus.name) }
        var serverSecurity: CurveServer?
        if let secured, let authentication {
            serverSecurity = CurveServer(keyPair: secured.security.keyPair, policy: secured.policy,
                                         authentication: authentication)
        }
        heartbeat = .milliseconds(Int64(options.heartbeatSeconds * 1000))
        memoryTrim = .seconds(options.memoryTrimSeconds)
        grace = .milliseconds(Int64(options.shutdownGraceSeconds * 1000))
        eventsSubscribe = options.eventsSubscribe
        subscriberConfiguration = EventSubscriber.Configuration(
            maxEventBytes: options.maxEventBytes, bufferLimit: options.eventBuffer,
            fieldLimits: options.fieldLimits, maxProducers: options.maxProducers)
        eventBusClient = busClient
        database = try ServiceDatabase.open(dataDirectory: options.dataDir, name: D.serviceName,
                                            logger: logger, migrations: migrations)
        server = try RPCServer(
            context: context,
            configuration: .init(endpoint: options.listen, serviceName: D.serviceName,
                                 maxMessageBytes: options.maxMessageBytes,
                                 busyPoll: .microseconds(options.busyPollMicroseconds),
                                 fieldLimits: options.fieldLimits, maxCallsInFlight: options.maxCallsInFlight,
                                 replyHighWaterMark: options.replyHighWaterMark, clock: clock,
                                 security: serverSecurity),
            logger: logger)
        publisher = try EventPublisher(context: context, endpoint: options.eventsPublish, producer: D.serviceName,
                                       security: busClient)
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
            let (count, last) = try await outbox.replay(from: Int64(request.fromSequence), limit: limit)
            return ReplayReply(republished: UInt32(count), lastSequence: UInt64(last))
        }
        if let info {
            server.register(info) { [unowned self] _, _ in
                ServiceInfo(service: name, version: version, startedUnixMs: startedUnixMs,
                            listenEndpoint: server.boundEndpoint, apiPackage: apiPackage,
                            methods: server.methodNames, details: infoDetails.withLock { $0 })
            }
        }
    }

    /// Routes events of type `M` to `handler` (see ``EventRouter``); the subscription's topics
    /// follow from what is routed. Declare before ``run()``.
    public func on<M: ProtoMessage>(_ type: M.Type, _ handler: @escaping EventRouter.Handler<M>) {
        events.on(type, handler)
    }

    /// Runs `body` now and then every `interval` until shutdown (see ``PeriodicJob``).
    /// Declare before ``run()``.
    public func every(_ interval: Duration, named name: String, _ body: @escaping @Sendable () async throws -> Void) {
        jobs.append(PeriodicJob(name: name, every: interval, logger: logger, body: body))
    }

    /// Runs `service` in the host's `ServiceGroup`, shut down with the rest; its failure stops the
    /// process like any other part's. Declare before ``run()``.
    public func add(_ service: any Service, named name: String) {
        extraServices.append((service, name))
    }

    /// Sets the facts GetInfo returns besides name, version and methods (e.g. host key fingerprints).
    public func setInfoDetails(_ details: [InfoDetail]) {
        infoDetails.withLock { $0 = details }
    }

    /// Serves until SIGINT or SIGTERM, then shuts down cleanly, in reverse order of start:
    /// calls in flight finish, event routing and periodic jobs stop, the outbox publishes what
    /// is left, sockets close.
    ///
    /// Every part runs as a `Service` of one swift-service-lifecycle `ServiceGroup`. A part that
    /// fails or ends stops the whole process (after a graceful shutdown of the rest) with a log
    /// line naming it, instead of dying silently while the rest serves; `run()` then throws.
    public func run() async throws {
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = []
        func add(_ service: any Service, _ name: String) {
            services.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup,
                                  failureTerminationBehavior: .gracefullyShutdownGroup, serviceName: name))
        }
        add(OutboxRelayService(relay: outbox), "outbox relay")
        if heartbeat > .zero {
            let heartbeat = PeriodicJob(name: "heartbeat", every: heartbeat, logger: logger) { [self] in
                try publisher.publish(ServiceHeartbeat(service: name, version: version, startedUnixMs: startedUnixMs,
                                                       requestsServed: server.requestsServed))
            }
            add(heartbeat, "heartbeat")
        }
        for job in jobs { add(job, job.name) }
        for extra in extraServices { add(extra.service, extra.name) }
        if memoryTrim > .zero {
            // glibc keeps freed memory in its arenas; after a burst of load the process would
            // hold its peak for good. Handing it back is cheap (well under a millisecond here).
            add(PeriodicJob(name: "memory trim", every: memoryTrim, logger: logger) { returnFreedMemory() }, "memory trim")
        }
        if !events.isEmpty {
            let subscriber = try EventSubscriber(context: context, endpoint: eventsSubscribe, topics: events.topics,
                                                 configuration: subscriberConfiguration, security: eventBusClient,
                                                 logger: logger)
            add(EventRoutingService(subscriber: subscriber, router: events, limits: subscriberConfiguration.fieldLimits,
                                    clock: clock, logger: logger), "event routing")
        }
        add(RPCServerService(server: server, grace: grace), "rpc server")
        // Last in, first told: the shutdown is announced before anything stops.
        services.append(.init(service: ShutdownAnnouncer(logger: logger), successTerminationBehavior: .ignore,
                              failureTerminationBehavior: .ignore, serviceName: "shutdown announcer"))
        let group = ServiceGroup(configuration: .init(
            services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        logger.info("started", metadata: ["service": "\(name)", "version": "\(version)",
                                          "endpoint": "\(listenEndpoint)", "topics": "\(events.topics)"])
        defer {
            publisher.close()
            authentication?.stop()
        }
        do {
            try await group.run()
        } catch {
            logger.critical("stopping: a part of the service failed", metadata: ["error": "\(error)"])
            throw error
        }
        logger.info("stopped")
    }
}

/// Returns heap memory that is free but still held by the allocator to the system.
private func returnFreedMemory() {
    #if canImport(Glibc)
    _ = malloc_trim(0)
    #endif
}
