import CryptoRulesCore
import Foundation
import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSStorage
import Synchronization

/// The crypto-rules service: permissions, the order path and the state the rules need.
///
/// Every change is written to SQLite (with its outbox event) in one transaction and then
/// applied to the in-memory ``AccountBook``, all under one lock, so checks read a
/// consistent book without touching the database and nothing acknowledged is lost.
public final class CryptoRulesService: Sendable {
    let engine: PreTradeRiskEngine
    let database: DatabasePool
    let outbox: OutboxRelay
    let logger: Logger
    let now: @Sendable () -> Date
    let book: Mutex<AccountBook>
    /// Limits of input fields (and the clock skew allowed for times in events).
    let fieldLimits: FieldLimits

    var settings: CryptoSettings { engine.settings }
    var calendar: TradingCalendar { engine.calendar }

    /// Loads the book from `database` (migrated with ``registerMigrations(_:)``).
    ///
    /// Rows holding values that are no longer accepted (out of range, a price dated in the
    /// future) are left out of memory and logged as errors; start-up goes on without them.
    public init(database: DatabasePool, outbox: OutboxRelay, settings: CryptoSettings, logger: Logger,
                fieldLimits: FieldLimits = FieldLimits(), now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.engine = PreTradeRiskEngine(settings: settings)
        self.database = database
        self.outbox = outbox
        self.logger = logger
        self.now = now
        self.fieldLimits = fieldLimits
        var skipped: [CryptoStore.UnusableRow] = []
        let latestAcceptedMs = now().unixMs + fieldLimits.clockSkewMilliseconds
        self.book = Mutex(try database.read { db in
            try CryptoStore.loadBook(db, latestAcceptedMs: latestAcceptedMs, skipped: &skipped)
        })
        for row in skipped {
            logger.error("stored row left out: its values are no longer accepted; fix or delete it",
                         metadata: ["table": "\(row.table)", "key": "\(row.key)", "reason": "\(row.reason)"])
        }
    }

    /// The service's tables.
    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        CryptoStore.registerMigrations(&migrator)
    }

    /// Registers every method of `sls.crypto.v1.CryptoRules` except GetInfo (the host's).
    public func register(on server: RPCServer) {
        server.register(CryptoRulesAPI.requestPermission) { [self] request, _ in try await requestPermission(request) }
        server.register(CryptoRulesAPI.getPermission) { [self] request, _ in try getPermission(request) }
        server.register(CryptoRulesAPI.checkOrder, synchronous: { [self] request, _ in try checkOrder(request) })
        server.register(CryptoRulesAPI.placeOrder) { [self] request, _ in try await placeOrder(request) }
        server.register(CryptoRulesAPI.cancelOrder) { [self] request, _ in try await cancelOrder(request) }
        server.register(CryptoRulesAPI.getAccountState, synchronous: { [self] request, _ in try accountState(request) })
        server.register(CryptoRulesAPI.requestTransfer, synchronous: { [self] request, _ in try requestTransfer(request) })
        server.register(CryptoRulesAPI.chargeCustodyFees) { [self] request, _ in try await chargeCustodyFees(request) }
    }

    /// Runs `change` off the socket thread, on GRDB's writer, one change at a time: it edits a
    /// copy of the book and writes its rows with `db` in one transaction, and the copy replaces
    /// the book only after the commit. Readers (CheckOrder, GetAccountState) take the book's lock
    /// only to copy it, so they never wait for the disk and never see uncommitted state.
    func mutate<T: Sendable>(_ change: @escaping @Sendable (inout AccountBook, Database) throws -> T)
        async throws -> T {
        let result = try await database.writeWithoutTransaction { [self] db in
            var draft = book.withLock { $0 }
            var output: T?
            try db.inTransaction {
                output = try change(&draft, db)
                return .commit
            }
            book.withLock { [draft] in $0 = draft }
            return output!
        }
        outbox.notify()
        return result
    }

    // MARK: - Permissions (CRY-01, CRY-02)

    func requestPermission(_ request: PermissionRequest) async throws -> PermissionReply {
        let accountID = try ProtoMapping.requireAccount(request.accountID)
        let nowMs = now().unixMs
        return try await mutate { [settings] book, db in
            var account = book.account(accountID)
            let refusal = Eligibility.refusal(for: account.profile, settings: settings)
            account.permissionGranted = refusal == nil
            account.permissionDecidedMs = nowMs
            let reply = PermissionReply(accountID: accountID, granted: refusal == nil, ruleID: refusal?.ruleID ?? "",
                                        reason: refusal?.message ?? "", decidedUnixMs: nowMs)
            // An account the account services never announced is refused and not remembered:
            // ids from callers must not grow the book.
            let known = book.accounts[accountID] != nil
            if known { try CryptoStore.save(account, db) }
            try Outbox.append(PermissionDecided(decision: reply), in: db, nowUnixMs: nowMs)
            if known { book.accounts[accountID] = account }
            return reply
        }
    }

    func getPermission(_ request: PermissionRequest) throws -> PermissionReply {
        let accountID = try ProtoMapping.requireAccount(request.accountID)
        let account = book.withLock { $0.account(accountID) }
        let refusal = account.permissionGranted ? nil
            : Refusal("CRY-01", "No Cryptocurrency trading permission; request it in the portal.")
        return PermissionReply(accountID: accountID, granted: account.permissionGranted,
                               ruleID: refusal?.ruleID ?? "", reason: refusal?.message ?? "",
                               decidedUnixMs: account.permissionDecidedMs)
    }

    // MARK: - Transfers (CRY-13)

    func requestTransfer(_ request: TransferRequest) throws -> TransferReply {
        _ = try ProtoMapping.requireAccount(request.accountID)
        guard ["deposit", "withdrawal"].contains(request.direction) else {
            throw RPCError.invalidArgument("direction must be 'deposit' or 'withdrawal'")
        }
        throw RPCError.failedPrecondition(
            "Crypto cannot be \(request.direction == "deposit" ? "deposited into" : "withdrawn from") this account; "
            + "buy or sell it here and move cash instead.", ruleID: "CRY-13")
    }
}
