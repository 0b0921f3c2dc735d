import ChallengeVerificationCore
import Crypto
import Foundation
import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage

/// challenge-verification: passwords (ACC-01, ACC-02), IP restrictions (ACC-04, CHL-10), and login
/// by password then one factor (CHL-01, CHL-11) answered by OCRA challenge/response with IB Key
/// (CHL-03, CHL-08, CHL-09), every decision in a tamper-evident audit table.
public final class ChallengeVerificationService: Sendable {
    /// The settings of this service, with DOMAIN.md's defaults.
    public struct Settings: Sendable {
        public var hasher = PasswordHasher.owaspMinimum
        public var challenges = ChallengeSettings()
        public var lockout = LockoutPolicy()
        /// How long a login may wait for its factor after the password step.
        public var loginLifetime: TimeInterval = 300
        /// Password hashes computed at once (the cores).
        public var hashingWidth = 2
        public init() {}
    }

    let database: DatabasePool
    let outbox: OutboxRelay
    let settings: Settings
    /// This service's key-agreement key, raw (swift-crypto's key type is not `Sendable` here).
    let agreementKeyBytes: Data
    var agreementKey: P256.KeyAgreement.PrivateKey {
        get throws { try P256.KeyAgreement.PrivateKey(rawRepresentation: agreementKeyBytes) }
    }
    let logger: Logger
    let now: @Sendable () -> Date
    let pool: HashingPool
    /// Checked against when the user is unknown, so that the answer takes the same time.
    let dummyHash: String

    public init(database: DatabasePool, outbox: OutboxRelay, settings: Settings, agreementKey: P256.KeyAgreement.PrivateKey,
                logger: Logger, now: @escaping @Sendable () -> Date = { Date() }) throws {
        self.database = database
        self.outbox = outbox
        self.settings = settings
        agreementKeyBytes = agreementKey.rawRepresentation
        self.logger = logger
        self.now = now
        pool = HashingPool(width: settings.hashingWidth)
        dummyHash = try settings.hasher.hash("not a password \(UInt64.random(in: .min ... .max))")
    }

