import Logging
import SLSBus
import SLSMessages

/// Typed routing of events to handlers: a service declares what it consumes,
///
/// ```swift
/// router.on(AccountBalanceUpdated.self) { event, header in try service.apply(event) }
/// ```
///
/// and the subscription's topics are derived from those declarations. Each event is decoded
/// once, for the one handler of its type, and validated against the field limits and the
/// service's clock before the handler sees it. Events are handled one at a time, in order.
public final class EventRouter: @unchecked Sendable {
    public typealias Handler<M: ProtoMessage> = @Sendable (M, EventHeader) async throws -> Void
    private typealias Route = @Sendable (ReceivedEvent, FieldLimits, Int64) async throws -> Void

    private var routes: [String: Route] = [:]
    private var sealed = false

    public init() {}

    /// Routes events of type `M` to `handler`. Declare every route before the service runs.
    ///
    /// A handler throws to refuse an event: the event is logged (type, id, producer and the
    /// reason, never the payload) and dropped, and routing goes on.
    public func on<M: ProtoMessage>(_ type: M.Type, _ handler: @escaping Handler<M>) {
        precondition(!sealed, "declare event routes before the service runs")
        precondition(routes[M.protoName] == nil, "\(M.protoName) is routed twice")
        routes[M.protoName] = { event, limits, nowMs in
            guard let message = try event.decode(M.self, limits: limits, nowUnixMs: nowMs) else { return }
            try await handler(message, event.header)
        }
    }

    /// The topics to subscribe to: exactly the routed types, sorted.
    public var topics: [String] { routes.keys.sorted() }

    /// Whether any route is declared.
    public var isEmpty: Bool { routes.isEmpty }

    /// Hands `event` to its route, as the host does for each event from the bus (tools and
    /// benchmarks feed events this way without a bus); false when no route takes its type.
    public func route(_ event: ReceivedEvent, limits: FieldLimits = FieldLimits(),
                      nowUnixMs: Int64 = unixMilliseconds()) async throws -> Bool {
        sealed = true
        guard let route = routes[event.header.type] else { return false }
        try await route(event, limits, nowUnixMs)
        return true
    }
}
