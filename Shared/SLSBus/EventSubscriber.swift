import Logging
import SLSMessages
import Synchronization
import ZeroMQ

/// One event as a subscriber receives it.
public struct ReceivedEvent: Sendable {
    public let header: EventHeader
    /// The encoded payload; decode it with ``decode(_:)``.
    public let payload: [UInt8]
    /// Events of the same producer missed just before this one (0 when none).
    public let missedBefore: UInt64
    /// This event repeats one already received.
    public let isDuplicate: Bool

    public init(header: EventHeader, payload: [UInt8], missedBefore: UInt64 = 0, isDuplicate: Bool = false) {
        self.header = header
        self.payload = payload
        self.missedBefore = missedBefore
        self.isDuplicate = isDuplicate
    }

    /// An event carrying `message`, as if it had arrived from `producer` (replays, tools, tests).
    public init<M: ProtoMessage>(_ message: M, producer: String, sequence: UInt64 = 0) {
        self.init(header: EventHeader(producer: producer, sequence: sequence, timeUnixMs: unixMilliseconds(),
                                      type: M.protoName),
                  payload: message.serializedBytes())
    }

    /// The payload as `M`, or nil when the event is of another type. Throws ``RPCError``
    /// (INVALID_ARGUMENT, naming the field) when the payload is malformed or breaks `limits`.
    public func decode<M: ProtoMessage>(
        _ type: M.Type, limits: FieldLimits = FieldLimits(), nowUnixMs: Int64 = unixMilliseconds()
    ) throws -> M? {
        guard header.type == M.protoName else { return nil }
        let message: M
        do {
            message = try M(serializedBytes: payload)
        } catch let error as ProtoDecodingError {
            throw RPCError.invalidArgument("event payload: \(error.description)")
        }
        do {
            try message.validate(FieldValidator(limits: limits, nowUnixMs: nowUnixMs), in: "")
        } catch {
            throw RPCError.invalidArgument("\(M.protoName) field \(error)")
        }
        return message
    }
}

/// Subscribes to events on the bus (a SUB socket connected to the proxy's XPUB side).
///
/// Topics are prefixes of proto names: `sls.crypto.v1.` takes every crypto event,
/// the empty string every event. Events arrive in order on ``events``.
///
/// Memory is bounded: an event larger than ``Configuration/maxEventBytes`` is dropped and
/// counted, and at most ``Configuration/bufferLimit`` events wait for the consumer; events
/// arriving past that are dropped and counted (``droppedEvents``). Either way the consumer sees
/// the gap on the producer's next event (`missedBefore`) and can fill it with `EventLog/Replay`.
///
/// The event bus already refuses events over its own limit. libzmq's hard stop here
/// (`ZMQ_MAXMSGSIZE`, four times the limit) is a last line only: libzmq closes a connection that
/// breaks it and does not reconnect, so the bus's limit must not be larger than the subscribers'.
public final class EventSubscriber: @unchecked Sendable {
    /// Settings of one subscriber.
    public struct Configuration: Sendable {
        /// Largest event (all frames) handed to the consumer; larger ones are dropped and counted.
        public var maxEventBytes: Int
        /// Events waiting for the consumer at most; more are dropped and counted.
        public var bufferLimit: Int
        /// Limits of the event header's fields (producer names and the like).
        public var fieldLimits: FieldLimits
        /// Producers the gap detection remembers at most.
        public var maxProducers: Int

        /// Defaults: events up to 256 KiB, 10,000 waiting, 1,000 producers remembered.
        public init(maxEventBytes: Int = 256 << 10, bufferLimit: Int = 10_000,
                    fieldLimits: FieldLimits = FieldLimits(), maxProducers: Int = 1000) {
            self.maxEventBytes = maxEventBytes
            self.bufferLimit = bufferLimit
            self.fieldLimits = fieldLimits
            self.maxProducers = maxProducers
        }

        /// The frame size past which libzmq closes the connection (see the type's notes).
        public var hardFrameLimit: Int { max(maxEventBytes * 4, 1 << 20) }
    }

    /// The received events, in arrival order. Finishes when the subscriber is closed.
    public let events: AsyncStream<ReceivedEvent>
    public let configuration: Configuration
    private let continuation: AsyncStream<ReceivedEvent>.Continuation
    private let loop: ZMQEventLoop
    private let logger: Logger
    private var tracker: SequenceTracker
    private let dropped = Atomic<UInt64>(0)
    private let malformed = Atomic<UInt64>(0)
    private let oversized = Atomic<UInt64>(0)
    /// Read on the loop thread only: a refused handshake is logged, once per change.
    private let handshakes: HandshakeMonitor
    private var reportedFailure: HandshakeOutcome?

