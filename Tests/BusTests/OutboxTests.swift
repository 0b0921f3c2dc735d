import Foundation
import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import Testing
import ZeroMQ
import SLSTesting

@Suite("Transactional outbox")
struct OutboxTests {
    @Test func committedEventsArePublishedInOrderWithTheirRowIDAsSequence() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("outbox-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let logger = Logger(label: "test")
        let database = try ServiceDatabase.open(dataDirectory: directory, name: "outbox-test", logger: logger)
        let journal = try await database.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(journal == "wal")

        try await database.write { db in
            try Outbox.append(ServiceInfo(service: "first"), in: db, nowUnixMs: 1)
            try Outbox.append(ServiceInfo(service: "second"), in: db, nowUnixMs: 2)
        }
        // A rolled-back transaction leaves no event behind.
        struct Abort: Error {}
        _ = try? await database.write { db in
            try Outbox.append(ServiceInfo(service: "rolled back"), in: db, nowUnixMs: 3)
            throw Abort()
        }

        let context = ZMQContext()
        let proxy = try startEventProxy(context)
        let publisher = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: "outbox-test")
        let subscriber = try EventSubscriber(context: context, endpoint: proxy.subscribersEndpoint,
                                             topics: [ServiceInfo.protoName], logger: logger)
        try await Task.sleep(for: .milliseconds(300))
        let relay = OutboxRelay(database: database, publisher: publisher, logger: logger)
        #expect(relay.publishPending() == 2)
        #expect(relay.publishPending() == 0)

        var iterator = subscriber.events.makeAsyncIterator()
        let first = try #require(await iterator.next())
        let second = try #require(await iterator.next())
        #expect(try first.decode(ServiceInfo.self)?.service == "first")
        #expect(try second.decode(ServiceInfo.self)?.service == "second")
        #expect(second.header.sequence == first.header.sequence + 1)
        #expect(first.header.eventID == "outbox-test/\(first.header.sequence)")
        let left = try await database.read { try Outbox.unpublished($0, limit: 10) }
        #expect(left.isEmpty)
        subscriber.close()
        publisher.close()
        proxy.stop()
    }
}
