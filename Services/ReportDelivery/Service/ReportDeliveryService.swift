import Foundation
import GRDB
import Logging
import NetworkAddresses
import ReportDeliveryCore
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import SealingVault

/// Report delivery: access set-up by the reporting team (DLV-10), SSH keys (DLV-01 to DLV-05),
/// addresses (DLV-04), PGP keys and statements (DLV-08), retention (DLV-07) and the Message
/// Center (DLV-09). The SFTP endpoint itself is ``SFTPEndpoint``; it sees users through
/// ``directory``.
///
/// State lives in SQLite and the user folders. Changes run on GRDB's writer, each in one
/// transaction with its outbox events; GnuPG runs in a ``BlockingWorkPool``. Nothing blocks the
/// RPC socket thread.
public final class ReportDeliveryService: Sendable {
    let database: DatabasePool
    let outbox: OutboxRelay
    let settings: DeliverySettings
    let folders: DeliveryFolders
    let keyring: PGPKeyring
    let vault: SealingVault
    let templates: MessageTemplates
    let logger: Logger
    /// This service's clock in Unix milliseconds (shifted in rehearsals and retention tests).
    let now: @Sendable () -> Int64
    let pool: BlockingWorkPool
    let loginDirectory: LoginDirectory

    /// What the SFTP endpoint asks about users.
    public var directory: any SFTPUserDirectory { loginDirectory }

    public init(database: DatabasePool, outbox: OutboxRelay, settings: DeliverySettings, folders: DeliveryFolders,
                keyring: PGPKeyring, vault: SealingVault, templates: MessageTemplates, logger: Logger,
                now: @escaping @Sendable () -> Int64 = { Date().unixMs }) throws {
        self.database = database
        self.outbox = outbox
        self.settings = settings
        self.folders = folders
        self.keyring = keyring
        self.vault = vault
        self.templates = templates
        self.logger = logger
        self.now = now
        pool = BlockingWorkPool(width: ProcessInfo.processInfo.activeProcessorCount, jobs: "statement encryptions")
        loginDirectory = LoginDirectory(folders: folders)
        try database.read { try loginDirectory.reload($0) }
    }