    /// Connects to the bus's subscriber endpoint and subscribes to `topics`.
    ///
    /// - Parameter security: this subscriber's keys for a secured bus, which applies only the
    ///   subscriptions its policy lets this identity read (the others are silently ignored).
    public init(context: ZMQContext, endpoint: String, topics: [String] = [""],
                configuration: Configuration = Configuration(), security: CurveClient? = nil, logger: Logger) throws {
        let socket = try ZMQSocket(context: context, type: .subscriber)
        try socket.set(.linger(milliseconds: 0))
        if let security { try socket.set(security.socketOption) }
        try socket.set(.receiveHighWaterMark(configuration.bufferLimit))
        try socket.set(.maxMessageSize(configuration.hardFrameLimit))
        for topic in topics { try socket.subscribe(topic) }
        handshakes = try HandshakeMonitor(context: context, monitoring: socket)
        try socket.connect(endpoint)
        self.configuration = configuration
        (events, continuation) = AsyncStream.makeStream(
            of: ReceivedEvent.self, bufferingPolicy: .bufferingOldest(max(1, configuration.bufferLimit)))
        tracker = SequenceTracker(maxProducers: configuration.maxProducers)
        loop = ZMQEventLoop(name: "event-subscriber", socket: socket)
        self.logger = logger
        loop.start(onReceive: { [unowned self] message in receive(message.frames) },
                   onTick: { [unowned self] in noteHandshake() })
    }

    /// Logs when the bus refuses this subscriber (a service would otherwise just hear nothing).
    private func noteHandshake() -> Int {
        let failure = handshakes.latestFailure()
        if failure != reportedFailure, let failure {
            logger.error("the event bus refused this subscriber: no events will arrive",
                         metadata: ["reason": "\(failure)"])
        }
        reportedFailure = failure
        return 1000
    }

    deinit {
        close()
    }

    /// Events dropped because the consumer was behind by ``Configuration/bufferLimit``.
    public var droppedEvents: UInt64 { dropped.load(ordering: .relaxed) }
    /// Events dropped because they were larger than ``Configuration/maxEventBytes``.
    public var oversizedEvents: UInt64 { oversized.load(ordering: .relaxed) }
    /// Events dropped because their frames or header were malformed.
    public var malformedEvents: UInt64 { malformed.load(ordering: .relaxed) }

    /// Stops receiving and finishes ``events``.
    public func close() {
        loop.stop()
        handshakes.close()
        continuation.finish()
    }

    private func receive(_ frames: [[UInt8]]) {
        let size = frames.reduce(0) { $0 + $1.count }
        guard size <= configuration.maxEventBytes else {
            // Not observed: the producer's next event shows the gap.
            let count = oversized.add(1, ordering: .relaxed).newValue
            if count & (count - 1) == 0 {
                logger.warning("dropped an oversized event", metadata: [
                    "bytes": "\(size)", "limit": "\(configuration.maxEventBytes)", "oversized_so_far": "\(count)"])
            }
            return
        }
        let header: EventHeader
        do {
            guard frames.count == 3 else { throw ProtoDecodingError("an event is 3 frames; got \(frames.count)") }
            header = try EventHeader(serializedBytes: frames[1])
            try header.validate(FieldValidator(limits: configuration.fieldLimits, nowUnixMs: unixMilliseconds()),
                                in: "")
            guard header.type.utf8.elementsEqual(frames[0]) else {
                throw ProtoDecodingError("the topic frame differs from the header's type")
            }
        } catch {
            let count = malformed.add(1, ordering: .relaxed).newValue
            // One line per power of two: a flood of junk cannot flood the log.
            if count & (count - 1) == 0 {
                logger.warning("dropped a malformed event", metadata: [
                    "frames": "\(frames.count)", "reason": "\(error)", "malformed_so_far": "\(count)"])
            }
            return
        }
        let observation = tracker.observe(header)
        if observation.missed > 0 {
            logger.warning("missed events", metadata: [
                "producer": "\(header.producer)", "missed": "\(observation.missed)", "sequence": "\(header.sequence)"])
        }
        let event = ReceivedEvent(header: header, payload: frames[2],
                                  missedBefore: observation.missed, isDuplicate: observation.isDuplicate)
        if case .dropped = continuation.yield(event) {
            tracker.noteDropped(header, observation: observation)
            let count = dropped.add(1, ordering: .relaxed).newValue
            if count & (count - 1) == 0 {
                logger.warning("event buffer full: dropping events; replay fills the gap", metadata: [
                    "limit": "\(configuration.bufferLimit)", "dropped_so_far": "\(count)"])
            }
        }
    }
}
