import CZeroMQ
import SLSMessages
import Synchronization
import ZeroMQ

/// The client side of the bus: a DEALER socket with many calls in flight, matched by request id.
///
/// libzmq reconnects by itself, so a client outlives restarts of its server: calls made
/// while it is away fail with UNAVAILABLE (no connection) or DEADLINE_EXCEEDED (the
/// connection died with the call on it), and calls succeed again once it is back.
public final class RPCClient: @unchecked Sendable {
    /// Settings of one client.
    public struct Configuration: Sendable {
        /// The server's endpoint, e.g. `tcp://127.0.0.1:7101`.
        public var endpoint: String
        /// How this client names itself in request headers and the server's logs.
        public var caller: String
        /// Deadline of calls that do not set one.
        public var defaultTimeout: Duration
        /// How long a call may wait for a connection before it fails with UNAVAILABLE.
        public var connectTimeout: Duration

        public init(endpoint: String, caller: String, defaultTimeout: Duration = .seconds(5),
                    connectTimeout: Duration = .seconds(1)) {
            self.endpoint = endpoint
            self.caller = caller
            self.defaultTimeout = defaultTimeout
            self.connectTimeout = connectTimeout
        }
    }

    private struct PendingCall {
        let continuation: CheckedContinuation<[UInt8], any Error>
        let deadline: ContinuousClock.Instant
        let method: String
        var unsentFrames: [[UInt8]]?
        let queuedAt: ContinuousClock.Instant
    }

    public let configuration: Configuration
    private let loop: ZMQEventLoop
    private let nextRequestID = Atomic<UInt64>(1)
    private let closed = Atomic<Bool>(false)
    // Loop-thread state.
    private var pending: [UInt64: PendingCall] = [:]
    private var unsent: [UInt64] = []
    private var nextExpiryScan = ContinuousClock.now

    /// Connects to the server (in the background: no server needs to be up yet).
    public init(context: ZMQContext, configuration: Configuration) throws {
        self.configuration = configuration
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.setOption(ZMQ_LINGER, Int32(0))
        // Queue only on live connections, so a call to an absent server is not silently parked.
        try socket.setOption(ZMQ_IMMEDIATE, Int32(1))
        try socket.setOption(ZMQ_RECONNECT_IVL, Int32(100))
        try socket.setOption(ZMQ_RECONNECT_IVL_MAX, Int32(1000))
        try socket.setOption(ZMQ_HEARTBEAT_IVL, Int32(1000))
        try socket.setOption(ZMQ_HEARTBEAT_TIMEOUT, Int32(3000))
        try socket.setOption(ZMQ_SNDHWM, Int32(100_000))
        try socket.setOption(ZMQ_RCVHWM, Int32(100_000))
        try socket.connect(configuration.endpoint)
        loop = ZMQEventLoop(name: "rpc-client", socket: socket)
        loop.start(
            onReceive: { [unowned self] frames in receive(frames) },
            onTick: { [unowned self] in expireCalls() },
            wantsWritable: { [unowned self] in !unsent.isEmpty },
            onWritable: { [unowned self] in flushUnsent() })
    }

    deinit {
        close()
    }

    /// Fails every call in flight with CANCELLED and closes the socket.
    public func close() {
        guard !closed.exchange(true, ordering: .sequentiallyConsistent) else { return }
        loop.perform { [self] in
            for id in Array(pending.keys) {
                finish(id, .failure(RPCError(.cancelled, "the client was closed")))
            }
        }
        loop.stop()
        loop.socket.close()
    }

    /// Calls `method` and returns its response, or throws ``RPCError``.
    public func call<Request, Response>(
        _ method: RPCMethod<Request, Response>, _ request: Request, options: CallOptions = CallOptions()
    ) async throws -> Response {
        let reply = try await call(method: method.fullName, payload: request.serializedBytes(), options: options)
        do {
            return try Response(serializedBytes: reply)
        } catch {
            throw RPCError(.internal, "the reply is not a valid \(Response.protoName)")
        }
    }

