import Logging
import SLSBus
import SLSMessages
import SLSStorage
import ServiceLifecycle
import ZeroMQ

/// The RPC server as a `Service`: serves until graceful shutdown, then stops taking calls and
/// lets those in flight finish (up to the grace period).
public struct RPCServerService: Service {
    let server: RPCServer
    let grace: Duration

    public init(server: RPCServer, grace: Duration) {
        self.server = server
        self.grace = grace
    }

    public func run() async throws {
        try server.start()
        try? await gracefulShutdown()
        await server.shutdown(grace: grace)
    }
}

/// The outbox relay as a `Service`: publishes committed events until shutdown, then what is left.
struct OutboxRelayService: Service {
    let relay: OutboxRelay

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await relay.run()
        }
        relay.publishPending()
    }
}

/// One subscription feeding an ``EventRouter``: events in arrival order, one at a time.
struct EventRoutingService: Service {
    let subscriber: EventSubscriber
    let router: EventRouter
    let limits: FieldLimits
    let clock: @Sendable () -> Int64
    let logger: Logger

    func run() async throws {
        await withGracefulShutdownHandler {
            for await event in subscriber.events {
                do {
                    _ = try await router.route(event, limits: limits, nowUnixMs: clock())
                } catch {
                    let reason = (error as? RPCError)?.message ?? "\(type(of: error))"
                    logger.warning("event dropped", metadata: [
                        "type": "\(event.header.type)", "event": "\(event.header.eventID)",
                        "producer": "\(event.header.producer)", "reason": "\(reason)"])
                }
            }
        } onGracefulShutdown: {
            subscriber.close()
        }
    }
}

/// libzmq's proxy (the event bus) as a `Service`: forwards until graceful shutdown.
public struct ZMQProxyService: Service {
    let proxy: ZMQProxy

    public init(proxy: ZMQProxy) {
        self.proxy = proxy
    }

    public func run() async throws {
        proxy.start()
        try? await gracefulShutdown()
        proxy.stop()
    }
}

/// Says in the log when the graceful shutdown begins (SIGINT, SIGTERM, or a part that ended).
public struct ShutdownAnnouncer: Service {
    let logger: Logger
    let plan: String

    /// - Parameter plan: what happens next, in the log line's words.
    public init(logger: Logger, plan: String = "finishing calls in flight, then stopping events, jobs and the outbox") {
        self.logger = logger
        self.plan = plan
    }

    public func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down: \(plan)")
    }
}
