import SLSMessages
import Synchronization
import ZeroMQ

/// The client side of the bus: a DEALER socket with many calls in flight, matched by request id.
///
/// A call is sent from the caller's own thread; replies are read by the socket's event
/// loop, which resumes the waiting caller. libzmq reconnects by itself, so a client
/// outlives restarts of its server: calls made while it is away fail with UNAVAILABLE
/// (no connection) or DEADLINE_EXCEEDED (the connection died with the call on it), and
/// calls succeed again once it is back.
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
        /// How long the socket thread keeps polling after activity before it sleeps (see
        /// ``ZMQEventLoop``): lower latency for some CPU; zero turns it off.
        public var busyPoll: Duration
        /// CurveZMQ keys (this client's pair and the server's public key); nil connects without
        /// encryption, which a secured server refuses.
        public var security: CurveClient?

        public init(endpoint: String, caller: String, defaultTimeout: Duration = .seconds(5),
                    connectTimeout: Duration = .seconds(1), busyPoll: Duration = .microseconds(100),
                    security: CurveClient? = nil) {
            self.endpoint = endpoint
            self.caller = caller
            self.defaultTimeout = defaultTimeout
            self.connectTimeout = connectTimeout
            self.busyPoll = busyPoll
            self.security = security
        }
    }

    private struct PendingCall {
        let continuation: UnsafeContinuation<[UInt8], any Error>
        let deadline: ContinuousClock.Instant
        let method: String
        /// Set while the call waits for a connection to be sent on.
        var unsentFrames: [[UInt8]]?
        let queuedAt: ContinuousClock.Instant
    }

    private struct State {
        var pending: [UInt64: PendingCall] = [:]
        /// Calls waiting for a connection, oldest first.
        var unsent: [UInt64] = []
        var nextExpiryScan = ContinuousClock.now
        var closed = false
    }

    public let configuration: Configuration
    private let loop: ZMQEventLoop

    /// The client's socket thread as a task executor. Tasks that make many calls run best with it
    /// as their executor preference (`withTaskExecutorPreference(client.executor)`): a call then
    /// sends and is resumed on that thread, without a hop to the global pool and back.
    /// - Important: only for tasks that do little between calls: whatever else they compute runs
    ///   on the socket thread and holds up every call of this client.
    public var executor: any TaskExecutor { loop }
    /// Read on the loop thread only: why the connection is not up, when a handshake failed.
    private let handshakes: HandshakeMonitor
    private let state = Mutex(State())
    private let nextRequestID = Atomic<UInt64>(1)
    /// Trace ids are this prefix plus the request id: unique without a random draw per call.
    private let tracePrefix = randomHexID()

    /// Connects to the server (in the background: no server needs to be up yet).
    public init(context: ZMQContext, configuration: Configuration) throws {
        self.configuration = configuration
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.set(.linger(milliseconds: 0))
        // Queue only on live connections, so a call to an absent server is not silently parked.
        try socket.set(.immediate(true))
        try socket.set(.reconnectInterval(milliseconds: 100, maximum: 1000))
        try socket.set(.heartbeat(intervalMilliseconds: 1000, timeoutMilliseconds: 3000))
        try socket.set(.sendHighWaterMark(100_000))
        try socket.set(.receiveHighWaterMark(100_000))
        if let security = configuration.security { try socket.set(security.socketOption) }
        handshakes = try HandshakeMonitor(context: context, monitoring: socket)
        try socket.connect(configuration.endpoint)
        // Calls made by tasks on the socket thread go out together after each batch of them.
        loop = ZMQEventLoop(name: "rpc-client", socket: socket, busyPoll: configuration.busyPoll, coalescesSends: true)
        loop.start(
            onReceive: { [unowned self] message in receive(message.frames) },
            onTick: { [unowned self] in expireCalls() },
            wantsWritable: { [unowned self] in state.withLock { !$0.unsent.isEmpty } },
            onWritable: { [unowned self] in flushUnsent() },
            onSendFailure: { [unowned self] error, frames, id in sendFailed(id, frames, error) })
    }

    deinit {
        close()
    }

    /// Fails every call in flight with CANCELLED and closes the socket.
    public func close() {
        let calls = state.withLock { state -> [PendingCall] in
            guard !state.closed else { return [] }
            state.closed = true
            defer { state.pending.removeAll(); state.unsent.removeAll() }
            return Array(state.pending.values)
        }
        for call in calls {
            call.continuation.resume(throwing: RPCError(.cancelled, "the client was closed"))
        }
        loop.stop()
        handshakes.close()
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
        let id = nextRequestID.add(1, ordering: .relaxed).oldValue
        let timeout = options.timeout ?? configuration.defaultTimeout
        let header = RequestHeader(
            method: method, requestID: id,
            deadlineUnixMs: unixMilliseconds() + timeout.roundedUpMilliseconds,
            traceID: options.traceID.isEmpty ? "\(tracePrefix)-\(id)" : options.traceID,
            caller: configuration.caller,
            metadata: options.metadata.sorted { $0.key < $1.key }.map { MetadataEntry(key: $0.key, value: $0.value) })
        let frames = [header.serializedBytes(), payload]
        let now = ContinuousClock.now
        return try await withTaskCancellationHandler {
            // Unsafe (unchecked) continuations: every path below resumes exactly once, and the
            // checked kind costs an allocation per call.
            try await withUnsafeThrowingContinuation { continuation in
                let call = PendingCall(continuation: continuation, deadline: now.advanced(by: timeout),
                                       method: method, unsentFrames: nil, queuedAt: now)
                let accepted = state.withLock { state -> Bool in
                    guard !state.closed else { return false }
                    state.pending[id] = call
                    return true
                }
                guard accepted else {
                    return continuation.resume(throwing: RPCError(.cancelled, "the client was closed"))
                }
                send(id, frames)
            }
        } onCancel: {
            finish(id, .failure(RPCError(.cancelled, "the call was cancelled")))
        }
    }

    /// Sends now (on the socket thread: with the other calls of the same batch), or parks the call
    /// until the socket has a connection to send on.
    private func send(_ id: UInt64, _ frames: [[UInt8]]) {
        do {
            try loop.send(frames, tag: id)
        } catch {
            sendFailed(id, frames, error)
        }
    }

    /// A call libzmq did not take: parked when it may be taken later, failed otherwise.
    private func sendFailed(_ id: UInt64, _ frames: [[UInt8]], _ error: any Error) {
        guard let error = error as? ZMQError, error.isWouldBlock else {
            return finish(id, .failure(RPCError(.unavailable, "\(configuration.endpoint): \(error)")))
        }
        state.withLock { state in
            guard state.pending[id] != nil else { return }
            state.pending[id]?.unsentFrames = frames
            state.unsent.append(id)
        }
        loop.wakeUp()
    }

    // MARK: - Loop thread

    private func flushUnsent() {
        while let (id, frames) = state.withLock({ state -> (UInt64, [[UInt8]])? in
            while let id = state.unsent.first {
                if let frames = state.pending[id]?.unsentFrames { return (id, frames) }
                state.unsent.removeFirst()
            }
            return nil
        }) {
            do {
                try loop.send(frames)
                state.withLock { state in
                    state.pending[id]?.unsentFrames = nil
                    state.unsent.removeAll { $0 == id }
                }
            } catch let error as ZMQError where error.isWouldBlock {
                return
            } catch {
                finish(id, .failure(RPCError(.unavailable, "\(configuration.endpoint): \(error)")))
            }
        }
    }

    private func receive(_ frames: [[UInt8]]) {
        // A reply for an unknown id belongs to a call that already timed out: dropped in finish.
        guard frames.count == 2, let header = try? ReplyHeader(serializedBytes: frames[0]) else { return }
        let status = header.status ?? Status()
        if status.code == .ok {
            finish(header.requestID, .success(frames[1]))
        } else {
            finish(header.requestID, .failure(RPCError(status: status)))
        }
    }

    private func finish(_ id: UInt64, _ result: Result<[UInt8], RPCError>) {
        let call = state.withLock { state -> PendingCall? in
            guard let call = state.pending.removeValue(forKey: id) else { return nil }
            if call.unsentFrames != nil { state.unsent.removeAll { $0 == id } }
            return call
        }
        call?.continuation.resume(with: result.mapError { $0 as any Error })
    }

    /// Fails calls past their deadline, and unsent calls that waited too long for a connection.
    private func expireCalls() -> Int {
        let now = ContinuousClock.now
        let refusal = handshakes.latestFailure()
        let (expired, remaining) = state.withLock { state -> ([(UInt64, RPCError)], Int) in
            guard !state.pending.isEmpty, now >= state.nextExpiryScan else { return ([], state.pending.count) }
            state.nextExpiryScan = now.advanced(by: .milliseconds(5))
            var expired: [(UInt64, RPCError)] = []
            for (id, call) in state.pending {
                let neverSent = call.unsentFrames != nil
                if neverSent && (now >= call.deadline || now >= call.queuedAt.advanced(by: configuration.connectTimeout)) {
                    expired.append((id, refusal.map { refusal in
                        RPCError(.unauthenticated, "\(call.method): \(configuration.endpoint) refused the connection: "
                                 + explanation(of: refusal))
                    } ?? RPCError(.unavailable,
                        "\(call.method): no connection to \(configuration.endpoint); is the service running?")))
                } else if now >= call.deadline {
                    expired.append((id, RPCError(.deadlineExceeded,
                        "\(call.method): no reply from \(configuration.endpoint) before the deadline")))
                }
            }
            return (expired, state.pending.count - expired.count)
        }
        for (id, error) in expired { finish(id, .failure(error)) }
        // Calls are added without waking the loop (that would cost every call a thread
        // switch), so an idle client still looks in every 25 ms: a deadline fires at most that late.
        return remaining == 0 ? 25 : 10
    }

    /// Why the handshake failed and what to do, in this client's terms.
    private func explanation(of refusal: HandshakeOutcome) -> String {
        // A client without a key sees a CurveZMQ server either as a mechanism mismatch or, when the
        // server hangs up first, as a bare close: both mean the same thing here.
        if configuration.security == nil && refusal == .closedDuringHandshake {
            return "the service requires CurveZMQ (it closed the handshake of a client without a key): "
                + "give this client a key file"
        }
        return "\(refusal)\(hint(for: refusal))"
    }

    /// What to do about a refused handshake, in this client's terms.
    private func hint(for refusal: HandshakeOutcome) -> String {
        switch refusal {
        case .mechanismMismatch where configuration.security == nil:
            "; the service requires CurveZMQ: give this client a key file"
        case .mechanismMismatch:
            "; the service runs without keys (--insecure): connect without a key"
        case .refusedByServer:
            "; add this client's public key to the service's public key directory"
        default: ""
        }
    }
}
