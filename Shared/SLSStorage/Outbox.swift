import GRDB
import SLSMessages

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Events written in the same transaction as the state change they announce.
///
/// A row's id is the event's durable sequence number, so subscribers see gaps and
/// repeats across restarts of the producer. ``OutboxRelay`` publishes new rows.
public enum Outbox {
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("outbox.v1") { db in
            try db.create(table: "outbox") { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("type", .text).notNull()
                t.column("payload", .blob).notNull()
                t.column("trace_id", .text).notNull().defaults(to: "")
                t.column("created_ms", .integer).notNull()
                t.column("published_ms", .integer)
            }
            try db.create(index: "outbox_unpublished", on: "outbox", columns: ["published_ms", "id"])
        }
    }

    /// Records `event` for publication, inside the caller's transaction.
    @discardableResult
    public static func append<M: ProtoMessage>(_ event: M, in db: Database, traceID: String = "",
                                              nowUnixMs: Int64) throws -> Int64 {
        try db.execute(
            sql: "INSERT INTO outbox (type, payload, trace_id, created_ms) VALUES (?, ?, ?, ?)",
            arguments: [M.protoName, Data(event.serializedBytes()), traceID, nowUnixMs])
        return db.lastInsertedRowID
    }

    /// One stored event.
    public struct Entry: Sendable, Equatable {
        public let sequence: Int64
        public let type: String
        public let payload: [UInt8]
        public let traceID: String
        public let createdUnixMs: Int64
    }

    static func entries(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Entry] {
        try Row.fetchAll(db, sql: sql, arguments: arguments).map { row in
            Entry(sequence: row["id"], type: row["type"], payload: [UInt8](row["payload"] as Data),
                  traceID: row["trace_id"], createdUnixMs: row["created_ms"])
        }
    }

    /// Events not published yet, oldest first.
    public static func unpublished(_ db: Database, limit: Int) throws -> [Entry] {
        try entries(db, sql: "SELECT * FROM outbox WHERE published_ms IS NULL ORDER BY id LIMIT ?",
                    arguments: [limit])
    }

    /// Events from `sequence` on, published or not, for a replay.
    public static func since(_ db: Database, sequence: Int64, limit: Int) throws -> [Entry] {
        try entries(db, sql: "SELECT * FROM outbox WHERE id >= ? ORDER BY id LIMIT ?", arguments: [sequence, limit])
    }
}
