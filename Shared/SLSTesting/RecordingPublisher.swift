import SLSMessages
import SLSStorage
import Synchronization

/// An outbox publisher that keeps what it is given, for tests that read a service's events
/// without a bus.
public final class RecordingPublisher: OutboxPublisher {
    /// One event as it was handed over.
    public struct Published: Sendable, Equatable {
        public let type: String
        public let payload: [UInt8]
        public let sequence: UInt64
    }

    private let published = Mutex<[Published]>([])

    public init() {}

    public func publishStored(type: String, payload: [UInt8], sequence: UInt64, timeUnixMs: Int64,
                              traceID: String) throws {
        published.withLock { $0.append(Published(type: type, payload: payload, sequence: sequence)) }
    }

    /// Every event handed over so far, in order.
    public var events: [Published] { published.withLock { $0 } }

    /// The payloads of type `M`, decoded.
    public func messages<M: ProtoMessage>(_ type: M.Type) throws -> [M] {
        try events.filter { $0.type == M.protoName }.map { try M(serializedBytes: $0.payload) }
    }
}
