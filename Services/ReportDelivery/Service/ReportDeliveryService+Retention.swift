import Foundation
import GRDB
import ReportDeliveryCore
import SLSMessages
import SLSStorage

/// DLV-07: files are purged a set number of days (100) after delivery. The sweep runs at start-up
/// and then periodically; each purge is logged and published (FilePurged).
extension ReportDeliveryService {
    /// Purges what is due at the service's clock; returns how many files and held statements went.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let nowMs = now()
        let rule = settings.retention
        // Delivered statements, by their delivery time in the database: only the due ones are read
        // (the rule again on each, the one place the day count is decided).
        let cutoff = nowMs.subtractingReportingOverflow(Int64(rule.days) * 86_400_000).partialValue
        let due = try await database.read { db in
            try StatementRow.filter((Column("state") == "delivered" || Column("state") == "held")
                                    && SQL("COALESCE(delivered_ms, received_ms) <= \(cutoff)"))
                .limit(10_000).fetchAll(db)
                .filter { rule.isDue(deliveredMs: $0.deliveredMs ?? $0.receivedMs, nowMs: nowMs) }
        }
        var purged = 0
        for row in due {
            if row.state == "delivered" {
                _ = try await pool.run { [folders] in folders.remove(row.fileName, of: row.userName) }
            }
            try await database.write { db in
                var updated = row
                updated.state = "purged"
                updated.purgedMs = nowMs
                updated.sealed = nil
                try updated.update(db)
                try Outbox.append(FilePurged(userName: row.userName, fileName: row.fileName, statementID: row.statementID,
                                             deliveredUnixMs: row.deliveredMs ?? 0, purgedUnixMs: nowMs),
                                  in: db, nowUnixMs: nowMs)
            }
            purged += 1
            logger.info("purged (DLV-07)", metadata: ["user": "\(row.userName)", "file": "\(row.fileName)",
                                                      "statement_id": "\(row.statementID)", "state": "\(row.state)"])
        }
        // Every other file in the users' folders (their own uploads), by modification time: the
        // SFTP endpoint does not let clients set times, so it is the time of the last write.
        let users = try await database.read { try DeliveryUserRow.fetchAll($0).map(\.userName) }
        for userName in users {
            // Walking folders and removing files is blocking I/O: on a worker, not the task pool.
            let files = try await pool.run { [folders] in folders.files(of: userName) }
            for file in files where rule.isDue(deliveredMs: file.modifiedMs, nowMs: nowMs) {
                guard try await pool.run({ [folders] in folders.remove(file.path, of: userName) }) else { continue }
                _ = try await database.write { db in
                    try Outbox.append(FilePurged(userName: userName, fileName: file.path, statementID: "",
                                                 deliveredUnixMs: file.modifiedMs, purgedUnixMs: nowMs),
                                      in: db, nowUnixMs: nowMs)
                }
                purged += 1
                logger.info("purged (DLV-07)", metadata: ["user": "\(userName)", "file": "\(file.path)"])
            }
        }
        if purged > 0 { outbox.notify() }
        return purged
    }
}
