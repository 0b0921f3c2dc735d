import SLSBus
import SLSStorage

/// The outbox relay publishes through the bus (SLSStorage does not depend on SLSBus).
extension EventPublisher: OutboxPublisher {
    public func publishStored(type: String, payload: [UInt8], sequence: UInt64, timeUnixMs: Int64,
                              traceID: String) throws {
        try publish(type: type, payload: payload, sequence: sequence, timeUnixMs: timeUnixMs, traceID: traceID)
    }
}
