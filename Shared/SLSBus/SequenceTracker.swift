import SLSMessages

/// Tells, from each event's producer and sequence number, whether events were missed.
public struct SequenceTracker: Sendable {
    /// What one event says about the stream it came in.
    public struct Observation: Sendable, Equatable {
        /// Events of this producer that never arrived between the previous one and this one.
        public var missed: UInt64
        /// The event repeats one already seen (a replay); handlers should be idempotent.
        public var isDuplicate: Bool

        public init(missed: UInt64, isDuplicate: Bool) {
            self.missed = missed
            self.isDuplicate = isDuplicate
        }
    }

    private var last: [String: (instance: String, sequence: UInt64)] = [:]

    public init() {}

    /// Records `header` and reports gaps or repeats against what was seen before.
    ///
    /// The first event of a producer reports no gap: a subscriber cannot know what it
    /// missed before it joined. A smaller sequence from a new producer instance is a
    /// restart of a producer that numbers in memory, not a repeat.
    public mutating func observe(_ header: EventHeader) -> Observation {
        let current = (instance: header.producerInstance, sequence: header.sequence)
        guard let previous = last[header.producer] else {
            last[header.producer] = current
            return Observation(missed: 0, isDuplicate: false)
        }
        if header.sequence > previous.sequence {
            last[header.producer] = current
            return Observation(missed: header.sequence - previous.sequence - 1, isDuplicate: false)
        }
        if header.producerInstance != previous.instance {
            last[header.producer] = current
            return Observation(missed: header.sequence - 1, isDuplicate: false)
        }
        return Observation(missed: 0, isDuplicate: true)
    }
}
