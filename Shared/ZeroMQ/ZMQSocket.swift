import CZeroMQ

/// The socket types this project uses.
public enum ZMQSocketType: Sendable {
    case router, dealer, publisher, subscriber, xpublisher, xsubscriber, pair, request, reply

    var rawValue: Int32 {
        switch self {
        case .router: ZMQ_ROUTER
        case .dealer: ZMQ_DEALER
        case .publisher: ZMQ_PUB
        case .subscriber: ZMQ_SUB
        case .xpublisher: ZMQ_XPUB
        case .xsubscriber: ZMQ_XSUB
        case .pair: ZMQ_PAIR
        case .request: ZMQ_REQ
        case .reply: ZMQ_REP
        }
    }
}

/// One message as received: its frames, and who sent it when the socket authenticates peers.
public struct ZMQMessage: Sendable {
    public var frames: [[UInt8]]
    /// The identity the ZAP handler bound to the sender's connection (`User-Id`); nil on
    /// sockets without authentication, and on messages libzmq makes itself.
    public var userID: String?

    public init(frames: [[UInt8]], userID: String? = nil) {
        self.frames = frames
        self.userID = userID
    }
}

/// One ZeroMQ socket.
///
/// libzmq sockets are not thread safe: use one from one thread at a time (a
/// ``ZMQEventLoop`` owns its socket on its own thread). Messages are lists of frames.
public final class ZMQSocket: @unchecked Sendable {
    private(set) var handle: UnsafeMutableRawPointer?
    /// Kept alive by its sockets: terminating a context waits for all of them to close.
    private let context: ZMQContext

    /// Opens a socket of `type` in `context`.
    public init(context: ZMQContext, type: ZMQSocketType) throws {
        guard let handle = zmq_socket(context.handle, type.rawValue) else {
            throw ZMQError.last("zmq_socket")
        }
        self.handle = handle
        self.context = context
    }

    deinit {
        close()
    }

    /// Closes the socket; pending outgoing messages are kept for the linger period.
    public func close() {
        if let handle {
            zmq_close(handle)
            self.handle = nil
        }
    }

    private func live(_ operation: String) throws -> UnsafeMutableRawPointer {
        guard let handle else { throw ZMQError(code: ENOTSOCK, operation: operation) }
        return handle
    }

    /// Binds to an endpoint such as `tcp://127.0.0.1:7101`.
    public func bind(_ endpoint: String) throws {
        guard zmq_bind(try live("bind"), endpoint) == 0 else { throw ZMQError.last("bind \(endpoint)") }
    }

    /// Connects to an endpoint; libzmq reconnects by itself when the peer goes away.
    public func connect(_ endpoint: String) throws {
        guard zmq_connect(try live("connect"), endpoint) == 0 else { throw ZMQError.last("connect \(endpoint)") }
    }