    public static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        ChallengeStore.registerMigrations(&migrator)
    }

    public func register(on server: RPCServer) {
        server.register(ChallengeVerificationAPI.setPassword) { [self] request, _ in try await setPassword(request) }
        server.register(ChallengeVerificationAPI.setIprestrictions) { [self] request, _ in try await setIPRestrictions(request) }
        server.register(ChallengeVerificationAPI.beginLogin) { [self] request, _ in try await beginLogin(request) }
        server.register(ChallengeVerificationAPI.chooseFactor) { [self] request, _ in try await chooseFactor(request) }
        server.register(ChallengeVerificationAPI.answerChallenge) { [self] request, _ in try await answer(request) }
        server.register(ChallengeVerificationAPI.getAgreementKey) { [self] _, _ in
            AgreementKey(publicKey: try agreementKey.publicKey.x963Representation)
        }
    }

    /// Users from the account service; phones from enrollment.
    public func routeEvents(_ router: EventRouter) {
        router.on(AccountOpened.self) { [self] event, _ in
            guard !event.userName.isEmpty else { throw RPCError.invalidArgument("user_name is empty") }
            try await database.write { db in
                guard try CVUserRow.fetchOne(db, key: event.userName) == nil else { return }
                try CVUserRow(userName: event.userName, passwordHash: nil, ipRestricted: false, ipAllowed: "").insert(db)
            }
        }
        router.on(FactorActivated.self) { [self] event, _ in
            guard event.kind == .ibKey, !event.deviceID.isEmpty else { return }
            try await database.write { db in
                try PhoneRow(userName: event.userName, deviceID: event.deviceID,
                             platform: event.platform == .android ? "android" : "ios",
                             agreementKey: Array(event.deviceAgreementKey), active: true,
                             sealedPINHash: Array(event.sealedPinHash.prefix(256))).save(db)
            }
        }
        router.on(FactorDeactivated.self) { [self] event, _ in
            try await database.write { db in
                guard var phone = try PhoneRow.fetchOne(db, key: ["user_name": event.userName, "device_id": event.deviceID])
                else { return }
                phone.active = false
                try phone.update(db)
            }
        }
    }

    // MARK: - Passwords (ACC-01, ACC-02)

    func setPassword(_ request: SetPasswordRequest) async throws -> SetPasswordReply {
        let userName = try require(request.userName, "user_name")
        if let problem = PasswordRules.problem(with: request.newPassword) {
            throw RPCError.invalidArgument("new_password: \(problem)", ruleID: "ACC-01")
        }
        guard let user = try await database.read({ db in try CVUserRow.fetchOne(db, key: userName) }) else {
            throw RPCError.notFound("no user '\(userName)': users arrive with AccountOpened events")
        }
        if let current = user.passwordHash {
            let hasher = settings.hasher, given = request.currentPassword
            guard try await pool.run({ hasher.verify(given, against: current) }) else {
                throw RPCError(.unauthenticated, "current_password is wrong", ruleID: "ACC-06")
            }
        }
        let hasher = settings.hasher, password = request.newPassword
        let encoded = try await pool.run { try hasher.hash(password) }
        let at = now()
        try await database.write { db in
            guard var row = try CVUserRow.fetchOne(db, key: userName) else { return }
            row.passwordHash = encoded
            try row.update(db)
        }
        return SetPasswordReply(changedUnixMs: at.unixMs)
    }

    func setIPRestrictions(_ request: SetIPRestrictionsRequest) async throws -> SetIPRestrictionsReply {
        let userName = try require(request.userName, "user_name")
        let list: IPAllowlist
        do {
            list = try IPAllowlist(request.allowed)
        } catch {
            throw RPCError.invalidArgument("allowed: \(error)", ruleID: "ACC-04")
        }
        guard !request.enabled || !list.ranges.isEmpty else {
            throw RPCError.invalidArgument("allowed: name at least one address to restrict logins to", ruleID: "ACC-04")
        }
        let written = try await database.write { db -> Bool in
            guard var row = try CVUserRow.fetchOne(db, key: userName) else { return false }
            row.ipRestricted = request.enabled
            row.ipAllowed = request.allowed.joined(separator: "\n")
            try row.update(db)
            return true
        }
        guard written else { throw RPCError.notFound("no user '\(userName)'") }
        return SetIPRestrictionsReply(enabled: request.enabled, allowed: list.ranges.map(\.description))
    }

    // MARK: - Login (CHL-01, CHL-10, CHL-11)

    func beginLogin(_ request: BeginLoginRequest) async throws -> LoginStarted {
        let userName = try require(request.userName, "user_name")
        let user = try await database.read { db in try CVUserRow.fetchOne(db, key: userName) }
        // An unknown user and a wrong password cost the same hash and get the same answer.
        let hasher = settings.hasher, password = request.password, stored = user?.passwordHash ?? dummyHash
        let matches = try await pool.run { hasher.verify(password, against: stored) }
        let at = now()
        guard let user, user.passwordHash != nil, matches else {
            try await audit(userName, at: at, address: request.clientAddress, factor: "password", outcome: "refused",
                            ruleID: "CHL-01")
            throw RPCError(.unauthenticated, "the user name or the password is wrong", ruleID: "CHL-01")
        }
        // CHL-10: before any factor is offered.
        if user.ipRestricted {
            let list = try? IPAllowlist(user.ipAllowed.split(separator: "\n").map(String.init))
            guard list?.allows(request.clientAddress) == true else {
                try await audit(userName, at: at, address: request.clientAddress, factor: "password", outcome: "refused",
                                ruleID: "ACC-04")
                throw RPCError.permissionDenied("logins to this user are restricted to designated addresses, and "
                                                + "this one is not among them", ruleID: "ACC-04")
            }
        }
        if settings.hasher.needsRehash(user.passwordHash!) {
            let rehashed = try await pool.run { try hasher.hash(password) }
            try await database.write { db in
                guard var row = try CVUserRow.fetchOne(db, key: userName) else { return }
                row.passwordHash = rehashed
                try row.update(db)
            }
        }
        let loginID = randomHexID() + randomHexID()
        let phones = try await database.write { db -> [PhoneRow] in
            try LoginRow(loginID: loginID, userName: userName, clientAddress: request.clientAddress, startedMs: at.unixMs,
                         deviceID: "", challenge: "", challengeIssuedMs: nil, verifiedMs: nil).insert(db)
            try Self.appendAudit(userName, at: at, address: request.clientAddress, factor: "password", outcome: "verified",
                                 ruleID: "", db)
            return try PhoneRow.filter(Column("user_name") == userName && Column("active") == true).fetchAll(db)
        }
        return LoginStarted(loginID: loginID, factors: phones.map { FactorChoice(factor: .ibKeyChallenge, deviceID: $0.deviceID) },
                            expiresUnixMs: at.addingTimeInterval(settings.loginLifetime).unixMs)
    }

    /// CHL-11: only the chosen factor is used. Built: IB Key challenge/response (CHL-03).
    func chooseFactor(_ request: ChooseFactorRequest) async throws -> ChallengeIssued {
        guard request.factor == .ibKeyChallenge else {
            throw RPCError(.unimplemented, "\(request.factor) is not built yet; choose IB_KEY_CHALLENGE")
        }
        let at = now()
        let challenge = ChallengeRules.numericCode(digits: 6)
        try await database.write { [settings] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), login.verifiedMs == nil,
                  at.timeIntervalSince(Date(unixMs: login.startedMs)) < settings.loginLifetime else {
                throw RPCError(.notFound, "no login \(request.loginID.prefix(64)) waiting for a factor: start again",
                               ruleID: "CHL-08")
            }
            guard try PhoneRow.fetchOne(db, key: ["user_name": login.userName, "device_id": request.deviceID])?.active == true else {
                throw RPCError.failedPrecondition("IB Key is not active on that phone for this user", ruleID: "CHL-11")
            }
            let counter = try Self.counter(login.userName, "ibKey", db)
            if counter.isLocked(at: at) {
                throw RPCError.failedPrecondition("IB Key is locked after too many wrong responses; try again later",
                                                  ruleID: "CHL-09")
            }
            login.deviceID = request.deviceID
            login.challenge = challenge
            login.challengeIssuedMs = at.unixMs
            try login.update(db)
        }
        return ChallengeIssued(loginID: request.loginID, challenge: challenge,
                               expiresUnixMs: at.addingTimeInterval(settings.challenges.challengeLifetime).unixMs)
    }

    /// CHL-03, CHL-08, CHL-09: the response, checked once, in constant time, with the lockout.
    func answer(_ request: AnswerChallengeRequest) async throws -> LoginVerified {
        guard request.response.utf8.count == 8, request.response.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw RPCError.invalidArgument("response is the 8 digits the phone shows", ruleID: "CHL-03")
        }
        let at = now()
        let outcome: Result<String, RPCError> = try await database.write { [self] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), let issued = login.challengeIssuedMs else {
                throw RPCError(.notFound, "no challenge for login \(request.loginID.prefix(64))", ruleID: "CHL-08")
            }
            var pending = PendingChallenge(loginID: login.loginID, kind: .challengeResponse, issuedAt: Date(unixMs: issued))
            pending.answeredAt = login.verifiedMs.map(Date.init(unixMs:))
            if let refusal = ChallengeRules.refusal(pending, loginID: request.loginID, now: at, settings: settings.challenges) {
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "ibKey",
                                     outcome: refusal == .expired ? "expired" : "refused", ruleID: refusal.ruleID, db)
                return .failure(RPCError.failedPrecondition(refusal.description, ruleID: refusal.ruleID))
            }
            var counter = try Self.counter(login.userName, "ibKey", db)
            guard !counter.isLocked(at: at) else {
                return .failure(RPCError.failedPrecondition("IB Key is locked after too many wrong responses",
                                                            ruleID: "CHL-09"))
            }
            guard let phone = try PhoneRow.fetchOne(db, key: ["user_name": login.userName, "device_id": login.deviceID]),
                  phone.active else {
                return .failure(RPCError.failedPrecondition("IB Key is no longer active on that phone", ruleID: "CHL-11"))
            }
            let privateKey = try agreementKey
            let key = try OCRAKeyAgreement.key(privateKey: privateKey, peerPublicKey: Data(phone.agreementKey),
                                               deviceID: phone.deviceID)
            // CHL-03 Decided: Android's suite carries the PIN's hash (P), which the phone sealed for us.
            let android = phone.platform == "android"
            var input = OCRAInput(question: login.challenge)
            if android {
                guard !phone.sealedPINHash.isEmpty else {
                    return .failure(RPCError.failedPrecondition(
                        "this Android phone was activated without its sealed PIN hash: activate IB Key again", ruleID: "CHL-03"))
                }
                input.pinHash = try OCRAKeyAgreement.openPINHash(phone.sealedPINHash, privateKey: privateKey,
                                                                 peerPublicKey: Data(phone.agreementKey),
                                                                 deviceID: phone.deviceID)
            }
            let suite = try OCRASuite(OCRAKeyAgreement.suite(android: android))
            let right = try OCRA.verify(request.response, suite: suite, key: key, input: input)
            if right {
                counter.recordSuccess()
                login.verifiedMs = at.unixMs
                try login.update(db)
                try Self.save(counter, login.userName, "ibKey", db)
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "ibKey",
                                     outcome: "verified", ruleID: "", db)
                try Outbox.append(LoginDecided(userName: login.userName, clientAddress: login.clientAddress,
                                               factor: .ibKeyChallenge, outcome: "verified", decidedUnixMs: at.unixMs),
                                  in: db, nowUnixMs: at.unixMs)
                return .success(login.userName)
            }
            let locked = counter.recordFailure(at: at, policy: settings.lockout)
            try Self.save(counter, login.userName, "ibKey", db)
            try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "ibKey",
                                 outcome: locked ? "locked" : "refused", ruleID: "CHL-09", db)
            if locked {
                try Outbox.append(FactorLocked(userName: login.userName, factor: .ibKeyChallenge,
                                               lockedUntilUnixMs: (counter.lockedUntil ?? at).unixMs,
                                               permanent: counter.lockedForGood), in: db, nowUnixMs: at.unixMs)
            }
            return .failure(RPCError(.unauthenticated, locked ? "wrong response: IB Key is now locked for a while"
                                                              : "wrong response", ruleID: locked ? "CHL-09" : "CHL-03"))
        }
        outbox.notify()
        switch outcome {
        case .success(let userName): return LoginVerified(userName: userName, factor: .ibKeyChallenge, verifiedUnixMs: at.unixMs)
        case .failure(let error): throw error
        }
    }

    // MARK: - Helpers

    private func require(_ value: String, _ field: String) throws -> String {
        guard !value.isEmpty else { throw RPCError.invalidArgument("\(field) is empty") }
        return value
    }

    static func counter(_ user: String, _ factor: String, _ db: Database) throws -> FailureCounter {
        guard let row = try FailureCounterRow.fetchOne(db, key: ["user_name": user, "factor": factor]) else {
            return FailureCounter()
        }
        return (try? JSONDecoder().decode(FailureCounter.self, from: Data(row.counter.utf8))) ?? FailureCounter()
    }

    static func save(_ counter: FailureCounter, _ user: String, _ factor: String, _ db: Database) throws {
        let json = String(decoding: try JSONEncoder().encode(counter), as: UTF8.self)
        try FailureCounterRow(userName: user, factor: factor, counter: json).save(db)
    }

    private func audit(_ user: String, at: Date, address: String, factor: String, outcome: String, ruleID: String) async throws {
        try await database.write { db in
            try Self.appendAudit(user, at: at, address: address, factor: factor, outcome: outcome, ruleID: ruleID, db)
        }
    }

    /// Appends a decision, chained to the previous row by its hash.
    static func appendAudit(_ user: String, at: Date, address: String, factor: String, outcome: String, ruleID: String,
                            _ db: Database) throws {
        let previous = try AuditRow.order(Column("id").desc).fetchOne(db)?.hash ?? AuditChain.genesis
        let record = AuditRecord(userName: user, atUnixMs: at.unixMs, address: String(address.prefix(64)), factor: factor,
                                 outcome: outcome, ruleID: ruleID)
        var row = AuditRow(id: nil, userName: record.userName, atMs: record.atUnixMs, address: record.address,
                           factor: factor, outcome: outcome, ruleID: ruleID, hash: AuditChain.hash(record, after: previous))
        try row.insert(db)
    }

    /// The audit rows, oldest first, with whether the chain holds.
    func auditChainBreak() throws -> Int? {
        try database.read { db in
            try AuditChain.firstBreak(AuditRow.order(Column("id")).fetchAll(db).map { row in
                (AuditRecord(userName: row.userName, atUnixMs: row.atMs, address: row.address, factor: row.factor,
                             outcome: row.outcome, ruleID: row.ruleID), row.hash)
            })
        }
    }
}
