import Foundation
import GRDB
import ReportDeliveryCore
import SLSBus
import SLSMessages
import SLSStorage

/// DLV-08: statements in, encrypted with the user's PGP key, written atomically to the folder;
/// held (sealed with the service's key, never in clear) while the user has no PGP key.
extension ReportDeliveryService {
    /// Receives a statement. Its id and file name are claimed in one transaction (`writing`, or
    /// `held` at once when the user has no PGP key), so two deliveries at the same moment cannot
    /// both pass the checks: the second gets the first's receipt or ALREADY_EXISTS. Only then is
    /// the file encrypted and written, and the row marked `delivered`.
    func deliver(_ statement: SLSMessages.Statement) async throws -> DeliveryReceipt {
        let checked = try Self.check(statement)
        if let existing = try await receipt(for: checked.statementID, userName: checked.userName) { return existing }
        let content = statement.content
        // Sealed in case it is held (up to the request limit of bytes: CPU work, off the socket thread).
        let sealed = try await pool.run { [vault] in Data(try vault.seal(content, label: checked.statementID)) }
        let nowMs = now()
        let claim: Claim
        do {
            claim = try await database.write { [self] db in
                try claimStatement(checked, content: content, sealed: sealed, db, nowMs: nowMs)
            }
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
            // Another delivery claimed this id between our check and our claim.
            if let existing = try await receipt(for: checked.statementID, userName: checked.userName) { return existing }
            throw error
        }
        switch claim {
        case .existing(let receipt):
            return receipt
        case .held(let user):
            outbox.notify()
            logger.notice("statement held: no PGP key", metadata: ["user": "\(user.userName)",
                                                                    "statement_id": "\(checked.statementID)"])
            return DeliveryReceipt(statementID: checked.statementID, state: .held, fileName: "", deliveredUnixMs: 0,
                                   note: "held: \(user.userName) has no PGP public key; it is delivered, encrypted, as soon "
                                       + "as one is registered (SetPgpKey). The user was told in the Message Center.")
        case .writing(let user):
            do {
                return try await write(checked, content: content, for: user)
            } catch {
                // Not delivered: give the id and the name back, so the issuer can send it again.
                _ = try? await database.write { db in
                    try StatementRow.filter(Column("statement_id") == checked.statementID && Column("state") == "writing")
                        .deleteAll(db)
                }
                throw error
            }
        }
    }

    private enum Claim {
        case existing(DeliveryReceipt)
        case held(DeliveryUserRow)
        case writing(DeliveryUserRow)
    }

    /// The claim, in the caller's transaction: the id not used yet, the name not taken by another
    /// statement still in the folder, then `held` (no PGP key: sealed, the user told) or `writing`.
    private func claimStatement(_ statement: CheckedStatement, content: Data, sealed: Data, _ db: Database,
                                nowMs: Int64) throws -> Claim {
        if let row = try StatementRow.fetchOne(db, key: statement.statementID) {
            guard row.userName == statement.userName else {
                throw RPCError(.alreadyExists, "statement_id \(statement.statementID) was already used for another user")
            }
            return .existing(Self.receipt(row))
        }
        let user = try Self.requireUser(statement.userName, db)
        // One name, one statement: a second would replace the first in the folder, and the
        // first one's purge would take the second early.
        if let clash = try StatementRow.filter(Column("user_name") == statement.userName && Column("name") == statement.name
                                               && Column("state") != "purged").fetchOne(db) {
            throw RPCError(.alreadyExists, "\(statement.userName) already has a statement named \(statement.name) "
                           + "(statement_id \(clash.statementID)); give each statement its own name, e.g. with its period")
        }
        var row = StatementRow(statementID: statement.statementID, userName: user.userName, name: statement.name,
                               period: statement.period, state: "writing", fileName: statement.name + ".gpg",
                               receivedMs: nowMs, deliveredMs: nil, purgedMs: nil, sizeBytes: Int64(content.count),
                               sealed: nil)
        if !user.pgpFingerprint.isEmpty || settings.allowPlainDelivery {
            try row.insert(db)
            return .writing(user)
        }
        let held = try StatementRow.filter(Column("user_name") == user.userName && Column("state") == "held").fetchCount(db)
        guard held < settings.maxHeldPerUser else {
            throw RPCError(.resourceExhausted, "\(settings.maxHeldPerUser) statements are already held for \(user.userName), "
                           + "waiting for a PGP key (DLV-08); register one first", ruleID: "DLV-08")
        }
        row.state = "held"
        row.sealed = sealed
        try row.insert(db)
        try Outbox.append(StatementHeld(statementID: statement.statementID, userName: user.userName, heldUnixMs: nowMs),
                          in: db, nowUnixMs: nowMs)
        try notify(user, .statementHeld, values: ["user_name": user.userName, "period": statement.period],
                   statementID: statement.statementID, db, nowMs: nowMs)
        return .held(user)
    }

