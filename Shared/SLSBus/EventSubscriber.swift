import CZeroMQ
import Logging
import SLSMessages
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

    /// The payload as `M`, or nil when the event is of another type.
    public func decode<M: ProtoMessage>(_ type: M.Type) throws -> M? {
        guard header.type == M.protoName else { return nil }
        return try M(serializedBytes: payload)
    }
}

/// Subscribes to events on the bus (a SUB socket connected to the proxy's XPUB side).
///
/// Topics are prefixes of proto names: `sls.crypto.v1.` takes every crypto event,
/// the empty string every event. Events arrive in order on ``events``.
public final class EventSubscriber: @unchecked Sendable {
    /// The received events, in arrival order. Finishes when the subscriber is closed.
    public let events: AsyncStream<ReceivedEvent>
    private let continuation: AsyncStream<ReceivedEvent>.Continuation
    private let loop: ZMQEventLoop
    private let logger: Logger
    private var tracker = SequenceTracker()

    /// Connects to the bus's subscriber endpoint and subscribes to `topics`.
    public init(context: ZMQContext, endpoint: String, topics: [String] = [""], logger: Logger) throws {
        let socket = try ZMQSocket(context: context, type: .subscriber)
        try socket.setOption(ZMQ_LINGER, Int32(0))
        try socket.setOption(ZMQ_RCVHWM, Int32(100_000))
        for topic in topics { try socket.subscribe(topic) }
        try socket.connect(endpoint)
        (events, continuation) = AsyncStream.makeStream(of: ReceivedEvent.self, bufferingPolicy: .unbounded)
        loop = ZMQEventLoop(name: "event-subscriber", socket: socket)
        self.logger = logger
        loop.start(onReceive: { [unowned self] frames in receive(frames) })
    }

    deinit {
        close()
    }

    /// Stops receiving and finishes ``events``.
    public func close() {
        loop.stop()
        continuation.finish()
    }

    private func receive(_ frames: [[UInt8]]) {
        guard frames.count == 3, let header = try? EventHeader(serializedBytes: frames[1]),
              header.type == String(decoding: frames[0], as: UTF8.self) else {
            logger.warning("dropped a malformed event", metadata: ["frames": "\(frames.count)"])
            return
        }
        let observation = tracker.observe(header)
        if observation.missed > 0 {
            logger.warning("missed events", metadata: [
                "producer": "\(header.producer)", "missed": "\(observation.missed)", "sequence": "\(header.sequence)"])
        }
        continuation.yield(ReceivedEvent(header: header, payload: frames[2],
                                         missedBefore: observation.missed, isDuplicate: observation.isDuplicate))
    }
}