    /// The service's tables.
    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        DeliveryStore.registerMigrations(&migrator)
    }

    /// Registers every method of `sls.delivery.v1.ReportDelivery` except GetInfo (the host's).
    public func register(on server: RPCServer) {
        server.register(ReportDeliveryAPI.createUser) { [self] request, _ in try await createUser(request) }
        server.register(ReportDeliveryAPI.addPublicKey) { [self] request, _ in try await addPublicKey(request) }
        server.register(ReportDeliveryAPI.removePublicKey) { [self] request, _ in try await removePublicKey(request) }
        server.register(ReportDeliveryAPI.setAddresses) { [self] request, _ in try await setAddresses(request) }
        server.register(ReportDeliveryAPI.setPgpKey) { [self] request, _ in try await setPgpKey(request) }
        server.register(ReportDeliveryAPI.getAccess) { [self] request, _ in
            let userName = try Self.userName(request.userName)
            return try await database.read { try Self.access(of: userName, $0) }
        }
        server.register(ReportDeliveryAPI.setPreferences) { [self] request, _ in try await setPreferences(request) }
        server.register(ReportDeliveryAPI.listMessages) { [self] request, _ in try await listMessages(request) }
        server.register(ReportDeliveryAPI.deliverStatement) { [self] request, _ in try await deliver(request) }
        server.register(ReportDeliveryAPI.listStatements) { [self] request, _ in try await listStatements(request) }
    }

    /// ACC-05: the broker's accounts; DLV-08: statements published by the broker's reporting system.
    public func routeEvents(_ router: EventRouter) {
        router.on(AccountOpened.self) { [self] event, _ in try await apply(event) }
        router.on(StatementIssued.self) { [self] event, _ in
            guard let statement = event.statement else {
                logger.warning("StatementIssued without a statement ignored")
                return
            }
            try await receive(statement)
        }
    }

    /// ACC-05: a broker account and its user name, as the account service announces it.
    func apply(_ event: AccountOpened) async throws {
        let userName = try Self.userName(event.userName)
        guard !event.accountID.isEmpty else { throw RPCError.invalidArgument("account_id is empty") }
        let nowMs = now()
        try await database.write { db in
            guard try AccountRow.fetchOne(db, key: userName) == nil else { return }
            try AccountRow(userName: userName, accountID: event.accountID, openedMs: nowMs).insert(db)
        }
    }

    func createUser(_ request: CreateUserRequest) async throws -> Access {
        let userName = try Self.userName(request.userName)
        let nowMs = now()
        let requireAccount = settings.requireKnownAccount
        let access = try await database.write { db in
            if requireAccount, try AccountRow.fetchOne(db, key: userName) == nil {
                throw RPCError.failedPrecondition(
                    "no broker account with user name '\(userName)': user names come from the account service "
                    + "(AccountOpened); check the spelling or wait for the account to be opened", ruleID: "ACC-05")
            }
            if try DeliveryUserRow.fetchOne(db, key: userName) == nil {
                try DeliveryUserRow(userName: userName, createdMs: nowMs, readyMs: nil, pgpFingerprint: "",
                                    primaryLanguage: "en", secondaryLanguage: "", channels: "").insert(db)
            }
            return try Self.access(of: userName, db)
        }
        try await pool.run { [folders] in try folders.ensureFolder(of: userName) }   // file I/O, off the socket thread
        return access
    }

    func addPublicKey(_ request: AddPublicKeyRequest) async throws -> Access {
        let userName = try Self.userName(request.userName)
        let key: SSHPublicKey
        do {
            key = try SSHPublicKey(parsing: request.publicKey)
        } catch {
            throw RPCError.invalidArgument("public_key: \(error.description)",
                                           ruleID: error == .privateKey ? "DLV-03" : "DLV-02")
        }
        let nowMs = now()
        let limit = settings.maxPublicKeysPerUser
        let access = try await database.write { [self] db in
            try Self.requireUser(userName, db)
            if try SSHKeyRow.fetchOne(db, key: ["user_name": userName, "fingerprint": key.fingerprint]) == nil {
                guard try SSHKeyRow.filter(Column("user_name") == userName).fetchCount(db) < limit else {
                    throw RPCError(.resourceExhausted, "at most \(limit) public keys per user; remove one first")
                }
                try SSHKeyRow(userName: userName, fingerprint: key.fingerprint, keyType: key.keyType, bits: key.bits,
                              blob: key.blob, comment: key.comment, addedMs: nowMs).insert(db)
            }
            try completeSetupIfReady(userName, db, nowMs: nowMs)
            return try Self.access(of: userName, db)
        }
        try await reloadLogins(userName)
        outbox.notify()
        logger.info("public key registered", metadata: ["user": "\(userName)", "fingerprint": "\(key.fingerprint)",
                                                        "type": "\(key.keyType)", "bits": "\(key.bits)"])
        return access
    }

    func removePublicKey(_ request: RemovePublicKeyRequest) async throws -> Access {
        let userName = try Self.userName(request.userName)
        guard request.fingerprint.utf8.count <= 128 else { throw RPCError.invalidArgument("fingerprint is longer than 128 bytes") }
        let access = try await database.write { db in
            try Self.requireUser(userName, db)
            guard try SSHKeyRow.deleteOne(db, key: ["user_name": userName, "fingerprint": request.fingerprint]) else {
                // The fingerprint is repeated only when it looks like one: the field is free text.
                let shown = Self.looksLikeFingerprint(request.fingerprint) ? " " + request.fingerprint : " with that fingerprint"
                throw RPCError.notFound("user \(userName) has no key\(shown) (see GetAccess for the registered ones)")
            }
            return try Self.access(of: userName, db)
        }
        try await reloadLogins(userName)
        return access
    }

    /// DLV-04: replaces the user's addresses.
    func setAddresses(_ request: SetAddressesRequest) async throws -> Access {
        let userName = try Self.userName(request.userName)
        let allowlist: IPAllowlist
        do {
            allowlist = try IPAllowlist(request.addresses)
        } catch {
            throw RPCError.invalidArgument("addresses: \(error.description)", ruleID: "DLV-04")
        }
        for range in allowlist.ranges {
            let minimum = range.network.count == 4 ? settings.minimumIPv4Prefix : settings.minimumIPv6Prefix
            guard range.prefixLength >= minimum else {
                throw RPCError.invalidArgument("addresses: \(range) is wider than /\(minimum); register the user's own "
                                               + "public addresses (a range this wide would let most of the internet "
                                               + "past the first check)", ruleID: "DLV-04")
            }
        }
        let nowMs = now()
        let access = try await database.write { [self] db in
            try Self.requireUser(userName, db)
            try AddressRow.filter(Column("user_name") == userName).deleteAll(db)
            for (position, range) in allowlist.ranges.enumerated() {
                try AddressRow(userName: userName, position: position, range: range.description).insert(db)
            }
            try completeSetupIfReady(userName, db, nowMs: nowMs)
            return try Self.access(of: userName, db)
        }
        try await reloadLogins(userName)
        outbox.notify()
        return access
    }

    /// DLV-08: the user's PGP public key; statements held for want of one are delivered now.
    func setPgpKey(_ request: SetPgpKeyRequest) async throws -> Access {
        let userName = try Self.userName(request.userName)
        _ = try await database.read { try Self.requireUser(userName, $0) }
        let armored = request.publicKey
        let info: PGPKeyring.KeyInfo
        do {
            info = try await pool.run { [keyring] in try keyring.register(armored: armored) }
        } catch let error as PGPKeyError {
            throw RPCError.invalidArgument("public_key: \(error.description)",
                                           ruleID: error == .privateKey ? "DLV-03" : "DLV-08")
        }
        let previous = try await database.write { db -> String in
            guard var user = try DeliveryUserRow.fetchOne(db, key: userName) else { throw Self.unknownUser(userName) }
            let previous = user.pgpFingerprint
            user.pgpFingerprint = info.fingerprint
            try user.update(db)
            return previous
        }
        if !previous.isEmpty, previous != info.fingerprint {
            let stillUsed = try await database.read {
                try DeliveryUserRow.filter(Column("pgp_fingerprint") == previous).fetchCount($0) > 0
            }
            if !stillUsed { _ = try? await pool.run { [keyring] in keyring.remove(fingerprint: previous) } }
        }
        logger.info("PGP key registered", metadata: ["user": "\(userName)", "fingerprint": "\(info.fingerprint)"])
        try await releaseHeld(for: userName)
        return try await database.read { try Self.access(of: userName, $0) }
    }

    /// DLV-10: when the set-up has just become complete, the user is notified (event, Message
    /// Center, chosen channels) and may log in from now on.
    private func completeSetupIfReady(_ userName: String, _ db: Database, nowMs: Int64) throws {
        guard var user = try DeliveryUserRow.fetchOne(db, key: userName), user.readyMs == nil,
              try Self.setup(of: userName, db).isComplete else { return }
        user.readyMs = nowMs
        try user.update(db)
        try Outbox.append(AccessReady(userName: userName, readyUnixMs: nowMs), in: db, nowUnixMs: nowMs)
        try notify(user, .accessReady, values: ["user_name": userName], statementID: "", db, nowMs: nowMs)
        logger.info("SFTP access ready; user notified", metadata: ["user": "\(userName)"])
    }

    // MARK: - Helpers

    /// `SHA256:` and base64 characters, as ``SSHPublicKey/fingerprint`` writes them.
    static func looksLikeFingerprint(_ text: String) -> Bool {
        text.hasPrefix("SHA256:") && text.utf8.count <= 60 && text.utf8.dropFirst(7).allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: "+") || byte == UInt8(ascii: "/")
        }
    }

    /// Refreshes the SFTP endpoint's view of `userName` from what is committed (never from a
    /// transaction that could still roll back).
    func reloadLogins(_ userName: String) async throws {
        try await database.read { [loginDirectory] in try loginDirectory.reload(userName, $0) }
    }

    static func userName(_ text: String) throws -> String {
        do {
            return try DeliveryNames.checkUserName(text)
        } catch {
            throw RPCError.invalidArgument(error.description)
        }
    }

    @discardableResult
    static func requireUser(_ userName: String, _ db: Database) throws -> DeliveryUserRow {
        guard let user = try DeliveryUserRow.fetchOne(db, key: userName) else { throw unknownUser(userName) }
        return user
    }

    static func unknownUser(_ userName: String) -> RPCError {
        RPCError.notFound("no report delivery user '\(userName)': the reporting team creates it first (CreateUser, DLV-10)")
    }

    static func setup(of userName: String, _ db: Database) throws -> AccessSetup {
        AccessSetup(publicKeyCount: try SSHKeyRow.filter(Column("user_name") == userName).fetchCount(db),
                    addressCount: try AddressRow.filter(Column("user_name") == userName).fetchCount(db))
    }

    static func access(of userName: String, _ db: Database) throws -> Access {
        let user = try requireUser(userName, db)
        let keys = try SSHKeyRow.filter(Column("user_name") == userName).order(Column("added_ms")).fetchAll(db)
        let addresses = try AddressRow.filter(Column("user_name") == userName).order(Column("position")).fetchAll(db)
        return Access(
            userName: userName,
            publicKeys: keys.map { PublicKey(fingerprint: $0.fingerprint, keyType: $0.keyType, bits: Int32($0.bits),
                                             comment: $0.comment, addedUnixMs: $0.addedMs) },
            addresses: addresses.map(\.range), pgpFingerprint: user.pgpFingerprint, ready: user.readyMs != nil,
            readyUnixMs: user.readyMs ?? 0, missing: try setup(of: userName, db).missing,
            preferences: preferences(of: user))
    }
}
