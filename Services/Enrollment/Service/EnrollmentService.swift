import SealingVault
import Crypto
import DeviceSignatures
import EnrollmentCore
import Foundation
import GRDB
import Logging
import QRCode
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import Synchronization

/// The enrollment service: the read model of accounts (ACC-05), users' factors (ENR-01 to ENR-03)
/// and IB Key activation by string (ENR-04 to ENR-07), with ENR-10's recommendation.
///
/// State lives in SQLite only. Every change runs on GRDB's writer (off the socket thread) in one
/// transaction with its outbox event.
public final class EnrollmentService: Sendable {
    let database: DatabasePool
    let outbox: OutboxRelay
    let settings: EnrollmentSettings
    /// The QR code's link is this followed by the activation string (ENR-11).
    let activationLinkBase: String
    let logger: Logger
    let now: @Sendable () -> Date
    /// Seals DSC+ seeds at rest.
    let vault: SealingVault
    /// challenge verification: its key (to seal a card's seed for it alone), passwords and SMS codes.
    let challenge: any ChallengeGateway
    /// ENR-08 by password: which phone asked for each login (bounded; a restart means asking again).
    private let pendingAdds = Mutex<[String: (deviceID: String, atMs: Int64)]>([:])
    /// Guessing and flooding limits: attempts per phone and per caller, strings per user.
    private let perDevice: Mutex<RateLimiter>
    private let perCaller: Mutex<RateLimiter>
    private let perUser: Mutex<RateLimiter>
    /// CPU work of a request (drawing QR codes, parsing and sealing a card inventory) runs here,
    /// not on the RPC socket thread.
    let pool = BlockingWorkPool(width: ProcessInfo.processInfo.activeProcessorCount, jobs: "enrollment jobs")

    public init(database: DatabasePool, outbox: OutboxRelay, settings: EnrollmentSettings, activationLinkBase: String,
                vault: SealingVault, challenge: any ChallengeGateway,
                logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.vault = vault
        self.challenge = challenge
        self.database = database
        self.outbox = outbox
        self.settings = settings
        self.activationLinkBase = activationLinkBase
        self.logger = logger
        self.now = now
        func limiter(_ perMinute: Int) -> Mutex<RateLimiter> {
            Mutex(RateLimiter(capacity: Double(perMinute), refillPerSecond: Double(perMinute) / 60))
        }
        perDevice = limiter(settings.attemptsPerDevicePerMinute)
        perCaller = limiter(settings.attemptsPerCallerPerMinute)
        perUser = limiter(settings.startsPerUserPerMinute)
    }

