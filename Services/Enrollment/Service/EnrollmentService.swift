import Crypto
import EnrollmentCore
import Foundation
import GRDB
import Logging
import QRCode
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage

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

    public init(database: DatabasePool, outbox: OutboxRelay, settings: EnrollmentSettings, activationLinkBase: String,
                logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) {
        self.database = database
        self.outbox = outbox
        self.settings = settings
        self.activationLinkBase = activationLinkBase
        self.logger = logger
        self.now = now
    }

    /// The service's tables.
    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        EnrollmentStore.registerMigrations(&migrator)
    }

    /// Registers every method of `sls.enrollment.v1.Enrollment` except GetInfo (the host's).
    public func register(on server: RPCServer) {
        server.register(EnrollmentAPI.listFactors) { [self] request, _ in try await listFactors(request) }
        server.register(EnrollmentAPI.startActivation) { [self] request, _ in try await startActivation(request) }
        server.register(EnrollmentAPI.activate) { [self] request, _ in try await activate(request) }
        server.register(EnrollmentAPI.getRecommendation) { [self] request, _ in try await recommendation(request) }
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
    func startActivation(_ request: StartActivationRequest) async throws -> ActivationTicket {
        let userName = try Self.requireUser(request.userName)
        let code = ActivationCode.generate(length: settings.activationCodeLength)
        let issued = now()
        let expires = issued.addingTimeInterval(settings.activationLifetime)
        try await database.write { db in
            guard try UserRow.fetchOne(db, key: userName) != nil else { throw Self.unknownUser(userName) }
            if try Self.hasActiveIBKey(userName, db) {
                throw RPCError.failedPrecondition(ActivationRefusal.alreadyEnrolled.description, ruleID: "ENR-07")
            }
            try ActivationRow(digest: code.digest, userName: userName, issuedMs: issued.unixMs, consumedMs: nil).insert(db)
            try Outbox.append(ActivationStarted(userName: userName, expiresUnixMs: expires.unixMs), in: db,
                              nowUnixMs: issued.unixMs)
        }
        outbox.notify()
        let link = activationLinkBase + code.characters
        return ActivationTicket(activationString: code.grouped(by: settings.activationCodeGroup), qrLink: link,
                                expiresUnixMs: expires.unixMs, qrPng: Data(try Self.qrPNG(link)))
    }

    /// ENR-05 to ENR-07: the phone's activation. Any attempt with a known string uses it up.
    func activate(_ request: ActivateRequest) async throws -> ActivationResult {
        let code: ActivationCode
        do {
            code = try ActivationCode(typed: request.activationString, length: settings.activationCodeLength)
        } catch {
            throw RPCError.invalidArgument("activation_string: \(error)", ruleID: "ENR-04")
        }
        let platform: EnrollmentCore.DevicePlatform
        switch request.platform {
        case .android: platform = .android
        case .ios: platform = .ios
        default: throw RPCError.invalidArgument("platform must be ANDROID or IOS; got \(request.platform)")
        }
        guard !request.deviceID.isEmpty else { throw RPCError.invalidArgument("device_id is empty") }
        try Self.checkDeviceKey(request.devicePublicKey)
        let pin = request.pin.isEmpty ? nil : request.pin
        let at = now()
        let outcome: Result<String, ActivationRefusal> = try await database.write { [settings] db in
            // Looked up by digest: the typed string is never compared as text.
            guard var row = try ActivationRow.fetchOne(db, key: code.digest) else {
                throw RPCError(.notFound, "no such activation string: check what was typed, or log in to the "
                               + "Client Portal again for a fresh QR code", ruleID: "ENR-06")
            }
            let pending = PendingActivation(userName: row.userName, issuedAt: Date(unixMs: row.issuedMs),
                                            consumedAt: row.consumedMs.map(Date.init(unixMs:)))
            let refusal = ActivationRules.decide(pending, userHasIBKey: try Self.hasActiveIBKey(row.userName, db),
                                                 platform: platform, pin: pin, now: at, settings: settings)
            if row.consumedMs == nil {
                row.consumedMs = at.unixMs
                try row.update(db)
            }
            if let refusal {
                try Outbox.append(ActivationFailed(userName: row.userName, reason: refusal.reason, ruleID: refusal.ruleID,
                                                   failedUnixMs: at.unixMs), in: db, nowUnixMs: at.unixMs)
                return .failure(refusal)
            }
            var factor = FactorRow(id: nil, userName: row.userName, kind: EnrollmentCore.FactorKind.ibKey.rawValue,
                                   state: EnrollmentCore.FactorState.active.rawValue, sinceMs: at.unixMs, deviceID: request.deviceID,
                                   platform: platform.rawValue, devicePublicKey: Array(request.devicePublicKey),
                                   pushToken: request.pushToken)
            try factor.insert(db)
            try Outbox.append(FactorActivated(userName: row.userName, kind: .ibKey, deviceID: request.deviceID,
                                              platform: request.platform, devicePublicKey: request.devicePublicKey,
                                              pushToken: request.pushToken, activatedUnixMs: at.unixMs),
                              in: db, nowUnixMs: at.unixMs)
            return .success(row.userName)
        }
        outbox.notify()
        switch outcome {
        case .success(let userName):
            return ActivationResult(userName: userName, deviceID: request.deviceID, activatedUnixMs: at.unixMs)
        case .failure(let refusal):
            // After the commit: the string stays used up (ENR-06).
            throw RPCError.failedPrecondition(refusal.description, ruleID: refusal.ruleID)
        }
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
                                devicePublicKey: [], pushToken: "")
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

    static func hasActiveIBKey(_ userName: String, _ db: Database) throws -> Bool {
        try FactorRow.filter(Column("user_name") == userName && Column("kind") == EnrollmentCore.FactorKind.ibKey.rawValue
                             && Column("state") == EnrollmentCore.FactorState.active.rawValue).fetchCount(db) > 0
    }

    /// The phone's public key must be a P-256 point (uncompressed or compressed).
    static func checkDeviceKey(_ key: Data) throws {
        let parsed: Bool = switch key.count {
        case 65: (try? P256.Signing.PublicKey(x963Representation: key)) != nil
        case 33: (try? P256.Signing.PublicKey(compressedRepresentation: key)) != nil
        default: false
        }
        guard parsed else {
            throw RPCError.invalidArgument("device_public_key must be a P-256 public key (65 bytes uncompressed "
                                           + "or 33 compressed); got \(key.count) bytes that are not one")
        }
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
                      sinceUnixMs: row.sinceMs, deviceID: row.deviceID, platform: platform)
    }
}
