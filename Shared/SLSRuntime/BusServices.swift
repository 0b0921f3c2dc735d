import Logging
import SLSBus
import SLSMessages
import SLSStorage
import ServiceLifecycle
import ZeroMQ

/// The RPC server as a `Service`: serves until graceful shutdown, then stops taking calls and
/// lets those in flight finish (up to the grace period).
struct RPCServerService: Service {
    let server: RPCServer
    let grace: Duration

    func run() async throws {
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

/// Says in the log when the graceful shutdown begins (SIGINT, SIGTERM, or a part that ended).
struct ShutdownAnnouncer: Service {
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down: finishing calls in flight, then stopping events, jobs and the outbox")
    }
}
