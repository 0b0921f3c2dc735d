import GRDB
import Logging
import SLSMessages
import Synchronization

/// Where the relay hands committed events: the bus's `EventPublisher` (see SLSRuntime), or
/// anything else that can publish a stored event with its original sequence and time.
public protocol OutboxPublisher: Sendable {
    /// Publishes an encoded event of the message type named `type`, keeping `sequence`.
    func publishStored(type: String, payload: [UInt8], sequence: UInt64, timeUnixMs: Int64, traceID: String) throws
}

/// Publishes outbox rows in order and marks them published.
///
/// Runs after each commit that added events (``notify()``) and on a timer, so events
/// written just before a crash go out after the restart.
public final class OutboxRelay: Sendable {
    private let database: DatabasePool
    private let publisher: any OutboxPublisher
    private let logger: Logger
    private let wakeups: AsyncStream<Void>.Continuation
    private let stream: AsyncStream<Void>

    public init(database: DatabasePool, publisher: any OutboxPublisher, logger: Logger) {
        self.database = database
        self.publisher = publisher
        self.logger = logger
        (stream, wakeups) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Asks the relay to publish soon; cheap, call after every commit that appended events.
    public func notify() {
        wakeups.yield()
    }

    /// Publishes until the task is cancelled, at least every `interval`.
    public func run(interval: Duration = .seconds(1)) async {
        let ticker = Task { [wakeups] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                wakeups.yield()
            }
        }
        defer { ticker.cancel() }
        await withTaskCancellationHandler {
            for await _ in stream {
                publishPending()
            }
        } onCancel: { [wakeups] in
            wakeups.finish()
        }
        publishPending()
    }

    /// Publishes stored events again from `sequence` on (at most `limit`), keeping their
    /// sequence numbers; returns how many and the last sequence.
    /// The read runs on GRDB's reader pool, so a caller on a socket thread is not blocked.
    public func replay(from sequence: Int64, limit: Int) async throws -> (count: Int, last: Int64) {
        let entries = try await database.read { try Outbox.since($0, sequence: sequence, limit: limit) }
        for entry in entries {
            try publisher.publishStored(type: entry.type, payload: entry.payload, sequence: UInt64(entry.sequence),
                                  timeUnixMs: entry.createdUnixMs, traceID: entry.traceID)
        }
        return (entries.count, entries.last?.sequence ?? 0)
    }

    /// Publishes every unpublished row now; returns how many went out.
    @discardableResult
    public func publishPending() -> Int {
        var total = 0
        do {
            while true {
                let batch = try database.read { try Outbox.unpublished($0, limit: 500) }
                guard !batch.isEmpty else { return total }
                for entry in batch {
                    try publisher.publishStored(type: entry.type, payload: entry.payload, sequence: UInt64(entry.sequence),
                                          timeUnixMs: entry.createdUnixMs, traceID: entry.traceID)
                }
                let now = unixMilliseconds()
                try database.write { db in
                    try db.execute(sql: "UPDATE outbox SET published_ms = ? WHERE id <= ? AND published_ms IS NULL",
                                   arguments: [now, batch.last!.sequence])
                }
                total += batch.count
            }
        } catch {
            logger.error("outbox relay failed; will retry", metadata: ["error": "\(error)"])
            return total
        }
    }
}