    /// Calls a method by name with an encoded request; returns the encoded response.
    public func call(method: String, payload: [UInt8], options: CallOptions = CallOptions()) async throws -> [UInt8] {
        guard !closed.load(ordering: .relaxed) else { throw RPCError(.cancelled, "the client was closed") }
        let id = nextRequestID.add(1, ordering: .relaxed).oldValue
        let timeout = options.timeout ?? configuration.defaultTimeout
        let header = RequestHeader(
            method: method, requestID: id,
            deadlineUnixMs: unixMilliseconds() + timeout.roundedUpMilliseconds,
            traceID: options.traceID.isEmpty ? randomHexID() : options.traceID,
            caller: configuration.caller,
            metadata: options.metadata.sorted { $0.key < $1.key }.map { MetadataEntry(key: $0.key, value: $0.value) })
        let frames = [header.serializedBytes(), payload]
        let deadline = ContinuousClock.now.advanced(by: timeout)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                loop.perform { [self] in
                    start(id, PendingCall(continuation: continuation, deadline: deadline, method: method,
                                          unsentFrames: frames, queuedAt: .now))
                }
            }
        } onCancel: {
            loop.perform { [self] in finish(id, .failure(RPCError(.cancelled, "the call was cancelled"))) }
        }
    }

    // MARK: - Loop thread

    private func start(_ id: UInt64, _ call: PendingCall) {
        guard !closed.load(ordering: .relaxed) else {
            call.continuation.resume(throwing: RPCError(.cancelled, "the client was closed"))
            return
        }
        pending[id] = call
        if unsent.isEmpty {
            trySend(id)
        } else {
            unsent.append(id)
        }
    }

    /// Sends a call's frames; false when the socket has no connection to queue them on.
    @discardableResult
    private func trySend(_ id: UInt64) -> Bool {
        guard let frames = pending[id]?.unsentFrames else { return true }
        do {
            try loop.socket.send(frames, wait: false)
            pending[id]?.unsentFrames = nil
            return true
        } catch let error as ZMQError where error.isWouldBlock {
            if !unsent.contains(id) { unsent.append(id) }
            return false
        } catch {
            finish(id, .failure(RPCError(.unavailable, "\(configuration.endpoint): \(error)")))
            return true
        }
    }

    private func flushUnsent() {
        while let id = unsent.first {
            guard pending[id] != nil else { unsent.removeFirst(); continue }
            unsent.removeFirst()
            if !trySend(id) {
                // trySend put it back at the end; keep the order.
                unsent.removeLast()
                unsent.insert(id, at: 0)
                return
            }
        }
    }

    private func receive(_ frames: [[UInt8]]) {
        guard frames.count == 2, let header = try? ReplyHeader(serializedBytes: frames[0]) else { return }
        let status = header.status ?? Status()
        if status.code == .ok {
            finish(header.requestID, .success(frames[1]))
        } else {
            finish(header.requestID, .failure(RPCError(status: status)))
        }
        // A reply for an unknown id belongs to a call that already timed out: dropped.
    }

    private func finish(_ id: UInt64, _ result: Result<[UInt8], RPCError>) {
        guard let call = pending.removeValue(forKey: id) else { return }
        if call.unsentFrames != nil, let index = unsent.firstIndex(of: id) {
            unsent.remove(at: index)
        }
        call.continuation.resume(with: result.mapError { $0 as any Error })
    }

    /// Fails calls past their deadline, and unsent calls that waited too long for a connection.
    private func expireCalls() -> Int {
        guard !pending.isEmpty else { return -1 }
        let now = ContinuousClock.now
        if now >= nextExpiryScan {
            nextExpiryScan = now.advanced(by: .milliseconds(5))
            for (id, call) in pending {
                let neverSent = call.unsentFrames != nil
                if neverSent && (now >= call.deadline || now >= call.queuedAt.advanced(by: configuration.connectTimeout)) {
                    finish(id, .failure(RPCError(.unavailable,
                        "\(call.method): no connection to \(configuration.endpoint); is the service running?")))
                } else if now >= call.deadline {
                    finish(id, .failure(RPCError(.deadlineExceeded,
                        "\(call.method): no reply from \(configuration.endpoint) before the deadline")))
                }
            }
        }
        return pending.isEmpty ? -1 : 10
    }
}
