import CZeroMQ

/// The event bus's forwarding: publishers connect to an XSUB socket, subscribers to an XPUB
/// socket, and a thread of its own passes events down and applies subscriptions, asking a
/// ``Filter`` about each.
///
/// Unlike libzmq's `zmq_proxy`, every event and every subscription is seen here with the
/// identity of its sender's connection, so the bus can refuse what a sender may not do.
/// Subscriptions are not passed up to publishers: the XSUB side subscribes to everything
/// once, and the XPUB side (in manual mode) filters per subscriber, so a subscriber can
/// neither widen what it receives past the filter nor cancel another subscriber's topics.
public final class ZMQProxy: @unchecked Sendable {
    /// What the proxy lets through. Called on the proxy's thread: must not block.
    public struct Filter: Sendable {
        /// Whether an event from a publisher is forwarded.
        public var forward: @Sendable (ZMQMessage) -> Bool
        /// Whether a subscriber (its identity, nil without authentication) may subscribe to `prefix`.
        public var subscribe: @Sendable (_ prefix: [UInt8], _ userID: String?) -> Bool

        public init(forward: @escaping @Sendable (ZMQMessage) -> Bool,
                    subscribe: @escaping @Sendable (_ prefix: [UInt8], _ userID: String?) -> Bool) {
            self.forward = forward
            self.subscribe = subscribe
        }

        /// Forwards every event and applies every subscription (no authorization).
        public static let everything = Filter(forward: { _ in true }, subscribe: { _, _ in true })
    }

    private let publishers: ZMQSocket
    private let subscribers: ZMQSocket
    private let control: ZMQSocket
    private let controller: ZMQSocket
    private let filter: Filter
    private var thread: OSThread?

    /// Binds both endpoints.
    ///
    /// - Parameters:
    ///   - maxMessageBytes: a message larger than this, on either side, closes the sender's
    ///     connection before any of it is kept (libzmq's `ZMQ_MAXMSGSIZE`).
    ///   - highWaterMark: messages queued per connection and direction; past it libzmq drops
    ///     (XPUB) or stops reading (XSUB), so a slow subscriber costs bounded memory.
    ///   - curve: this bus's key pair: both sockets then accept CurveZMQ clients only, admitted
    ///     by the context's ``ZAPHandler``. Nil: no encryption, no authentication.
    public init(context: ZMQContext, publishersEndpoint: String, subscribersEndpoint: String,
                maxMessageBytes: Int = 256 << 10, highWaterMark: Int = 10_000,
                curve: CurveKeyPair? = nil, filter: Filter = .everything) throws {
        publishers = try ZMQSocket(context: context, type: .xsubscriber)
        subscribers = try ZMQSocket(context: context, type: .xpublisher)
        self.filter = filter
        for socket in [publishers, subscribers] {
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.receiveHighWaterMark(highWaterMark))
            try socket.set(.sendHighWaterMark(highWaterMark))
            try socket.set(.maxMessageSize(maxMessageBytes))
            if let curve { try socket.set(.curveServer(curve)) }
        }
        try subscribers.set(.manualSubscriptions(true))
        try publishers.bind(publishersEndpoint)
        try subscribers.bind(subscribersEndpoint)
        // Everything published comes to the bus; what goes out is decided per subscriber.
        try publishers.send([[1]])
        let controlEndpoint = "inproc://proxy-control-\(UInt64.random(in: .min ... .max))"
        control = try ZMQSocket(context: context, type: .pair)
        try control.bind(controlEndpoint)
        controller = try ZMQSocket(context: context, type: .pair)
        try controller.connect(controlEndpoint)
    }

    /// The endpoints actually bound (with ports picked for `:*`).
    public var publishersEndpoint: String { publishers.lastEndpoint }
    public var subscribersEndpoint: String { subscribers.lastEndpoint }

    /// Starts forwarding on a thread of its own.
    public func start() {
        thread = OSThread(name: "zmq-proxy") { [self] in run() }
    }

    /// Stops forwarding and closes the sockets.
    public func stop() {
        guard let thread else { return }
        try? controller.send([Array("TERMINATE".utf8)])
        thread.join()
        self.thread = nil
        for socket in [publishers, subscribers, control, controller] { socket.close() }
    }

    private func run() {
        while true {
            guard let ready = try? ZMQSocket.waitReadable([publishers, subscribers, control],
                                                          timeoutMilliseconds: -1) else { return }
            if ready[2] { return }
            // Bounded batches, so neither side starves the other.
            if ready[0] {
                for _ in 0..<256 {
                    guard let message = try? publishers.receiveMessage(wait: false) else { break }
                    // XPUB drops for a subscriber whose queue is full; it never blocks here.
                    if filter.forward(message) { try? subscribers.send(message.frames, wait: false) }
                }
            }
            if ready[1] {
                for _ in 0..<256 {
                    guard let message = try? subscribers.receiveMessage(wait: false) else { break }
                    handleSubscription(message)
                }
            }
        }
    }

    /// A subscription message is one frame: 1 (subscribe) or 0 (unsubscribe), then the prefix.
    private func handleSubscription(_ message: ZMQMessage) {
        guard message.frames.count == 1, let kind = message.frames[0].first, kind <= 1 else { return }
        let prefix = Array(message.frames[0].dropFirst())
        if kind == 1 {
            guard filter.subscribe(prefix, message.userID) else { return }
            try? subscribers.applySubscription(prefix, subscribe: true)
        } else {
            // Removing a subscription the subscriber does not hold changes nothing; after a
            // subscriber has gone, libzmq has already dropped its subscriptions.
            try? subscribers.applySubscription(prefix, subscribe: false)
        }
    }
}
