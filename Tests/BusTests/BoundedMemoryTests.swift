import Logging
import SLSBus
import SLSMessages
import Testing
import ZeroMQ
import SLSTesting

@Suite("Memory stays bounded under abuse", .serialized)
struct BoundedMemoryTests {
    private func header(producer: String, instance: String = "i1", sequence: UInt64) -> EventHeader {
        EventHeader(producer: producer, sequence: sequence, type: "t", producerInstance: instance)
    }

    @Test func theSequenceTrackerForgetsProducersBeyondItsLimitAndWhenIdle() {
        var tracker = SequenceTracker(maxProducers: 100, idleMilliseconds: 60_000)
        // 5,000 distinct producer names used to be kept forever.
        for index in 0..<5_000 {
            _ = tracker.observe(header(producer: "p\(index)", sequence: 1), nowMs: 1_000 + Int64(index))
        }
        #expect(tracker.producerCount <= 100)
        // The most recent producers are still known: their next event reports its gap.
        #expect(tracker.observe(header(producer: "p4999", sequence: 4), nowMs: 7_000).missed == 2)
        // Silence longer than the idle time forgets everyone.
        _ = tracker.observe(header(producer: "late", sequence: 1), nowMs: 200_000)
        #expect(tracker.producerCount == 1)
    }

    @Test func aRestartedProducerStartingAtZeroDoesNotTrap() {
        var tracker = SequenceTracker()
        _ = tracker.observe(header(producer: "p", instance: "a", sequence: 10), nowMs: 0)
        let observation = tracker.observe(header(producer: "p", instance: "b", sequence: 0), nowMs: 1)
        #expect(observation == .init(missed: 0, isDuplicate: false))
    }

    @Test func anEventDroppedAtAFullBufferIsReportedAsMissedOnTheNext() {
        var tracker = SequenceTracker()
        _ = tracker.observe(header(producer: "p", sequence: 1), nowMs: 0)
        // 2 and 3 arrive but are dropped; 4 never arrives; 5 is delivered.
        for sequence: UInt64 in [2, 3] {
            let dropped = header(producer: "p", sequence: sequence)
            tracker.noteDropped(dropped, observation: tracker.observe(dropped, nowMs: 1))
        }
        #expect(tracker.observe(header(producer: "p", sequence: 5), nowMs: 2).missed == 3)
    }

    @Test func eventsDroppedBeforeAProducerRestartAreStillReportedAsMissed() {
        var tracker = SequenceTracker()
        _ = tracker.observe(header(producer: "p", instance: "A", sequence: 5), nowMs: 0)
        let six = header(producer: "p", instance: "A", sequence: 6)
        tracker.noteDropped(six, observation: tracker.observe(six, nowMs: 1))
        // Instance B starts again at 1: event 6 of A is still missed.
        #expect(tracker.observe(header(producer: "p", instance: "B", sequence: 1), nowMs: 2).missed == 1)
    }

    @Test func anOversizedEventIsDroppedAtTheBusAndAtTheSubscriberAndSeenAsAGap() async throws {
        let context = ZMQContext()
        let proxy = try ZMQProxy(context: context, publishersEndpoint: "tcp://127.0.0.1:*",
                                 subscribersEndpoint: "tcp://127.0.0.1:*", maxMessageBytes: 64 << 10)
        proxy.start()
        let subscriber = try EventSubscriber(
            context: context, endpoint: proxy.subscribersEndpoint, topics: [EchoRequest.protoName],
            configuration: .init(maxEventBytes: 4096), logger: Logger(label: "test"))
        let publisher = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: "big")
        try await Task.sleep(for: .milliseconds(300))  // subscriptions travel upstream
        var iterator = subscriber.events.makeAsyncIterator()
        try publisher.publish(EchoRequest(payload: .init([1])))
        _ = await iterator.next()
        // Over the subscriber's limit but not the bus's: forwarded, dropped and counted here.
        try publisher.publish(EchoRequest(payload: .init(repeating: 1, count: 10_000)))
        try publisher.publish(EchoRequest(payload: .init([2])))
        let first = await iterator.next()
        #expect(try first?.decode(EchoRequest.self)?.payload == .init([2]))
        #expect(first?.missedBefore == 1, "the oversized event is seen as a gap")
        #expect(subscriber.oversizedEvents == 1)
        // Over the bus's limit: the bus closes that publisher's connection (it reconnects by
        // itself) and forwards nothing of it; small events flow again (bounded: 100 tries).
        try publisher.publish(EchoRequest(payload: .init(repeating: 1, count: 100_000)))
        let sender = Task {
            for marker in 3..<103 where !Task.isCancelled {
                try publisher.publish(EchoRequest(payload: .init([UInt8(marker)])))
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        let next = await iterator.next()
        sender.cancel()
        #expect(try next?.decode(EchoRequest.self)?.payload.count == 1, "the 100 KB event never arrives")
        #expect(subscriber.oversizedEvents == 1)
        subscriber.close()
        publisher.close()
        proxy.stop()
    }

    @Test func aBurstPastTheBufferIsDroppedCountedAndSeenAsAGap() async throws {
        let context = ZMQContext()
        let proxy = try startEventProxy(context)
        let subscriber = try EventSubscriber(
            context: context, endpoint: proxy.subscribersEndpoint, topics: [EchoRequest.protoName],
            configuration: .init(bufferLimit: 50), logger: Logger(label: "test"))
        let publisher = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: "burst")
        try await Task.sleep(for: .milliseconds(300))
        // 500 events while nobody consumes: 50 wait, the rest are dropped and counted.
        for index in 0..<500 {
            try publisher.publish(EchoRequest(payload: .init([UInt8(index % 256)])))
        }
        let clock = ContinuousClock()
        let deadline = clock.now.advanced(by: .seconds(10))
        while subscriber.droppedEvents < 450 && clock.now < deadline {
            try await Task.sleep(for: .milliseconds(50))
        }
        #expect(subscriber.droppedEvents == 450)
        var iterator = subscriber.events.makeAsyncIterator()
        for _ in 0..<50 { _ = await iterator.next() }
        try publisher.publish(EchoRequest(payload: .init([9])))
        let afterBurst = await iterator.next()
        #expect(try afterBurst?.decode(EchoRequest.self)?.payload == .init([9]))
        #expect(afterBurst?.missedBefore == 450, "the consumer learns how many it missed")
        subscriber.close()
        publisher.close()
        proxy.stop()
    }
}
