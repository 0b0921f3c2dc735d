import SLSMessages
import Synchronization
import ZeroMQ

/// Publishes events to the event bus (a PUB socket connected to the proxy's XSUB side).
///
/// Every event goes out as three frames: topic (the payload's proto name), an
/// ``EventHeader`` and the payload. Safe to use from any thread.
public final class EventPublisher: Sendable {
    /// The producer name in every header, e.g. `crypto-rules`.
    public let producer: String
    /// Random id of this process's publisher; changes on every start.
    public let instance: String

    private struct State: ~Copyable {
        let socket: ZMQSocket
        var nextSequence: UInt64 = 1
    }
    private let state: Mutex<State>

    /// Connects to the event bus's publisher endpoint (in the background).
    ///
    /// - Parameter security: this publisher's keys for a secured bus; its identity there must
    ///   be `producer`, or the bus drops its events.
    public init(context: ZMQContext, endpoint: String, producer: String, security: CurveClient? = nil) throws {
        let socket = try ZMQSocket(context: context, type: .publisher)
        try socket.set(.linger(milliseconds: 1000))
        try socket.set(.sendHighWaterMark(100_000))
        if let security { try socket.set(security.socketOption) }
        try socket.connect(endpoint)
        self.producer = producer
        self.instance = randomHexID()
        self.state = Mutex(State(socket: socket))
    }

    /// Publishes `message`.
    ///
    /// - Parameter sequence: the event's durable sequence number (from an outbox);
    ///   nil numbers it from this publisher's own counter.
    @discardableResult
    public func publish<M: ProtoMessage>(
        _ message: M, sequence: UInt64? = nil, timeUnixMs: Int64? = nil, traceID: String = ""
    ) throws -> EventHeader {
        try publish(type: M.protoName, payload: message.serializedBytes(), sequence: sequence,
                    timeUnixMs: timeUnixMs, traceID: traceID)
    }

    /// Publishes an already encoded payload of the message type named `type`.
    @discardableResult
    public func publish(
        type: String, payload: [UInt8], sequence: UInt64? = nil, timeUnixMs: Int64? = nil, traceID: String = ""
    ) throws -> EventHeader {
        try state.withLock { state in
            let number: UInt64
            if let sequence {
                number = sequence
            } else {
                number = state.nextSequence
                state.nextSequence += 1
            }
            let header = EventHeader(
                eventID: sequence == nil ? "\(producer)/\(instance)/\(number)" : "\(producer)/\(number)",
                producer: producer, sequence: number, timeUnixMs: timeUnixMs ?? unixMilliseconds(),
                type: type, traceID: traceID, producerInstance: instance)
            try state.socket.send([Array(type.utf8), header.serializedBytes(), payload])
            return header
        }
    }

    /// Closes the socket; events already handed over are sent within a second.
    public func close() {
        state.withLock { $0.socket.close() }
    }
}