    /// DLV-08 by event: the statement is kept (sealed) until it is delivered, so a passing failure
    /// (disk, GnuPG, database) is retried by ``retryPending()`` instead of losing it. A refusal
    /// (a bad name, an unknown user) is logged and dropped: the issuer has to fix it.
    func receive(_ statement: SLSMessages.Statement) async throws {
        let id = try Self.check(statement).statementID
        let sealed = try vault.seal(statement.serializedBytes(), label: "inbox:" + id)
        let nowMs = now()
        try await database.write { db in
            guard try InboxRow.fetchOne(db, key: id) == nil else { return }
            try InboxRow(statementID: id, sealed: Data(sealed), receivedMs: nowMs, attempts: 0).insert(db)
        }
        try await processInbox(id)
    }

    /// Tries one inbox entry once.
    private func processInbox(_ id: String) async throws {
        guard let row = try await database.read({ try InboxRow.fetchOne($0, key: id) }) else { return }
        do {
            let statement = try SLSMessages.Statement(serializedBytes: try vault.open(row.sealed, label: "inbox:" + id))
            _ = try await deliver(statement)
            _ = try await database.write { try InboxRow.deleteOne($0, key: id) }
        } catch let refusal as RPCError where refusal.code != .internal && refusal.code != .resourceExhausted
                                              && refusal.code != .unavailable {
            logger.warning("statement from the event stream refused", metadata: ["statement_id": "\(id)",
                                                                                 "error": "\(refusal.message)"])
            _ = try await database.write { try InboxRow.deleteOne($0, key: id) }
        } catch {
            let attempts = row.attempts + 1
            logger.warning("statement from the event stream not delivered yet; it is retried",
                           metadata: ["statement_id": "\(id)", "attempts": "\(attempts)", "error": "\(type(of: error))"])
            try await database.write { db in
                if attempts >= Self.maxInboxAttempts {
                    _ = try InboxRow.deleteOne(db, key: id)
                } else {
                    try InboxRow(statementID: id, sealed: row.sealed, receivedMs: row.receivedMs, attempts: attempts).update(db)
                }
            }
            if attempts >= Self.maxInboxAttempts {
                logger.error("statement from the event stream dropped after repeated failures; ask the issuer to send it again",
                             metadata: ["statement_id": "\(id)", "attempts": "\(attempts)"])
            }
        }
    }

    static let maxInboxAttempts = 50

    /// The periodic retry: statements from events not delivered yet, and held statements of users
    /// who have a PGP key by now (a release that failed halfway).
    public func retryPending() async throws {
        let pending = try await database.read { try String.fetchAll($0, sql: "SELECT statement_id FROM delivery_inbox LIMIT 100") }
        for id in pending { try await processInbox(id) }
        let users = try await database.read { db in
            try String.fetchAll(db, sql: """
                SELECT DISTINCT s.user_name FROM delivery_statement s JOIN delivery_user u ON u.user_name = s.user_name
                WHERE s.state = 'held' AND u.pgp_fingerprint != '' LIMIT 100
                """)
        }
        for user in users { try await releaseHeld(for: user) }
    }

    /// Encrypts (or, when allowed and there is no key, not), writes, then records and announces.
    private func write(_ statement: CheckedStatement, content: Data, for user: DeliveryUserRow) async throws -> DeliveryReceipt {
        let encrypted = !user.pgpFingerprint.isEmpty
        let fileName = statement.name + (encrypted ? ".gpg" : "")
        let fingerprint = user.pgpFingerprint
        let bytes: Data
        if encrypted {
            do {
                bytes = try await pool.run { [keyring] in try keyring.encrypt(content, to: fingerprint) }
            } catch let error as PGPKeyError {
                throw RPCError(.internal, "statement \(statement.statementID) could not be encrypted: \(error.description)")
            }
        } else {
            bytes = content
        }
        try await pool.run { [folders] in try folders.write(bytes, as: fileName, for: user.userName) }
        let nowMs = now()
        try await database.write { [self] db in
            guard var row = try StatementRow.fetchOne(db, key: statement.statementID), row.state == "writing" else {
                throw RPCError(.internal, "statement \(statement.statementID) was not claimed for writing")
            }
            row.state = "delivered"
            row.fileName = fileName
            row.deliveredMs = nowMs
            row.sizeBytes = Int64(bytes.count)
            row.sealed = nil
            try row.update(db)
            try Outbox.append(StatementDelivered(statementID: row.statementID, userName: user.userName, fileName: fileName,
                                                 deliveredUnixMs: nowMs, sizeBytes: row.sizeBytes), in: db, nowUnixMs: nowMs)
            try notify(user, .statementAvailable, values: ["user_name": user.userName, "period": row.period,
                                                            "file_name": fileName],
                       statementID: row.statementID, db, nowMs: nowMs)
        }
        outbox.notify()
        logger.info("statement delivered", metadata: ["user": "\(user.userName)", "statement_id": "\(statement.statementID)",
                                                      "file": "\(fileName)", "encrypted": "\(encrypted)"])
        return DeliveryReceipt(statementID: statement.statementID, state: .delivered, fileName: fileName,
                               deliveredUnixMs: nowMs, note: encrypted ? "" : "delivered without encryption (--allow-plain-delivery)")
    }