    /// The service's tables.
    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        EnrollmentStore.registerMigrations(&migrator)
    }

    /// Registers every method of `sls.enrollment.v1.Enrollment` except GetInfo (the host's).
    public func register(on server: RPCServer) {
        server.register(EnrollmentAPI.listFactors) { [self] request, _ in try await listFactors(request) }
        server.register(EnrollmentAPI.startActivation) { [self] request, _ in try await startActivation(request) }
        server.register(EnrollmentAPI.activate) { [self] request, context in
            try chargeAttempt(device: request.deviceID, caller: context.caller)
            return try await activate(request)
        }
        server.register(EnrollmentAPI.addUser) { [self] request, context in
            try chargeAttempt(device: request.deviceID, caller: context.caller)
            return try await addUser(request)
        }
        server.register(EnrollmentAPI.getRecommendation) { [self] request, _ in try await recommendation(request) }
        server.register(EnrollmentAPI.addUserByPassword) { [self] request, context in
            try chargeAttempt(device: request.deviceID, caller: context.caller)
            return try await addUserByPassword(request)
        }
        server.register(EnrollmentAPI.confirmAddUser) { [self] request, context in
            try chargeAttempt(device: request.deviceID, caller: context.caller)
            return try await confirmAddUser(request)
        }
        server.register(EnrollmentAPI.importCards) { [self] request, _ in try await importCards(request) }
        server.register(EnrollmentAPI.assignCard) { [self] request, _ in try await assignCard(request) }
    }

    /// ACC-05, ENR-01: the account events this service keeps its users from.
    public func routeEvents(_ router: EventRouter) {
        router.on(AccountOpened.self) { [self] event, _ in try await apply(event) }
        router.on(MobileNumberUpdated.self) { [self] event, _ in try await apply(event) }
        router.on(AccountBalanceUpdated.self) { [self] event, _ in try await apply(event) }
    }

    // MARK: - Methods

    func listFactors(_ request: ListFactorsRequest) async throws -> FactorList {
        let userName = try Self.requireUser(request.userName)
        return try await database.read { db in
            guard try UserRow.fetchOne(db, key: userName) != nil else { throw Self.unknownUser(userName) }
            let rows = try FactorRow.filter(Column("user_name") == userName).order(Column("id")).fetchAll(db)
            return FactorList(userName: userName, factors: rows.map(Self.message))
        }
    }

    /// ENR-04: a fresh activation string for `user_name`, and the link its QR code carries.
    /// With `replace_existing` (ENR-09) the string moves the user's IB Key to a new phone.
    func startActivation(_ request: StartActivationRequest) async throws -> ActivationTicket {
        let userName = try Self.requireUser(request.userName)
        guard perUser.withLock({ $0.take(1, for: userName, nowMs: now().unixMs) }) else {
            throw RPCError(.resourceExhausted, "at most \(settings.startsPerUserPerMinute) activation strings a minute "
                           + "for one user; wait a minute")
        }
        let code = ActivationCode.generate(length: settings.activationCodeLength)
        let issued = now()
        let expires = issued.addingTimeInterval(settings.activationLifetime)
        // Drawn before anything is stored: a code that cannot be drawn leaves no string behind.
        let link = activationLinkBase + code.characters
        let png = try await pool.run { try Self.qrPNG(link) }
        try await database.write { db in
            guard try UserRow.fetchOne(db, key: userName) != nil else { throw Self.unknownUser(userName) }
            if try Self.activeIBKeys(of: userName, db).isEmpty == false && !request.replaceExisting {
                throw RPCError.failedPrecondition(ActivationRefusal.alreadyEnrolled.description
                    + " To move IB Key to a new phone, ask for a string that replaces it (replace_existing).",
                                                  ruleID: "ENR-07")
            }
            try ActivationRow(digest: code.digest, userName: userName, issuedMs: issued.unixMs, consumedMs: nil,
                              replacesExisting: request.replaceExisting).insert(db)
            try Outbox.append(ActivationStarted(userName: userName, expiresUnixMs: expires.unixMs), in: db,
                              nowUnixMs: issued.unixMs)
        }
        outbox.notify()
        return ActivationTicket(activationString: code.grouped(by: settings.activationCodeGroup), qrLink: link,
                                expiresUnixMs: expires.unixMs, qrPng: Data(png))
    }

    /// ENR-05 to ENR-07, ENR-09: the phone's activation. Any attempt with a known string uses it up.
    func activate(_ request: ActivateRequest) async throws -> ActivationResult {
        let code = try parse(request.activationString)
        let platform: EnrollmentCore.DevicePlatform
        switch request.platform {
        case .android: platform = .android
        case .ios: platform = .ios
        default: throw RPCError.invalidArgument("platform must be ANDROID or IOS; got \(request.platform)")
        }
        guard !request.deviceID.isEmpty else { throw RPCError.invalidArgument("device_id is empty") }
        if let problem = DeviceKeys.signingKeyProblem(request.devicePublicKey, field: "device_public_key")
            ?? DeviceKeys.agreementKeyProblem(request.deviceAgreementKey, field: "device_agreement_key") {
            throw RPCError.invalidArgument(problem)
        }
        guard request.sealedPinHash.count <= 256 else {
            throw RPCError.invalidArgument("sealed_pin_hash is at most 256 bytes; got \(request.sealedPinHash.count)")
        }
        let pin = request.pin.isEmpty ? nil : request.pin
        let at = now()
        let device = NewFactor(deviceID: request.deviceID, platform: platform, publicKey: Array(request.devicePublicKey),
                               agreementKey: Array(request.deviceAgreementKey), pushToken: request.pushToken,
                               sealedPINHash: Array(request.sealedPinHash))
        let outcome: Result<String, ActivationRefusal> = try await database.write { [settings] db in
            let (row, pending) = try Self.consume(code, at: at, db)
            // A device id already active with another key is another phone: refuse to share it.
            if let other = try Self.activePhone(device.deviceID, db), other.devicePublicKey != device.publicKey {
                try Self.recordFailure(.deviceIDTaken, user: row.userName, at: at, db)
                return .failure(.deviceIDTaken)
            }
            let existing = try Self.activeIBKeys(of: row.userName, db)
            if let refusal = ActivationRules.decide(pending, userHasIBKey: !existing.isEmpty, platform: platform,
                                                    pin: pin, now: at, settings: settings) {
                try Self.recordFailure(refusal, user: row.userName, at: at, db)
                return .failure(refusal)
            }
            // ENR-09: the old phone's IB Key ends as the new one starts; other factors stay.
            for var old in existing where pending.replacesExisting {
                old.state = EnrollmentCore.FactorState.deactivated.rawValue
                old.sinceMs = at.unixMs
                try old.update(db)
                try Outbox.append(FactorDeactivated(userName: row.userName, kind: .ibKey, deviceID: old.deviceID,
                                                    reason: "moved to a new phone", deactivatedUnixMs: at.unixMs),
                                  in: db, nowUnixMs: at.unixMs)
            }
            try Self.insertIBKey(for: row.userName, device, at: at, db)
            return .success(row.userName)
        }
        return try finish(outcome, deviceID: request.deviceID, at: at)
    }

    /// ENR-08: another user on a phone that already holds IB Key, proven by its device key.
    func addUser(_ request: AddUserRequest) async throws -> ActivationResult {
        let code = try parse(request.activationString)
        guard !request.deviceID.isEmpty else { throw RPCError.invalidArgument("device_id is empty") }
        guard !request.signature.isEmpty, request.signature.count <= 128 else {
            throw RPCError.invalidArgument("signature must be an ECDSA P-256 signature (64 bytes raw, or DER)")
        }
        let at = now()
        let outcome: Result<String, ActivationRefusal> = try await database.write { [settings] db in
            let (row, pending) = try Self.consume(code, at: at, db)
            guard let phone = try Self.activePhone(request.deviceID, db) else {
                return .failure(.notOnThisPhone)
            }
            guard DeviceKeys.verify(request.signature, of: DeviceKeys.addUserMessage(code: code, deviceID: request.deviceID),
                                    by: Data(phone.devicePublicKey)) else {
                return .failure(.deviceNotProven)
            }
            guard !pending.replacesExisting else {
                try Self.recordFailure(.replaceNeedsActivation, user: row.userName, at: at, db)
                return .failure(.replaceNeedsActivation)
            }
            let platform = EnrollmentCore.DevicePlatform(rawValue: phone.platform) ?? .ios
            // The phone confirmed locally (PIN or unlock): no PIN travels here.
            if let refusal = ActivationRules.decide(pending, userHasIBKey: !(try Self.activeIBKeys(of: row.userName, db)).isEmpty,
                                                    platform: .ios, pin: nil, now: at, settings: settings) {
                try Self.recordFailure(refusal, user: row.userName, at: at, db)
                return .failure(refusal)
            }
            try Self.insertIBKey(for: row.userName, NewFactor(deviceID: phone.deviceID, platform: platform,
                                                               publicKey: phone.devicePublicKey,
                                                               agreementKey: phone.deviceAgreementKey,
                                                               pushToken: phone.pushToken,
                                                               sealedPINHash: phone.sealedPINHash), at: at, db)
            return .success(row.userName)
        }
        return try finish(outcome, deviceID: request.deviceID, at: at)
    }

    // MARK: - ENR-08 by password and SMS code

    /// The phone (proven by its device key) asks to add `user_name`; challenge verification checks
    /// the password and sends a code by SMS to the account's number.
    func addUserByPassword(_ request: AddUserByPasswordRequest) async throws -> AddUserCodeSent {
        let userName = try Self.requireUser(request.userName)
        guard !request.deviceID.isEmpty else { throw RPCError.invalidArgument("device_id is empty") }
        let at = now()
        // Compared without subtraction: a hostile time must not make arithmetic trap.
        guard request.signedUnixMs > at.unixMs - 60_000, request.signedUnixMs < at.unixMs + 60_000 else {
            throw RPCError.permissionDenied("the phone's signed time is more than 60 s from the server's", ruleID: "ENR-08")
        }
        let phone = try await database.read { db in try Self.activePhone(request.deviceID, db) }
        guard let phone else { throw RPCError.failedPrecondition(ActivationRefusal.notOnThisPhone.description, ruleID: "ENR-08") }
        let message = Data("sls.enrollment.v1.AddUserByPassword\n\(userName)\n\(request.deviceID)\n\(request.signedUnixMs)".utf8)
        guard DeviceKeys.verify(request.signature, of: message, by: Data(phone.devicePublicKey)) else {
            throw RPCError.permissionDenied(ActivationRefusal.deviceNotProven.description, ruleID: "ENR-08")
        }
        let (loginID, sentTo) = try await challenge.passwordThenSMS(userName: userName, password: request.password)
        pendingAdds.withLock { pending in
            let cutoff = at.unixMs - 10 * 60_000
            pending = pending.filter { $0.value.atMs > cutoff }
            if pending.count >= 10_000, let oldest = pending.min(by: { $0.value.atMs < $1.value.atMs })?.key {
                pending[oldest] = nil
            }
            pending[loginID] = (request.deviceID, at.unixMs)
        }
        return AddUserCodeSent(loginID: loginID, sentTo: sentTo)
    }

    /// The SMS code confirms the user; IB Key for that user joins the phone that asked, and only that one.
    func confirmAddUser(_ request: ConfirmAddUserRequest) async throws -> ActivationResult {
        guard !request.deviceID.isEmpty else { throw RPCError.invalidArgument("device_id is empty") }
        let asked = pendingAdds.withLock { $0.removeValue(forKey: request.loginID) }
        guard let asked, asked.deviceID == request.deviceID else {
            throw RPCError.failedPrecondition("no request from this phone to add a user with login \(request.loginID.prefix(64)): "
                                              + "start again with AddUserByPassword", ruleID: "ENR-08")
        }
        let userName = try await challenge.confirm(loginID: request.loginID, code: request.code)
        let at = now()
        try await database.write { db in
            guard let phone = try Self.activePhone(request.deviceID, db) else {
                throw RPCError.failedPrecondition(ActivationRefusal.notOnThisPhone.description, ruleID: "ENR-08")
            }
            guard try Self.activeIBKeys(of: userName, db).isEmpty else {
                throw RPCError.failedPrecondition(ActivationRefusal.alreadyEnrolled.description, ruleID: "ENR-07")
            }
            try Self.insertIBKey(for: userName, NewFactor(
                deviceID: phone.deviceID, platform: EnrollmentCore.DevicePlatform(rawValue: phone.platform) ?? .ios,
                publicKey: phone.devicePublicKey, agreementKey: phone.deviceAgreementKey, pushToken: phone.pushToken,
                sealedPINHash: phone.sealedPINHash), at: at, db)
        }
        outbox.notify()
        return ActivationResult(userName: userName, deviceID: request.deviceID, activatedUnixMs: at.unixMs)
    }

    /// Deletes activation strings a day past their expiry (used or not), so strings asked for and
    /// never used cannot grow the database for good. Returns the rows deleted.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let cutoff = now().unixMs - Int64((settings.activationLifetime + 86_400) * 1000)
        return try await database.write { db in
            try db.execute(sql: "DELETE FROM activation WHERE issued_ms < ?", arguments: [cutoff])
            return db.changesCount
        }
    }

    static func activePhone(_ deviceID: String, _ db: Database) throws -> FactorRow? {
        try activePhoneRequest(deviceID).fetchOne(db)
    }

    /// The phone holding IB Key under `deviceID` (searched by the `factor_device_id` index).
    static func activePhoneRequest(_ deviceID: String) -> QueryInterfaceRequest<FactorRow> {
        FactorRow.filter(Column("device_id") == deviceID && Column("kind") == EnrollmentCore.FactorKind.ibKey.rawValue
                         && Column("state") == EnrollmentCore.FactorState.active.rawValue)
    }

    // MARK: - Activation steps

    /// Charges one activation attempt to the phone and to the caller: guessing strings is slow.
    func chargeAttempt(device: String, caller: String) throws {
        let nowMs = now().unixMs
        guard perCaller.withLock({ $0.take(1, for: caller, nowMs: nowMs) }) else {
            throw RPCError(.resourceExhausted, "at most \(settings.attemptsPerCallerPerMinute) activation attempts a "
                           + "minute from one caller; wait a minute")
        }
        guard perDevice.withLock({ $0.take(1, for: device, nowMs: nowMs) }) else {
            throw RPCError(.resourceExhausted, "at most \(settings.attemptsPerDevicePerMinute) activation attempts a "
                           + "minute from one phone; wait a minute")
        }
    }

    /// The phone's side of a new IB Key factor.
    struct NewFactor: Sendable {
        let deviceID: String
        let platform: EnrollmentCore.DevicePlatform
        let publicKey: [UInt8]
        let agreementKey: [UInt8]
        let pushToken: String
        let sealedPINHash: [UInt8]
    }

    private func parse(_ typed: String) throws -> ActivationCode {
        do {
            return try ActivationCode(typed: typed, length: settings.activationCodeLength)
        } catch {
            throw RPCError.invalidArgument("activation_string: \(error)", ruleID: "ENR-04")
        }
    }

    /// Finds the string by its digest (it is never compared as text) and uses it up (ENR-06).
    private static func consume(_ code: ActivationCode, at: Date, _ db: Database) throws -> (ActivationRow, PendingActivation) {
        guard var row = try ActivationRow.fetchOne(db, key: code.digest) else {
            throw RPCError(.notFound, "no such activation string: check what was typed, or log in to the "
                           + "Client Portal again for a fresh QR code", ruleID: "ENR-06")
        }
        let pending = PendingActivation(userName: row.userName, issuedAt: Date(unixMs: row.issuedMs),
                                        consumedAt: row.consumedMs.map(Date.init(unixMs:)),
                                        replacesExisting: row.replacesExisting)
        if row.consumedMs == nil {
            row.consumedMs = at.unixMs
            try row.update(db)
        }
        return (row, pending)
    }

    private static func recordFailure(_ refusal: ActivationRefusal, user: String, at: Date, _ db: Database) throws {
        try Outbox.append(ActivationFailed(userName: user, reason: refusal.reason, ruleID: refusal.ruleID,
                                           failedUnixMs: at.unixMs), in: db, nowUnixMs: at.unixMs)
    }

    private static func insertIBKey(for userName: String, _ device: NewFactor, at: Date, _ db: Database) throws {
        var factor = FactorRow(id: nil, userName: userName, kind: EnrollmentCore.FactorKind.ibKey.rawValue,
                               state: EnrollmentCore.FactorState.active.rawValue, sinceMs: at.unixMs,
                               deviceID: device.deviceID, platform: device.platform.rawValue,
                               devicePublicKey: device.publicKey, pushToken: device.pushToken,
                               deviceAgreementKey: device.agreementKey, sealedPINHash: device.sealedPINHash)
        try factor.insert(db)
        try Outbox.append(FactorActivated(userName: userName, kind: .ibKey, deviceID: device.deviceID,
                                          platform: device.platform == .android ? .android : .ios,
                                          devicePublicKey: Data(device.publicKey), pushToken: device.pushToken,
                                          activatedUnixMs: at.unixMs, deviceAgreementKey: Data(device.agreementKey),
                                          sealedPinHash: Data(device.sealedPINHash)),
                          in: db, nowUnixMs: at.unixMs)
    }

    /// After the commit (the string stays used up either way): the result, or the refusal.
    private func finish(_ outcome: Result<String, ActivationRefusal>, deviceID: String, at: Date) throws -> ActivationResult {
        outbox.notify()
        switch outcome {
        case .success(let userName):
            return ActivationResult(userName: userName, deviceID: deviceID, activatedUnixMs: at.unixMs)
        case .failure(let refusal):
            throw RPCError(refusal.isProofFailure ? .permissionDenied : .failedPrecondition, refusal.description,
                           ruleID: refusal.ruleID)
        }
    }

    // MARK: - DSC+ (ENR-02)

    /// Loads cards from an inventory file; seeds are sealed before they are stored.
    func importCards(_ request: ImportCardsRequest) async throws -> ImportCardsReply {
        // Parsing up to a megabyte of inventory and sealing every seed: off the socket thread.
        let inventory = request.inventory
        let sealed = try await pool.run { [vault] () throws -> [(CardRecord, [UInt8])] in
            guard let text = String(data: inventory, encoding: .utf8) else {
                throw RPCError.invalidArgument("inventory is not UTF-8 text")
            }
            let cards: [CardRecord]
            do {
                cards = try CardInventory.parse(text)
            } catch {
                throw RPCError.invalidArgument("\(error)", ruleID: "ENR-02")
            }
            return try cards.map { card in (card, try vault.seal(card.seed, label: card.serial)) }
        }
        let at = now().unixMs
        let (imported, known) = try await database.write { db -> (UInt32, UInt32) in
            var imported: UInt32 = 0, known: UInt32 = 0
            for (card, box) in sealed {
                if try CardRow.exists(db, key: card.serial) {
                    known += 1
                    continue
                }
                try CardRow(serial: card.serial, sealedSeed: box, suite: card.suite, assignedUser: nil, importedMs: at).insert(db)
                imported += 1
            }
            return (imported, known)
        }
        logger.info("card inventory imported", metadata: ["imported": "\(imported)", "already_known": "\(known)"])
        return ImportCardsReply(imported: imported, alreadyKnown: known)
    }

    /// ENR-02, ENR-03: a DSC+ card for a user whose balance is over USD 500,000, beside their other factors.
    func assignCard(_ request: AssignCardRequest) async throws -> Factor {
        let userName = try Self.requireUser(request.userName)
        guard !request.cardSerial.isEmpty else { throw RPCError.invalidArgument("card_serial is empty") }
        let at = now()
        let recipient: Data
        do {
            recipient = try await challenge.agreementKey()
        } catch {
            throw RPCError(.unavailable, "challenge verification's key could not be fetched, so the card's seed cannot be "
                           + "handed to it; retry shortly")
        }
        let row = try await database.write { [settings, vault] db -> FactorRow in
            guard let user = try UserRow.fetchOne(db, key: userName) else { throw Self.unknownUser(userName) }
            let balance = user.balanceUSD.flatMap { Decimal(string: $0, locale: Locale(identifier: "en_US_POSIX")) }
            if let problem = FactorEligibility.problem(adding: .dscPlus, balanceUSD: balance, settings: settings) {
                throw RPCError.failedPrecondition(problem, ruleID: "ENR-02")
            }
            guard var card = try CardRow.fetchOne(db, key: request.cardSerial) else {
                throw RPCError.notFound("no DSC+ card \(request.cardSerial) in the inventory")
            }
            guard card.assignedUser == nil else {
                throw RPCError(.alreadyExists, "DSC+ card \(request.cardSerial) is already assigned")
            }
            guard try FactorRow.filter(Column("user_name") == userName && Column("kind") == "dscPlus"
                                       && Column("state") == "active").fetchCount(db) == 0 else {
                throw RPCError(.alreadyExists, "\(userName) already has an active DSC+ card")
            }
            card.assignedUser = userName
            try card.update(db)
            var factor = FactorRow(id: nil, userName: userName, kind: EnrollmentCore.FactorKind.dscPlus.rawValue,
                                   state: EnrollmentCore.FactorState.active.rawValue, sinceMs: at.unixMs, deviceID: "",
                                   platform: "", devicePublicKey: [], pushToken: "", deviceAgreementKey: [],
                                   cardSerial: card.serial)
            try factor.insert(db)
            // The seed leaves this service only sealed to challenge verification's key.
            let seed = try vault.open(card.sealedSeed, label: card.serial)
            let sealed = try ServiceSeal.seal(seed, to: recipient, label: "card:\(card.serial)")
            try Outbox.append(FactorActivated(userName: userName, kind: .dscPlus, deviceID: card.serial,
                                              activatedUnixMs: at.unixMs, sealedCardSeed: Data(sealed),
                                              ocraSuite: card.suite), in: db, nowUnixMs: at.unixMs)
            return factor
        }
        outbox.notify()
        return Self.message(row)
    }

    /// ENR-10.
    func recommendation(_ request: RecommendationRequest) async throws -> Recommendation {
        let userName = try Self.requireUser(request.userName)
        return try await database.read { db in
            guard try UserRow.fetchOne(db, key: userName) != nil else { throw Self.unknownUser(userName) }
            let active = Set(try FactorRow.filter(Column("user_name") == userName && Column("state") == "active")
                .fetchAll(db).compactMap { EnrollmentCore.FactorKind(rawValue: $0.kind) })
            return Recommendation(showIbKeyBanner: FactorEligibility.recommendsIBKey(activeFactors: active))
        }
    }

    // MARK: - Account events (ACC-05)

    /// ENR-01: a new account's user gets the SMS factor at once.
    func apply(_ event: AccountOpened) async throws {
        let userName = try Self.requireUser(event.userName)
        guard !event.accountID.isEmpty else { throw RPCError.invalidArgument("account_id is empty") }
        let at = now()
        try await database.write { db in
            guard try UserRow.fetchOne(db, key: userName) == nil else { return }
            try UserRow(userName: userName, accountID: event.accountID, mobileNumber: "", mobileVerified: false,
                        balanceUSD: nil).insert(db)
            var sms = FactorRow(id: nil, userName: userName, kind: EnrollmentCore.FactorKind.sms.rawValue,
                                state: EnrollmentCore.FactorState.active.rawValue, sinceMs: at.unixMs, deviceID: "", platform: "",
                                devicePublicKey: [], pushToken: "", deviceAgreementKey: [])
            try sms.insert(db)
            try Outbox.append(FactorActivated(userName: userName, kind: .sms, activatedUnixMs: at.unixMs), in: db,
                              nowUnixMs: at.unixMs)
        }
        outbox.notify()
    }

    func apply(_ event: MobileNumberUpdated) async throws {
        try await database.write { db in
            guard var user = try UserRow.filter(Column("account_id") == event.accountID).fetchOne(db) else { return }
            user.mobileNumber = event.mobileNumber
            user.mobileVerified = event.verified
            try user.update(db)
        }
    }

    func apply(_ event: AccountBalanceUpdated) async throws {
        guard let equity = Decimal(string: event.totalEquity, locale: Locale(identifier: "en_US_POSIX")),
              equity.isFinite, event.totalEquity.utf8.count <= 40 else {
            throw RPCError.invalidArgument("total_equity must be a decimal amount such as 650000.00")
        }
        try await database.write { db in
            guard var user = try UserRow.filter(Column("account_id") == event.accountID).fetchOne(db) else { return }
            user.balanceUSD = "\(equity)"
            try user.update(db)
        }
    }

    // MARK: - Helpers

    /// ENR-11: the QR code of the activation link, as a PNG.
    static func qrPNG(_ link: String) throws -> [UInt8] {
        do {
            return try QRCode(link).png(scale: 6, margin: 4)
        } catch {
            throw RPCError(.internal, "the QR code could not be drawn: \(error)")
        }
    }

    static func requireUser(_ userName: String) throws -> String {
        guard !userName.isEmpty else { throw RPCError.invalidArgument("user_name is empty") }
        return userName
    }

    static func unknownUser(_ userName: String) -> RPCError {
        RPCError.notFound("no user '\(userName)': users arrive with AccountOpened events")
    }

    static func activeIBKeys(of userName: String, _ db: Database) throws -> [FactorRow] {
        try FactorRow.filter(Column("user_name") == userName && Column("kind") == EnrollmentCore.FactorKind.ibKey.rawValue
                             && Column("state") == EnrollmentCore.FactorState.active.rawValue).fetchAll(db)
    }

    static func message(_ row: FactorRow) -> Factor {
        let kind: SLSMessages.FactorKind = switch EnrollmentCore.FactorKind(rawValue: row.kind) {
        case .sms: .sms
        case .ibKey: .ibKey
        case .dscPlus: .dscPlus
        case nil: .unspecified
        }
        let platform: SLSMessages.DevicePlatform = switch EnrollmentCore.DevicePlatform(rawValue: row.platform) {
        case .android: .android
        case .ios: .ios
        case nil: .unspecified
        }
        return Factor(kind: kind, state: row.state == EnrollmentCore.FactorState.active.rawValue ? .active : .deactivated,
                      sinceUnixMs: row.sinceMs, deviceID: row.deviceID, platform: platform, cardSerial: row.cardSerial)
    }
}
