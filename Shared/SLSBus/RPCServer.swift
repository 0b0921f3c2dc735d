import Logging
import SLSMessages
import Synchronization
import ZeroMQ

/// The server side of the bus: a ROUTER socket serving registered unary methods.
///
/// Requests are two frames (``RequestHeader``, payload). Each request runs as its own
/// task, so many are in flight at once; tasks prefer the socket's event loop as their
/// executor, so a handler that does not hop elsewhere reads and replies without a
/// thread switch. Malformed input of any kind gets an error reply and the server
/// keeps serving.
public final class RPCServer: @unchecked Sendable {
    /// Settings of one server.
    public struct Configuration: Sendable {
        /// Where to bind, e.g. `tcp://127.0.0.1:7101` (`tcp://127.0.0.1:*` picks a free port).
        public var endpoint: String
        /// Name reported by health checks and logs, e.g. `crypto-rules`.
        public var serviceName: String
        /// Largest request (header plus payload) accepted; larger ones get RESOURCE_EXHAUSTED.
        public var maxMessageBytes: Int
        /// How long the socket thread keeps polling after a call before it sleeps (see
        /// ``ZMQEventLoop``): lower latency for some CPU; zero turns it off.
        public var busyPoll: Duration
        /// Limits every request's fields are held to before a handler sees them.
        public var fieldLimits: FieldLimits
        /// Calls running at once; more get RESOURCE_EXHAUSTED at once instead of queueing.
        public var maxCallsInFlight: Int
        /// Replies queued per client connection; past it, replies to that client are dropped
        /// (a client that does not read cannot pin the server's memory).
        public var replyHighWaterMark: Int
        /// This machine's clock for the clock-skew rule, in Unix milliseconds.
        public var clock: @Sendable () -> Int64
        /// CurveZMQ, client authentication and the method policy; nil serves without any of them
        /// (callers are then who their headers claim to be, and may call every method).
        public var security: CurveServer?

        public init(endpoint: String, serviceName: String, maxMessageBytes: Int = 1 << 20,
                    busyPoll: Duration = .microseconds(100), fieldLimits: FieldLimits = FieldLimits(),
                    maxCallsInFlight: Int = 1024, replyHighWaterMark: Int = 1000,
                    clock: @escaping @Sendable () -> Int64 = { unixMilliseconds() }, security: CurveServer? = nil) {
            self.endpoint = endpoint
            self.serviceName = serviceName
            self.maxMessageBytes = maxMessageBytes
            self.busyPoll = busyPoll
            self.fieldLimits = fieldLimits
            self.maxCallsInFlight = maxCallsInFlight
            self.replyHighWaterMark = replyHighWaterMark
            self.clock = clock
            self.security = security
        }

        /// The hard stop libzmq enforces: a frame larger than this closes the connection before
        /// any of it reaches the server, so it cannot be answered. Smaller oversized requests
        /// are read and answered RESOURCE_EXHAUSTED.
        public var hardMessageLimit: Int { max(maxMessageBytes * 4, 16 << 20) }
    }

    typealias RawHandler = @Sendable ([UInt8], RequestContext) async throws -> [UInt8]
    typealias RawSynchronousHandler = @Sendable ([UInt8], RequestContext) throws -> [UInt8]

    /// A registered method: run as a task, or answered inline on the socket thread.
    enum Route: Sendable {
        case task(RawHandler)
        case inline(RawSynchronousHandler)
    }

    public let configuration: Configuration
    private let logger: Logger
    private let loop: ZMQEventLoop
    private var handlers: [String: Route] = [:]
    /// Worked out once at ``start()``: the services health checks answer for, and the method list
    /// an unknown-method refusal names.
    private var serviceNames: Set<String> = []
    private var methodList = ""
    private var started = false
    private let draining = Atomic<Bool>(false)
    private let inFlight = Atomic<Int>(0)
    private let served = Atomic<UInt64>(0)
    private let refusedOversized = Atomic<UInt64>(0)
    private let refusedBusy = Atomic<UInt64>(0)
    private let refusedInvalid = Atomic<UInt64>(0)
    private let refusedDenied = Atomic<UInt64>(0)
    /// The endpoint actually bound (with the port picked for `:*`), set by ``start()``.
    public private(set) var boundEndpoint = ""