    /// Delivers the user's held statements, oldest first (after a PGP key was registered).
    func releaseHeld(for userName: String) async throws {
        let held = try await database.read { db in
            try StatementRow.filter(Column("user_name") == userName && Column("state") == "held")
                .order(Column("received_ms")).fetchAll(db)
        }
        for row in held {
            guard let sealed = row.sealed else { continue }
            // Claimed from `held` to `writing` first, so two releases at once deliver it once.
            let claimed = try await database.write { db -> DeliveryUserRow? in
                guard let user = try DeliveryUserRow.fetchOne(db, key: userName), !user.pgpFingerprint.isEmpty else { return nil }
                try db.execute(sql: "UPDATE delivery_statement SET state = 'writing' WHERE statement_id = ? AND state = 'held'",
                               arguments: [row.statementID])
                return db.changesCount == 1 ? user : nil
            }
            guard let user = claimed else { continue }
            do {
                let content = Data(try vault.open(sealed, label: row.statementID))
                _ = try await write(CheckedStatement(statementID: row.statementID, userName: userName, name: row.name,
                                                     period: row.period), content: content, for: user)
            } catch {
                // Back to held, still sealed; the periodic retry tries again.
                _ = try? await database.write { db in
                    try db.execute(sql: "UPDATE delivery_statement SET state = 'held' WHERE statement_id = ? AND state = 'writing'",
                                   arguments: [row.statementID])
                }
                logger.warning("held statement not released yet", metadata: ["statement_id": "\(row.statementID)",
                                                                              "error": "\(type(of: error))"])
            }
        }
    }

    func listStatements(_ request: ListStatementsRequest) async throws -> StatementList {
        let userName = try Self.userName(request.userName)
        return try await database.read { db in
            try Self.requireUser(userName, db)
            let rows = try StatementRow.filter(Column("user_name") == userName).order(Column("received_ms").desc)
                .limit(1000).fetchAll(db)
            return StatementList(statements: rows.map(Self.record))
        }
    }

    /// The receipt of a statement id already received, so a retry does not deliver twice.
    private func receipt(for statementID: String, userName: String) async throws -> DeliveryReceipt? {
        guard let row = try await database.read({ try StatementRow.fetchOne($0, key: statementID) }) else { return nil }
        guard row.userName == userName else {
            throw RPCError(.alreadyExists, "statement_id \(statementID) was already used for another user")
        }
        return Self.receipt(row)
    }

    static func receipt(_ row: StatementRow) -> DeliveryReceipt {
        let record = record(row)
        return DeliveryReceipt(statementID: row.statementID, state: record.state, fileName: record.fileName,
                               deliveredUnixMs: record.deliveredUnixMs,
                               note: row.state == "writing" ? "being delivered now; ask again for the outcome"
                                   : "already received; not delivered again")
    }

    /// At start-up: statements a crash left `writing` were never acknowledged. Held ones go back to
    /// held (their sealed copy is kept); new ones are given up (row and any file), so the issuer's
    /// retry, or the event inbox, delivers them again.
    public func recoverInterruptedWrites() async throws {
        let interrupted = try await database.read { db in
            try StatementRow.filter(Column("state") == "writing").fetchAll(db)
        }
        for row in interrupted {
            if row.sealed != nil {
                _ = try await database.write { db in
                    try db.execute(sql: "UPDATE delivery_statement SET state = 'held' WHERE statement_id = ?",
                                   arguments: [row.statementID])
                }
            } else {
                folders.remove(row.fileName, of: row.userName)
                folders.remove(row.name, of: row.userName)
                _ = try await database.write { try StatementRow.deleteOne($0, key: row.statementID) }
            }
            logger.notice("statement write interrupted by a restart; recovered",
                          metadata: ["statement_id": "\(row.statementID)", "user": "\(row.userName)"])
        }
    }

    static func record(_ row: StatementRow) -> StatementRecord {
        let state: DeliveryState = switch row.state {
        case "delivered": .delivered
        case "held": .held
        case "purged": .purged
        default: .unspecified
        }
        return StatementRecord(statementID: row.statementID, name: row.name, period: row.period, state: state,
                               fileName: row.fileName, receivedUnixMs: row.receivedMs, deliveredUnixMs: row.deliveredMs ?? 0,
                               purgedUnixMs: row.purgedMs ?? 0, sizeBytes: row.sizeBytes)
    }

    struct CheckedStatement {
        let statementID: String
        let userName: String
        let name: String
        let period: String
    }

    static func check(_ statement: SLSMessages.Statement) throws -> CheckedStatement {
        do {
            let checked = CheckedStatement(statementID: try DeliveryNames.checkStatementID(statement.statementID),
                                           userName: try DeliveryNames.checkUserName(statement.userName),
                                           name: try DeliveryNames.checkFileName(statement.name),
                                           period: try DeliveryNames.checkPeriod(statement.period))
            guard !statement.content.isEmpty else { throw DeliveryRefusal.invalid(field: "content", "not empty") }
            return checked
        } catch let refusal as DeliveryRefusal {
            throw RPCError.invalidArgument(refusal.description)
        }
    }
}
