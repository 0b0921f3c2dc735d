import SLSMessages

/// Tells, from each event's producer and sequence number, whether events were missed.
///
/// It remembers at most ``maxProducers`` producers and forgets one unheard of for
/// ``idleMilliseconds``, so producer names from outside cannot grow it without bound. A
/// forgotten producer is treated as new when it speaks again (no gap is reported for it).
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

    private struct Entry {
        var instance: String
        var sequence: UInt64
        var lastHeardMs: Int64
        /// Events observed but then dropped before the consumer saw them.
        var droppedSinceDelivered: UInt64 = 0
    }

    /// Most producers remembered; the one heard from least recently is forgotten first.
    public let maxProducers: Int
    /// A producer silent this long is forgotten.
    public let idleMilliseconds: Int64
    private var last: [String: Entry] = [:]
    private var nextIdleSweepMs: Int64 = 0

    /// - Parameters:
    ///   - maxProducers: producers remembered at most (default 1,000).
    ///   - idleMilliseconds: how long a silent producer is remembered (default one hour).
    public init(maxProducers: Int = 1000, idleMilliseconds: Int64 = 3_600_000) {
        self.maxProducers = max(1, maxProducers)
        self.idleMilliseconds = idleMilliseconds
    }

    /// How many producers are remembered now.
    public var producerCount: Int { last.count }

    /// Records `header` and reports gaps or repeats against what was seen before.
    ///
    /// The first event of a producer reports no gap: a subscriber cannot know what it
    /// missed before it joined. A smaller sequence from a new producer instance is a
    /// restart of a producer that numbers in memory, not a repeat.
    public mutating func observe(_ header: EventHeader, nowMs: Int64 = unixMilliseconds()) -> Observation {
        forgetIdle(nowMs: nowMs)
        let current = Entry(instance: header.producerInstance, sequence: header.sequence, lastHeardMs: nowMs)
        guard let previous = last[header.producer] else {
            if last.count >= maxProducers { forgetLeastRecentlyHeard() }
            last[header.producer] = current
            return Observation(missed: 0, isDuplicate: false)
        }
        if header.sequence > previous.sequence {
            last[header.producer] = current
            let (missed, overflow) = (header.sequence - previous.sequence - 1)
                .addingReportingOverflow(previous.droppedSinceDelivered)
            return Observation(missed: overflow ? .max : missed, isDuplicate: false)
        }
        if header.producerInstance != previous.instance {
            last[header.producer] = current
            // A restarted producer numbering in memory starts again at 1; what the old instance
            // had sent but was dropped here is still missed.
            let (missed, overflow) = (header.sequence > 0 ? header.sequence - 1 : 0)
                .addingReportingOverflow(previous.droppedSinceDelivered)
            return Observation(missed: overflow ? .max : missed, isDuplicate: false)
        }
        last[header.producer]?.lastHeardMs = nowMs
        return Observation(missed: 0, isDuplicate: true)
    }

    /// Records that the event `header`, observed as `observation`, was never delivered (dropped
    /// at a full buffer): the producer's next event reports it, and what it missed, as missed.
    public mutating func noteDropped(_ header: EventHeader, observation: Observation) {
        guard !observation.isDuplicate, var entry = last[header.producer], entry.sequence == header.sequence,
              entry.instance == header.producerInstance else { return }
        let (total, overflow) = observation.missed.addingReportingOverflow(1)
        entry.droppedSinceDelivered = overflow ? .max : total
        last[header.producer] = entry
    }

    private mutating func forgetIdle(nowMs: Int64) {
        guard nowMs >= nextIdleSweepMs else { return }
        nextIdleSweepMs = nowMs &+ max(1000, idleMilliseconds / 10)
        let cutoff = nowMs &- idleMilliseconds
        last = last.filter { $0.value.lastHeardMs >= cutoff }
    }

    /// Forgets the quietest tenth at once, so a stream of new names costs O(1) per event on average.
    private mutating func forgetLeastRecentlyHeard() {
        let count = max(1, last.count / 10)
        let quietest = last.sorted { $0.value.lastHeardMs < $1.value.lastHeardMs }.prefix(count).map(\.key)
        for producer in quietest { last[producer] = nil }
    }
}
