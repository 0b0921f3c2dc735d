import CZeroMQ

/// libzmq's built-in proxy on a thread of its own, stoppable from outside.
///
/// Used by the event bus: XSUB facing publishers, XPUB facing subscribers, so that
/// subscriptions flow upstream and events downstream.
public final class ZMQProxy: @unchecked Sendable {
    private let frontend: ZMQSocket
    private let backend: ZMQSocket
    private let control: ZMQSocket
    private let controller: ZMQSocket
    private var thread: OSThread?

    /// Binds `frontend` and `backend` endpoints with the given socket types.
    ///
    /// - Parameters:
    ///   - maxMessageBytes: a message larger than this, on either side, closes the sender's
    ///     connection before any of it is kept (libzmq's `ZMQ_MAXMSGSIZE`).
    ///   - highWaterMark: messages queued per connection and direction; past it libzmq drops
    ///     (PUB/XPUB) or stops reading (XSUB), so a slow subscriber costs bounded memory.
    public init(context: ZMQContext, frontend: (type: ZMQSocketType, endpoint: String),
                backend: (type: ZMQSocketType, endpoint: String),
                maxMessageBytes: Int = 256 << 10, highWaterMark: Int = 10_000) throws {
        self.frontend = try ZMQSocket(context: context, type: frontend.type)
        self.backend = try ZMQSocket(context: context, type: backend.type)
        for socket in [self.frontend, self.backend] {
            try socket.set(.linger(milliseconds: 0))
            try socket.set(.receiveHighWaterMark(highWaterMark))
            try socket.set(.sendHighWaterMark(highWaterMark))
            try socket.set(.maxMessageSize(maxMessageBytes))
        }
        try self.frontend.bind(frontend.endpoint)
        try self.backend.bind(backend.endpoint)
        let controlEndpoint = "inproc://proxy-control-\(UInt64.random(in: .min ... .max))"
        control = try ZMQSocket(context: context, type: .pair)
        try control.bind(controlEndpoint)
        controller = try ZMQSocket(context: context, type: .pair)
        try controller.connect(controlEndpoint)
    }

    /// The endpoints actually bound (with ports picked for `:*`).
    public var frontendEndpoint: String { frontend.lastEndpoint }
    public var backendEndpoint: String { backend.lastEndpoint }

    /// Starts forwarding on a thread of its own.
    public func start() {
        thread = OSThread(name: "zmq-proxy") { [frontend, backend, control] in
            try? ZMQSocket.proxy(frontend: frontend, backend: backend, control: control)
        }
    }

    /// Stops forwarding and closes the sockets.
    public func stop() {
        guard let thread else { return }
        try? controller.send([Array("TERMINATE".utf8)])
        thread.join()
        self.thread = nil
        for socket in [frontend, backend, control, controller] { socket.close() }
    }
}