    /// Creates the server and its socket; nothing is bound until ``start()``.
    public init(context: ZMQContext, configuration: Configuration, logger: Logger) throws {
        self.configuration = configuration
        self.logger = logger
        let socket = try ZMQSocket(context: context, type: .router)
        try socket.set(.linger(milliseconds: 1000))
        // ROUTER drops replies to a peer whose queue is full, so a client that never reads
        // holds at most this many replies here; its queue is freed when it disconnects.
        try socket.set(.sendHighWaterMark(configuration.replyHighWaterMark))
        try socket.set(.receiveHighWaterMark(configuration.maxCallsInFlight))
        // A hard stop far above the limit we answer politely, so a huge frame cannot exhaust memory.
        try socket.set(.maxMessageSize(configuration.hardMessageLimit))
        if let security = configuration.security { try socket.set(.curveServer(security.keyPair)) }
        loop = ZMQEventLoop(name: "rpc-\(configuration.serviceName)", socket: socket,
                            busyPoll: configuration.busyPoll, readsUserID: configuration.security != nil,
                            coalescesSends: true)
        register(HealthAPI.check, synchronous: { [unowned self] request, _ in try self.healthCheck(request) })
    }

    /// Registers the handler of `method`. Call before ``start()``.
    ///
    /// A handler throws ``RPCError`` to refuse; any other error becomes INTERNAL
    /// with a generic message (the details go to the log, never to the caller).
    ///
    /// - Important: the handler starts on the socket's own thread, which reads every request
    ///   of this server: it **must not block** (as on a NIO event loop). Reading memory under
    ///   a short lock is fine; anything that waits must be awaited elsewhere: database writes
    ///   through GRDB's async `write` / `writeWithoutTransaction` (they run on GRDB's writer),
    ///   slow CPU work (password hashing, encryption) and blocking I/O (SFTP, files) on a
    ///   thread of their own, awaited with a continuation. While the handler awaits, the socket
    ///   thread serves other requests.
    public func register<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        handler: @escaping @Sendable (Request, RequestContext) async throws -> Response
    ) {
        precondition(!started, "register methods before starting the server")
        handlers[method.fullName] = .task { payload, context in
            try await handler(try Self.decode(Request.self, payload, context), context).serializedBytes()
        }
    }

    /// Registers a handler that answers at once, without awaiting anything: it runs inline on
    /// the socket thread as the request is read, with no task; its reply goes out with the others
    /// of the same batch of requests, once the batch is handled. Use it for pure computations on
    /// memory (a health check, a rule check on an in-memory book); it **must not block** and
    /// should take microseconds.
    public func register<Request, Response>(
        _ method: RPCMethod<Request, Response>,
        synchronous handler: @escaping @Sendable (Request, RequestContext) throws -> Response
    ) {
        precondition(!started, "register methods before starting the server")
        handlers[method.fullName] = .inline { payload, context in
            try handler(try Self.decode(Request.self, payload, context), context).serializedBytes()
        }
    }

    private static func decode<Request: ProtoMessage>(_ type: Request.Type, _ payload: [UInt8],
                                                      _ context: RequestContext) throws -> Request {
        let request: Request
        do {
            request = try Request(serializedBytes: payload)
        } catch let error as ProtoDecodingError {
            throw RPCError.invalidArgument("request payload: \(error.description)")
        }
        do {
            try request.validate(context.validator, in: "")
        } catch {
            throw RPCError.invalidArgument("\(Request.protoName) field \(error)")
        }
        return request
    }

    /// Every registered method name, sorted.
    public var methodNames: [String] { handlers.keys.sorted() }

    /// Requests answered so far (any status).
    public var requestsServed: UInt64 { served.load(ordering: .relaxed) }

    /// Requests refused so far, by cause: over the size limit, over the in-flight limit,
    /// malformed frames or headers, not allowed by the policy.
    public var refusals: (oversized: UInt64, busy: UInt64, invalid: UInt64, denied: UInt64) {
        (refusedOversized.load(ordering: .relaxed), refusedBusy.load(ordering: .relaxed),
         refusedInvalid.load(ordering: .relaxed), refusedDenied.load(ordering: .relaxed))
    }

    /// Binds the socket and starts serving.
    public func start() throws {
        precondition(!started, "start the server once")
        boundEndpoint = try loop.withSocket { socket in
            try socket.bind(configuration.endpoint)
            return socket.lastEndpoint
        }
        serviceNames = Set(handlers.keys.compactMap { $0.split(separator: "/").first.map(String.init) })
        methodList = methodNames.joined(separator: ", ")
        started = true
        // Replies made while the loop handles a batch of requests go out together after it.
        loop.start(onReceive: { [unowned self] message in receive(message) },
                   onSendFailure: { [unowned self] error, _, _ in logUnsentReply(error) })
        logger.info("serving", metadata: ["endpoint": "\(boundEndpoint)", "methods": "\(handlers.count)",
                                          "security": "\(configuration.security == nil ? "none" : "CurveZMQ")"])
    }

    /// Stops taking new calls (they get UNAVAILABLE), waits up to `grace` for calls in
    /// flight to finish, then closes the socket.
    public func shutdown(grace: Duration = .seconds(10)) async {
        guard started, !draining.exchange(true, ordering: .sequentiallyConsistent) else { return }
        let clock = ContinuousClock()
        let giveUp = clock.now.advanced(by: grace)
        while inFlight.load(ordering: .sequentiallyConsistent) > 0 && clock.now < giveUp {
            try? await Task.sleep(for: .milliseconds(5))
        }
        let abandoned = inFlight.load(ordering: .sequentiallyConsistent)
        if abandoned > 0 {
            logger.warning("shutting down with calls still running", metadata: ["calls": "\(abandoned)"])
        }
        loop.stop()
        logger.info("stopped serving", metadata: ["endpoint": "\(boundEndpoint)"])
    }

    // MARK: - Loop thread

    private func receive(_ message: ZMQMessage) {
        let frames = message.frames
        let identity = frames[0]
        guard frames.count == 3 else {
            refusedInvalid.add(1, ordering: .relaxed)
            reply(identity, requestID: 0, error: .invalidArgument(
                "a request is 2 frames (RequestHeader, payload); got \(frames.count - 1)"))
            return
        }
        let size = frames[1].count + frames[2].count
        guard size <= configuration.maxMessageBytes else {
            refusedOversized.add(1, ordering: .relaxed)
            let requestID = frames[1].count <= 4096 ? (try? RequestHeader(serializedBytes: frames[1]))?.requestID ?? 0 : 0
            reply(identity, requestID: requestID, error: RPCError(.resourceExhausted,
                "request of \(size) bytes exceeds the limit of \(configuration.maxMessageBytes) bytes"))
            return
        }
        let header: RequestHeader
        do {
            header = try RequestHeader(serializedBytes: frames[1])
        } catch {
            refusedInvalid.add(1, ordering: .relaxed)
            reply(identity, requestID: 0, error: .invalidArgument(
                "the first frame is not a valid \(RequestHeader.protoName): \(error)"))
            return
        }
        // One validator per request, for the header here and the payload in the handler.
        let validator = FieldValidator(limits: configuration.fieldLimits, nowUnixMs: configuration.clock())
        do {
            try header.validate(validator, in: "")
        } catch {
            refusedInvalid.add(1, ordering: .relaxed)
            reply(identity, requestID: header.requestID, error: .invalidArgument(
                "the first frame is not a valid \(RequestHeader.protoName): field \(error)"))
            return
        }
        guard let route = handlers[header.method] else {
            refusedInvalid.add(1, ordering: .relaxed)
            let known = header.method.isEmpty ? "the header names no method" : "unknown method \(header.method)"
            reply(identity, requestID: header.requestID, error: RPCError(.unimplemented,
                "\(known); \(configuration.serviceName) serves \(methodList)"))
            return
        }
        // Who calls: the identity the ZAP handler bound to the connection, never the header's claim.
        let caller: String
        if let security = configuration.security {
            guard let admitted = message.userID,
                  security.policy.mayCall(admitted, header.method) else {
                refusedDenied.add(1, ordering: .relaxed)
                reply(identity, requestID: header.requestID, error: .permissionDenied(
                    "'\(message.userID ?? "unknown")' may not call \(header.method) "
                    + "(the bus policy does not allow it)"))
                return
            }
            caller = admitted
        } else {
            caller = header.caller
        }
        if header.deadlineUnixMs != 0 && unixMilliseconds() > header.deadlineUnixMs {
            // The caller has given up: do not spend work on it.
            reply(identity, requestID: header.requestID, error: RPCError(.deadlineExceeded,
                "the deadline passed before the call started"))
            return
        }
        // Count the call before looking at `draining` (shutdown sets that, then waits for the
        // count to reach zero): whichever comes second sees the other, so no call slips past.
        let running = inFlight.add(1, ordering: .sequentiallyConsistent).newValue
        if draining.load(ordering: .sequentiallyConsistent) {
            inFlight.add(-1, ordering: .sequentiallyConsistent)
            reply(identity, requestID: header.requestID, error: RPCError(.unavailable,
                "\(configuration.serviceName) is shutting down; retry shortly"))
            return
        }
        guard running <= configuration.maxCallsInFlight else {
            inFlight.add(-1, ordering: .sequentiallyConsistent)
            refusedBusy.add(1, ordering: .relaxed)
            reply(identity, requestID: header.requestID, error: RPCError(.resourceExhausted,
                "\(configuration.serviceName) has \(configuration.maxCallsInFlight) calls in flight, its limit; "
                + "retry shortly"))
            return
        }
        let context = makeContext(header, caller: caller, validator: validator)
        let payload = frames[2]
        switch route {
        case .inline(let handler):
            // Answered now, on this thread: no task, no hop.
            answer(identity, header.requestID, context) { try handler(payload, context) }
            inFlight.add(-1, ordering: .sequentiallyConsistent)
        case .task(let handler):
            Task(executorPreference: loop) { [self] in
                do {
                    let response = try await handler(payload, context)
                    reply(identity, requestID: header.requestID, status: Status(code: .ok), payload: response)
                } catch {
                    refuse(identity, header.requestID, context, error)
                }
                inFlight.add(-1, ordering: .sequentiallyConsistent)
            }
        }
    }

    private func answer(_ identity: [UInt8], _ requestID: UInt64, _ context: RequestContext,
                        _ body: () throws -> [UInt8]) {
        do {
            reply(identity, requestID: requestID, status: Status(code: .ok), payload: try body())
        } catch {
            refuse(identity, requestID, context, error)
        }
    }

    private func refuse(_ identity: [UInt8], _ requestID: UInt64, _ context: RequestContext, _ error: any Error) {
        if let error = error as? RPCError {
            reply(identity, requestID: requestID, error: error)
            if logger.logLevel <= .debug { context.logger.debug("refused", metadata: ["status": "\(error)"]) }
        } else {
            reply(identity, requestID: requestID,
                  error: RPCError(.internal, "internal error; the service logged the details"))
            // Only the error's type: its description may carry request data, secrets included.
            context.logger.error("handler failed", metadata: ["error": "\(String(reflecting: type(of: error)))"])
        }
    }

    private func makeContext(_ header: RequestHeader, caller: String, validator: FieldValidator) -> RequestContext {
        RequestContext(
            method: header.method, traceID: header.traceID, caller: caller,
            isAuthenticated: configuration.security != nil,
            deadlineUnixMs: header.deadlineUnixMs,
            metadata: header.metadata.isEmpty ? [:]
                : Dictionary(header.metadata.map { ($0.key, $0.value) }, uniquingKeysWith: { $1 }),
            validator: validator,
            serviceLogger: logger)
    }

    private func reply(_ identity: [UInt8], requestID: UInt64, error: RPCError) {
        reply(identity, requestID: requestID, status: error.status, payload: [])
    }

    private func reply(_ identity: [UInt8], requestID: UInt64, status: Status, payload: [UInt8]) {
        let frames = [identity, ReplyHeader(requestID: requestID, status: status).serializedBytes(), payload]
        served.add(1, ordering: .relaxed)
        do {
            try loop.send(frames)
        } catch {
            logUnsentReply(error)
        }
    }

    private func logUnsentReply(_ error: any Error) {
        // ROUTER drops replies to peers that are gone; anything else is worth a line.
        logger.warning("reply not sent", metadata: ["error": "\(error)"])
    }

    private func healthCheck(_ request: HealthCheckRequest) throws -> HealthCheckResponse {
        guard request.service.isEmpty || request.service == configuration.serviceName
                || serviceNames.contains(request.service) else {
            throw RPCError.notFound("unknown service \(request.service)")
        }
        return HealthCheckResponse(status: draining.load(ordering: .relaxed) ? .notServing : .serving)
    }
}

