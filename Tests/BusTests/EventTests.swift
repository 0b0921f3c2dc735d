import Logging
import SLSBus
import SLSMessages
import Synchronization
import Testing
import ZeroMQ
import SLSTesting

/// Collects a subscriber's events as they arrive, so a test can wait for the next one
/// with a time limit (cancelling a consumer of an AsyncStream would end the stream).
final class Inbox: Sendable {
    private final class Storage: Sendable {
        let events = Mutex<[ReceivedEvent]>([])
    }
    private let storage = Storage()

    init(_ subscriber: EventSubscriber) {
        let storage = self.storage
        Task {
            for await event in subscriber.events { storage.events.withLock { $0.append(event) } }
        }
    }

    /// The next event not sent by the probe, or nil after `within`.
    func next(skippingProbes: Bool = true, within: Duration = .seconds(2)) async -> ReceivedEvent? {
        let giveUp = ContinuousClock.now.advanced(by: within)
        while ContinuousClock.now < giveUp {
            let event = storage.events.withLock { queue -> ReceivedEvent? in
                while !queue.isEmpty {
                    let event = queue.removeFirst()
                    if !(skippingProbes && event.header.producer == "probe") { return event }
                }
                return nil
            }
            if let event { return event }
            try? await Task.sleep(for: .milliseconds(5))
        }
        return nil
    }
}

@Suite("Events through the XSUB/XPUB proxy")
struct EventTests {
    /// A proxy on free ports, a publisher, and a subscriber known to be receiving:
    /// PUB/SUB joins take a moment, so a second publisher sends probes until one arrives.
    private func connectedPair(topic: String) async throws -> (ZMQProxy, EventPublisher, EventSubscriber, Inbox) {
        let context = ZMQContext()
        let proxy = try startEventProxy(context)
        let publisher = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: "unit")
        let prober = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: "probe")
        let subscriber = try EventSubscriber(context: context, endpoint: proxy.subscribersEndpoint, topics: [topic],
                                             logger: Logger(label: "test"))
        let inbox = Inbox(subscriber)
        var joined = false
        for _ in 0..<100 where !joined {
            try prober.publish(ServiceInfo(service: "probe"))
            joined = await inbox.next(skippingProbes: false, within: .milliseconds(20)) != nil
        }
        prober.close()
        try #require(joined)
        return (proxy, publisher, subscriber, inbox)
    }

    @Test func typedEventArrivesWithHeader() async throws {
        let context = ZMQContext()
        let proxy = try startEventProxy(context)
        let publisher = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: "unit")
        let subscriber = try EventSubscriber(context: context, endpoint: proxy.subscribersEndpoint,
                                             topics: [ServiceInfo.protoName], logger: Logger(label: "test"))
        let sender = Task {
            for _ in 0..<100 where !Task.isCancelled {
                try publisher.publish(ServiceHeartbeat(service: "not subscribed"))
                try publisher.publish(ServiceInfo(service: "unit"), traceID: "t-1")
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        var iterator = subscriber.events.makeAsyncIterator()
        let event = try #require(await iterator.next())
        sender.cancel()
        #expect(event.header.type == ServiceInfo.protoName)
        #expect(event.header.producer == "unit")
        #expect(event.header.traceID == "t-1")
        #expect(event.header.producerInstance == publisher.instance)
        #expect(event.header.timeUnixMs > 0)
        #expect(try event.decode(ServiceInfo.self)?.service == "unit")
        #expect(try event.decode(ServiceHeartbeat.self) == nil)
        subscriber.close()
        publisher.close()
        proxy.stop()
    }

    @Test func subscriberSeesHowManyEventsItMissed() async throws {
        let (proxy, publisher, subscriber, inbox) = try await connectedPair(topic: ServiceInfo.protoName)
        try publisher.publish(ServiceInfo(service: "a"), sequence: 1001)
        try publisher.publish(ServiceInfo(service: "b"), sequence: 1002)
        try publisher.publish(ServiceInfo(service: "c"), sequence: 1005)
        try publisher.publish(ServiceInfo(service: "b"), sequence: 1002)
        let first = try #require(await inbox.next())
        let second = try #require(await inbox.next())
        let third = try #require(await inbox.next())
        let replay = try #require(await inbox.next())
        #expect(first.header.sequence == 1001)
        #expect(second.missedBefore == 0)
        #expect(third.missedBefore == 2)
        #expect(replay.isDuplicate)
        subscriber.close()
        publisher.close()
        proxy.stop()
    }
}

@Suite("Sequence tracking")
struct SequenceTrackerTests {
    private func header(_ sequence: UInt64, instance: String = "i1") -> EventHeader {
        EventHeader(producer: "p", sequence: sequence, producerInstance: instance)
    }

    @Test func firstEventReportsNoGapAndLaterGapsAreCounted() {
        var tracker = SequenceTracker()
        #expect(tracker.observe(header(10)).missed == 0)
        #expect(tracker.observe(header(11)).missed == 0)
        #expect(tracker.observe(header(15)).missed == 3)
    }

    @Test func repeatFromSameInstanceIsADuplicate() {
        var tracker = SequenceTracker()
        _ = tracker.observe(header(1))
        _ = tracker.observe(header(2))
        #expect(tracker.observe(header(2)) == .init(missed: 0, isDuplicate: true))
        #expect(tracker.observe(header(3)) == .init(missed: 0, isDuplicate: false))
    }

    @Test func restartedProducerWithInMemoryNumbersIsNotADuplicate() {
        var tracker = SequenceTracker()
        _ = tracker.observe(header(40))
        #expect(tracker.observe(header(1, instance: "i2")) == .init(missed: 0, isDuplicate: false))
        #expect(tracker.observe(header(4, instance: "i2")).missed == 2)
    }
}