    /// The endpoint last bound, with the port libzmq picked for `tcp://host:*`.
    public var lastEndpoint: String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        guard let handle, zmq_getsockopt(handle, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else { return "" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Sets an integer socket option (ZMQ_LINGER, ZMQ_IMMEDIATE, ZMQ_SNDHWM, ...).
    public func setOption(_ option: Int32, _ value: Int32) throws {
        var value = value
        guard zmq_setsockopt(try live("setsockopt"), option, &value, MemoryLayout<Int32>.size) == 0 else {
            throw ZMQError.last("setsockopt \(option)")
        }
    }

    /// Sets a 64-bit integer socket option (ZMQ_MAXMSGSIZE).
    public func setOption(_ option: Int32, _ value: Int64) throws {
        var value = value
        guard zmq_setsockopt(try live("setsockopt"), option, &value, MemoryLayout<Int64>.size) == 0 else {
            throw ZMQError.last("setsockopt \(option)")
        }
    }

    /// Sets a binary socket option (ZMQ_SUBSCRIBE, ZMQ_ROUTING_ID, ...).
    public func setOption(_ option: Int32, _ bytes: [UInt8]) throws {
        let handle = try live("setsockopt")
        let result = bytes.withUnsafeBytes { zmq_setsockopt(handle, option, $0.baseAddress, $0.count) }
        guard result == 0 else { throw ZMQError.last("setsockopt \(option)") }
    }

    /// Subscribes to every message whose first frame starts with `prefix` (SUB sockets).
    public func subscribe(_ prefix: String) throws {
        try setOption(ZMQ_SUBSCRIBE, Array(prefix.utf8))
    }

    /// Sends a multi-frame message.
    ///
    /// - Parameter wait: false sends without blocking and throws an error whose
    ///   `isWouldBlock` is true when the message cannot be queued now.
    public func send(_ frames: [[UInt8]], wait: Bool = true) throws {
        let handle = try live("send")
        for (index, frame) in frames.enumerated() {
            var flags: Int32 = index < frames.count - 1 ? ZMQ_SNDMORE : 0
            if !wait { flags |= ZMQ_DONTWAIT }
            let sent = frame.withUnsafeBytes { zmq_send(handle, $0.baseAddress, $0.count, flags) }
            // libzmq sends a multi-frame message atomically: a failure can only be on the first frame.
            if sent < 0 { throw ZMQError.last("send") }
        }
    }

    /// Receives one multi-frame message.
    ///
    /// - Parameter wait: false returns nil at once when no message is waiting.
    public func receive(wait: Bool = true) throws -> [[UInt8]]? {
        try receiveMessage(wait: wait, readingUserID: false)?.frames
    }

    /// Receives one multi-frame message with the identity its sender was admitted as.
    ///
    /// - Parameters:
    ///   - wait: false returns nil at once when no message is waiting.
    ///   - readingUserID: read the `User-Id` property that the ZAP handler bound to the
    ///     connection (taken from the last frame, which libzmq delivers as it arrived).
    public func receiveMessage(wait: Bool = true, readingUserID: Bool = true) throws -> ZMQMessage? {
        let handle = try live("receive")
        var frames: [[UInt8]] = []
        frames.reserveCapacity(4)   // a request is 3 frames at a ROUTER: one allocation, no regrowth
        var message = zmq_msg_t()
        zmq_msg_init(&message)
        defer { zmq_msg_close(&message) }
        repeat {
            if zmq_msg_recv(&message, handle, wait ? 0 : ZMQ_DONTWAIT) < 0 {
                let error = ZMQError.last("receive")
                if error.isWouldBlock && frames.isEmpty { return nil }
                throw error
            }
            let size = zmq_msg_size(&message)
            let bytes = zmq_msg_data(&message).assumingMemoryBound(to: UInt8.self)
            frames.append(Array(UnsafeBufferPointer(start: bytes, count: size)))
        } while zmq_msg_more(&message) != 0
        var userID: String?
        if readingUserID, let property = zmq_msg_gets(&message, "User-Id") {
            userID = String(cString: property)
        }
        return ZMQMessage(frames: frames, userID: userID)
    }

    /// XPUB with ``ZMQSocketOption/manualSubscriptions(_:)`` only: applies (or removes) a
    /// subscription for the subscriber whose subscription message was read last.
    public func applySubscription(_ prefix: [UInt8], subscribe: Bool) throws {
        try setOption(subscribe ? ZMQ_SUBSCRIBE : ZMQ_UNSUBSCRIBE, prefix)
    }

    /// The file descriptor libzmq signals when the socket's state may have changed
    /// (edge-triggered: check ``pendingEvents`` after it fires, and after every send or receive).
    public var signalDescriptor: Int32 {
        var fd: Int32 = -1
        var size = MemoryLayout<Int32>.size
        if let handle { zmq_getsockopt(handle, ZMQ_FD, &fd, &size) }
        return fd
    }

    /// Whether a message can be read and whether one can be sent, right now.
    public var pendingEvents: (readable: Bool, writable: Bool) {
        var events: Int32 = 0
        var size = MemoryLayout<Int32>.size
        guard let handle, zmq_getsockopt(handle, ZMQ_EVENTS, &events, &size) == 0 else { return (false, false) }
        return (events & ZMQ_POLLIN != 0, events & ZMQ_POLLOUT != 0)
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) for a message to read.
    public func waitReadable(timeoutMilliseconds: Int) throws -> Bool {
        var item = zmq_pollitem_t(socket: try live("poll"), fd: -1, events: Int16(ZMQ_POLLIN), revents: 0)
        let ready = zmq_poll(&item, 1, timeoutMilliseconds)
        if ready < 0 { throw ZMQError.last("poll") }
        return ready > 0
    }

    /// Waits up to `timeoutMilliseconds` (-1: forever) until one of `sockets` has a message
    /// to read; returns which ones do. Blocks the calling thread.
    public static func waitReadable(_ sockets: [ZMQSocket], timeoutMilliseconds: Int) throws -> [Bool] {
        var items = try sockets.map { zmq_pollitem_t(socket: try $0.live("poll"), fd: -1, events: Int16(ZMQ_POLLIN),
                                                     revents: 0) }
        if zmq_poll(&items, Int32(items.count), timeoutMilliseconds) < 0 {
            let error = ZMQError.last("poll")
            if error.code == EINTR { return sockets.map { _ in false } }
            throw error
        }
        return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
    }
}
