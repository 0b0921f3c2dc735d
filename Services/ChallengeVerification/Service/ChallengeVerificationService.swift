import ChallengeVerificationCore
import PasswordHashing
import Crypto
import DeviceSignatures
import Foundation
import GRDB
import Logging
import NetworkAddresses
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
        /// CHL-06: codes sent for one login at most (the first and its resends).
        public var maxSendsPerLogin = 3
        /// CHL-06: codes sent to one user per hour at most.
        public var maxSendsPerUserPerHour = 10
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
    let pool: BlockingWorkPool
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
        pool = BlockingWorkPool(width: settings.hashingWidth, jobs: "password checks")
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
        server.register(ChallengeVerificationAPI.sendPush) { [self] request, _ in try await sendPush(request) }
        server.register(ChallengeVerificationAPI.pollPush) { [self] request, _ in try await pollPush(request) }
        server.register(ChallengeVerificationAPI.answerPush) { [self] request, _ in try await answerPush(request) }
        server.register(ChallengeVerificationAPI.getLoginStatus) { [self] request, _ in try await loginStatus(request) }
        server.register(ChallengeVerificationAPI.startPasswordReset) { [self] request, _ in try await startPasswordReset(request) }
        server.register(ChallengeVerificationAPI.completePasswordReset) { [self] request, _ in
            try await completePasswordReset(request)
        }
        server.register(ChallengeVerificationAPI.listAudit) { [self] request, _ in try await listAudit(request) }
        server.register(ChallengeVerificationAPI.refreshPush) { [self] request, _ in try await refreshPush(request) }
        server.register(ChallengeVerificationAPI.getAgreementKey) { [self] _, _ in
            AgreementKey(publicKey: try agreementKey.publicKey.x963Representation)
        }
    }

    /// Users from the account service; phones from enrollment.
    public func routeEvents(_ router: EventRouter) {
        router.on(AccountOpened.self) { [self] event, _ in
            guard !event.userName.isEmpty else { throw RPCError.invalidArgument("user_name is empty") }
            // The account id is how MobileNumberUpdated finds the user: an empty one would match others.
            guard !event.accountID.isEmpty else { throw RPCError.invalidArgument("account_id is empty") }
            try await database.write { db in
                guard try CVUserRow.fetchOne(db, key: event.userName) == nil else { return }
                try CVUserRow(userName: event.userName, passwordHash: nil, ipRestricted: false, ipAllowed: "",
                              accountID: event.accountID).insert(db)
            }
        }
        // ACC-03: codes go only to a verified number.
        router.on(MobileNumberUpdated.self) { [self] event, _ in
            guard !event.accountID.isEmpty else { throw RPCError.invalidArgument("account_id is empty") }
            try await database.write { db in
                guard var user = try CVUserRow.filter(Column("account_id") == event.accountID).fetchOne(db) else { return }
                user.mobileNumber = event.mobileNumber
                user.mobileVerified = event.verified
                try user.update(db)
            }
        }
        router.on(FactorActivated.self) { [self] event, _ in
            if event.kind == .dscPlus, !event.deviceID.isEmpty {
                // Checked as it arrives, not when a user answers: a suite that does not parse (or a
                // seed of an impossible size) is refused here, never stored.
                do {
                    _ = try OCRASuite(event.ocraSuite)
                } catch {
                    throw RPCError.invalidArgument("ocra_suite: \(error)")
                }
                guard (1...4096).contains(event.sealedCardSeed.count) else {
                    throw RPCError.invalidArgument("sealed_card_seed is \(event.sealedCardSeed.count) bytes; 1 to 4096 expected")
                }
                try await database.write { db in
                    try CardRow(userName: event.userName, serial: event.deviceID, sealedSeed: Array(event.sealedCardSeed),
                                suite: event.ocraSuite, active: true).save(db)
                }
                return
            }
            guard event.kind == .ibKey, !event.deviceID.isEmpty else { return }
            // Refused when out of shape rather than cut to size (a cut key is garbage that looks stored).
            guard event.devicePublicKey.count <= 65, event.sealedPinHash.count <= 256 else {
                throw RPCError.invalidArgument("device_public_key is at most 65 bytes and sealed_pin_hash at most 256")
            }
            try await database.write { db in
                try PhoneRow(userName: event.userName, deviceID: event.deviceID,
                             platform: event.platform == .android ? "android" : "ios",
                             agreementKey: Array(event.deviceAgreementKey), active: true,
                             sealedPINHash: Array(event.sealedPinHash),
                             signingKey: Array(event.devicePublicKey), pushToken: event.pushToken).save(db)
            }
        }
        router.on(FactorDeactivated.self) { [self] event, _ in
            try await database.write { db in
                if event.kind == .dscPlus {
                    try db.execute(sql: "UPDATE card SET active = 0 WHERE user_name = ? AND serial = ?",
                                   arguments: [event.userName, event.deviceID])
                    return
                }
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
        // An IP address in text is at most 45 characters; the field is stored with every login.
        guard request.clientAddress.utf8.count <= 64 else {
            throw RPCError.invalidArgument("client_address is an IP address, at most 64 bytes; got \(request.clientAddress.utf8.count)")
        }
        switch request.purpose {
        case .login, .stepUp, .secondDevice: break
        case .unrecognized(let number): throw RPCError.invalidArgument("purpose \(number) is not a LoginPurpose")
        }
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
        let cards = try await database.read { db in
            try CardRow.filter(Column("user_name") == userName && Column("active") == true).fetchAll(db)
        }
        let cardChoices = cards.map { FactorChoice(factor: .dscPlusCard, deviceID: $0.serial) }
        let phones = try await database.write { db -> [PhoneRow] in
            try LoginRow(loginID: loginID, userName: userName, clientAddress: request.clientAddress, startedMs: at.unixMs,
                         deviceID: "", challenge: "", challengeIssuedMs: nil, verifiedMs: nil,
                         purpose: Int(request.purpose.protoNumber)).insert(db)
            try Self.appendAudit(userName, at: at, address: request.clientAddress, factor: "password", outcome: "verified",
                                 ruleID: "", db)
            return try PhoneRow.filter(Column("user_name") == userName && Column("active") == true).fetchAll(db)
        }
        // CHL-07, CHL-12: step-up and a second device are verified by challenge/response alone.
        if request.purpose != .login {
            return LoginStarted(loginID: loginID,
                                factors: phones.map { FactorChoice(factor: .ibKeyChallenge, deviceID: $0.deviceID) } + cardChoices,
                                expiresUnixMs: at.addingTimeInterval(settings.loginLifetime).unixMs)
        }
        // IB Key first (preferred), then SMS and voice when the number is verified (ACC-03, CHL-13).
        // A phone with a push registration offers push first (CHL-02), challenge/response always (CHL-03, CHL-04).
        var factors = phones.flatMap { phone in
            (phone.pushToken.isEmpty ? [] : [FactorChoice(factor: .ibKeyPush, deviceID: phone.deviceID)])
                + (phone.agreementKey.isEmpty ? [] : [FactorChoice(factor: .ibKeyChallenge, deviceID: phone.deviceID)])
        }
        factors += cardChoices
        if user.mobileVerified && !user.mobileNumber.isEmpty {
            factors += [FactorChoice(factor: .smsCode), FactorChoice(factor: .voiceCode)]
        }
        return LoginStarted(loginID: loginID, factors: factors,
                            expiresUnixMs: at.addingTimeInterval(settings.loginLifetime).unixMs)
    }

    /// CHL-11: only the chosen factor is used. Built: IB Key challenge/response (CHL-03).
    func chooseFactor(_ request: ChooseFactorRequest) async throws -> ChallengeIssued {
        let purpose = try await database.read { db in try LoginRow.fetchOne(db, key: request.loginID)?.purpose } ?? 0
        if purpose != 0 && request.factor != .ibKeyChallenge && request.factor != .dscPlusCard {
            throw RPCError.failedPrecondition("step-up and second-device verifications use challenge/response",
                                              ruleID: "CHL-07")
        }
        if request.factor == .smsCode || request.factor == .voiceCode { return try await sendCode(request) }
        if request.factor == .ibKeyPush {
            throw RPCError.invalidArgument("push is asked for with SendPush; ChooseFactor gives a challenge", ruleID: "CHL-02")
        }
        guard request.factor == .ibKeyChallenge || request.factor == .dscPlusCard else {
            throw RPCError.invalidArgument("\(request.factor) is not a factor to choose here; choose IB_KEY_CHALLENGE, "
                                           + "DSC_PLUS_CARD, SMS_CODE or VOICE_CODE (IB_KEY_PUSH: SendPush)")
        }
        let card = request.factor == .dscPlusCard
        let at = now()
        let challenge = ChallengeRules.numericCode(digits: 6)
        try await database.write { [settings] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), login.verifiedMs == nil, login.refusedMs == nil,
                  at.timeIntervalSince(Date(unixMs: login.startedMs)) < settings.loginLifetime else {
                throw RPCError(.notFound, "no login \(request.loginID.prefix(64)) waiting for a factor: start again",
                               ruleID: "CHL-08")
            }
            if card {
                guard try CardRow.fetchOne(db, key: ["user_name": login.userName, "serial": request.deviceID])?.active == true else {
                    throw RPCError.failedPrecondition("no active DSC+ card \(request.deviceID.prefix(64)) for this user",
                                                      ruleID: "CHL-11")
                }
            } else {
                guard try PhoneRow.fetchOne(db, key: ["user_name": login.userName, "device_id": request.deviceID])?.active == true else {
                    throw RPCError.failedPrecondition("IB Key is not active on that phone for this user", ruleID: "CHL-11")
                }
            }
            let counter = try Self.counter(login.userName, card ? "dscPlus" : "ibKey", db)
            if counter.isLocked(at: at) {
                throw RPCError.failedPrecondition("this factor is locked after too many wrong responses; try again later",
                                                  ruleID: "CHL-09")
            }
            login.deviceID = request.deviceID
            login.challenge = challenge
            login.challengeIssuedMs = at.unixMs
            login.factor = card ? "dscPlus" : "ibKey"
            login.codeHash = []
            try login.update(db)
        }
        return ChallengeIssued(loginID: request.loginID, challenge: challenge,
                               expiresUnixMs: at.addingTimeInterval(settings.challenges.challengeLifetime).unixMs)
    }

    /// CHL-03, CHL-08, CHL-09: the response, checked once, in constant time, with the lockout.
    func answer(_ request: AnswerChallengeRequest) async throws -> LoginVerified {
        guard [6, 8].contains(request.response.utf8.count), request.response.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw RPCError.invalidArgument("response is the 8 digits the phone or card shows, or the 6-digit code",
                                           ruleID: "CHL-03")
        }
        let factor = try await database.read { db in try LoginRow.fetchOne(db, key: request.loginID)?.factor }
        if factor == "sms" || factor == "voice" { return try await answerCode(request) }
        let at = now()
        let outcome: Result<(String, Int, LoginFactor), RPCError> = try await database.write { [self] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), let issued = login.challengeIssuedMs else {
                throw RPCError(.notFound, "no challenge for login \(request.loginID.prefix(64))", ruleID: "CHL-08")
            }
            var pending = PendingChallenge(loginID: login.loginID, kind: .challengeResponse, issuedAt: Date(unixMs: issued))
            pending.answeredAt = (login.verifiedMs ?? login.refusedMs).map(Date.init(unixMs:))
            if let refusal = ChallengeRules.refusal(pending, loginID: request.loginID, now: at, settings: settings.challenges) {
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "ibKey",
                                     outcome: refusal == .expired ? "expired" : "refused", ruleID: refusal.ruleID, db)
                return .failure(RPCError.failedPrecondition(refusal.description, ruleID: refusal.ruleID))
            }
            let factorName = login.factor == "dscPlus" ? "dscPlus" : "ibKey"
            var counter = try Self.counter(login.userName, factorName, db)
            guard !counter.isLocked(at: at) else {
                return .failure(RPCError.failedPrecondition("this factor is locked after too many wrong responses",
                                                            ruleID: "CHL-09"))
            }
            let right: Bool
            switch try checkResponse(request.response, login: login, db) {
            case .success(let matches): right = matches
            case .failure(let error): return .failure(error)
            }
            if right {
                counter.recordSuccess()
                login.verifiedMs = at.unixMs
                try login.update(db)
                try Self.save(counter, login.userName, factorName, db)
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: factorName,
                                     outcome: "verified", ruleID: "", db)
                try Outbox.append(LoginDecided(userName: login.userName, clientAddress: login.clientAddress,
                                               factor: factorName == "dscPlus" ? .dscPlusCard : .ibKeyChallenge, outcome: "verified", decidedUnixMs: at.unixMs,
                                               purpose: LoginPurpose(protoNumber: Int32(login.purpose))),
                                  in: db, nowUnixMs: at.unixMs)
                return .success((login.userName, login.purpose, factorName == "dscPlus" ? .dscPlusCard : .ibKeyChallenge))
            }
            let locked = counter.recordFailure(at: at, policy: settings.lockout)
            try Self.save(counter, login.userName, factorName, db)
            try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: factorName,
                                 outcome: locked ? "locked" : "refused", ruleID: "CHL-09", db)
            if locked {
                try Outbox.append(FactorLocked(userName: login.userName,
                                               factor: factorName == "dscPlus" ? .dscPlusCard : .ibKeyChallenge,
                                               lockedUntilUnixMs: (counter.lockedUntil ?? at).unixMs,
                                               permanent: counter.lockedForGood), in: db, nowUnixMs: at.unixMs)
            }
            return .failure(RPCError(.unauthenticated, locked ? "wrong response: IB Key is now locked for a while"
                                                              : "wrong response", ruleID: locked ? "CHL-09" : "CHL-03"))
        }
        outbox.notify()
        switch outcome {
        case .success(let (userName, purpose, factor)):
            return LoginVerified(userName: userName, factor: factor, verifiedUnixMs: at.unixMs,
                                 purpose: LoginPurpose(protoNumber: Int32(purpose)))
        case .failure(let error): throw error
        }
    }

    /// Whether `response` answers the login's challenge: with the phone's agreed OCRA key (and, on
    /// Android, its sealed PIN hash; CHL-03) or with the DSC+ card's sealed seed and suite (CHL-05).
    func checkResponse(_ response: String, login: LoginRow, _ db: Database) throws -> Result<Bool, RPCError> {
        let privateKey = try agreementKey
        if login.factor == "dscPlus" {
            guard let card = try CardRow.fetchOne(db, key: ["user_name": login.userName, "serial": login.deviceID]),
                  card.active else {
                return .failure(RPCError.failedPrecondition("the DSC+ card is no longer active", ruleID: "CHL-11"))
            }
            guard let seed = ServiceSeal.open(card.sealedSeed, with: privateKey, label: "card:\(card.serial)") else {
                return .failure(RPCError(.internal, "the card's seed does not open with this service's key"))
            }
            return .success(try OCRA.verify(response, suite: OCRASuite(card.suite), key: seed,
                                            input: OCRAInput(question: login.challenge)))
        }
        guard let phone = try PhoneRow.fetchOne(db, key: ["user_name": login.userName, "device_id": login.deviceID]),
              phone.active else {
            return .failure(RPCError.failedPrecondition("IB Key is no longer active on that phone", ruleID: "CHL-11"))
        }
        guard !phone.agreementKey.isEmpty else {
            return .failure(RPCError.failedPrecondition("this phone was activated without a key-agreement key: it "
                                                        + "cannot answer challenges; activate IB Key again", ruleID: "CHL-03"))
        }
        let key = try OCRAKeyAgreement.key(privateKey: privateKey, peerPublicKey: Data(phone.agreementKey), deviceID: phone.deviceID)
        // CHL-03 Decided: Android's suite carries the PIN's hash (P), which the phone sealed for us.
        let android = phone.platform == "android"
        var input = OCRAInput(question: login.challenge)
        if android {
            guard !phone.sealedPINHash.isEmpty else {
                return .failure(RPCError.failedPrecondition(
                    "this Android phone was activated without its sealed PIN hash: activate IB Key again", ruleID: "CHL-03"))
            }
            input.pinHash = try OCRAKeyAgreement.openPINHash(phone.sealedPINHash, privateKey: privateKey,
                                                             peerPublicKey: Data(phone.agreementKey), deviceID: phone.deviceID)
        }
        return .success(try OCRA.verify(response, suite: OCRASuite(OCRAKeyAgreement.suite(android: android)), key: key,
                                        input: input))
    }

    // MARK: - SMS and voice codes (CHL-06, CHL-13)

    /// Sends a fresh code (the previous one of this login stops working), within the resend limits.
    func sendCode(_ request: ChooseFactorRequest) async throws -> ChallengeIssued {
        let voice = request.factor == .voiceCode
        let at = now()
        let code = ChallengeRules.numericCode(digits: 6)
        let expires = at.addingTimeInterval(settings.challenges.codeLifetime)
        let sentTo = try await database.write { [settings] db -> String in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), login.verifiedMs == nil, login.refusedMs == nil,
                  at.timeIntervalSince(Date(unixMs: login.startedMs)) < settings.loginLifetime else {
                throw RPCError(.notFound, "no login \(request.loginID.prefix(64)) waiting for a factor: start again",
                               ruleID: "CHL-08")
            }
            guard let user = try CVUserRow.fetchOne(db, key: login.userName), user.mobileVerified,
                  !user.mobileNumber.isEmpty else {
                throw RPCError.failedPrecondition("codes go only to a verified mobile number, and this user has none",
                                                  ruleID: "ACC-03")
            }
            if try Self.counter(login.userName, "sms", db).isLocked(at: at) {
                throw RPCError.failedPrecondition("codes are locked after too many wrong ones; try again later",
                                                  ruleID: "CHL-09")
            }
            guard login.sends < settings.maxSendsPerLogin else {
                throw RPCError(.resourceExhausted, "at most \(settings.maxSendsPerLogin) codes for one login: start "
                               + "the login again", ruleID: "CHL-06")
            }
            let hourAgo = at.addingTimeInterval(-3600).unixMs
            let recent = try CodeSendRow.filter(Column("user_name") == login.userName && Column("sent_ms") > hourAgo)
                .fetchCount(db)
            guard recent < settings.maxSendsPerUserPerHour else {
                throw RPCError(.resourceExhausted, "at most \(settings.maxSendsPerUserPerHour) codes an hour for one "
                               + "user: try again later", ruleID: "CHL-06")
            }
            login.factor = voice ? "voice" : "sms"
            login.codeHash = Self.codeHash(loginID: login.loginID, code: code)
            login.challengeIssuedMs = at.unixMs
            login.challenge = ""
            login.sends += 1
            try login.update(db)
            try CodeSendRow(userName: login.userName, sentMs: at.unixMs).insert(db)
            try Outbox.append(SmsCodeRequested(loginID: login.loginID, userName: login.userName,
                                               mobileNumber: user.mobileNumber, code: code, voice: voice,
                                               expiresUnixMs: expires.unixMs), in: db, nowUnixMs: at.unixMs)
            return Self.masked(user.mobileNumber)
        }
        outbox.notify()
        return ChallengeIssued(loginID: request.loginID, expiresUnixMs: expires.unixMs, sentTo: sentTo)
    }

    /// The code of an SMS or voice login: once, within 5 minutes, in constant time, with the lockout.
    func answerCode(_ request: AnswerChallengeRequest) async throws -> LoginVerified {
        let at = now()
        let outcome: Result<(String, LoginFactor), RPCError> = try await database.write { [settings] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), let issued = login.challengeIssuedMs else {
                throw RPCError(.notFound, "no code for login \(request.loginID.prefix(64))", ruleID: "CHL-08")
            }
            let factor: LoginFactor = login.factor == "voice" ? .voiceCode : .smsCode
            var pending = PendingChallenge(loginID: login.loginID, kind: login.factor == "voice" ? .voice : .sms,
                                           issuedAt: Date(unixMs: issued))
            // A login ended by a "not me" or a password reset takes no code either.
            pending.answeredAt = (login.verifiedMs ?? login.refusedMs).map(Date.init(unixMs:))
            if let refusal = ChallengeRules.refusal(pending, loginID: request.loginID, now: at, settings: settings.challenges) {
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: login.factor,
                                     outcome: refusal == .expired ? "expired" : "refused", ruleID: refusal.ruleID, db)
                return .failure(RPCError.failedPrecondition(refusal.description, ruleID: refusal.ruleID))
            }
            var counter = try Self.counter(login.userName, "sms", db)
            guard !counter.isLocked(at: at) else {
                return .failure(RPCError.failedPrecondition("codes are locked after too many wrong ones", ruleID: "CHL-09"))
            }
            if Self.codeMatches(request.response, loginID: login.loginID, stored: login.codeHash) {
                counter.recordSuccess()
                login.verifiedMs = at.unixMs
                try login.update(db)
                try Self.save(counter, login.userName, "sms", db)
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: login.factor,
                                     outcome: "verified", ruleID: "", db)
                try Outbox.append(LoginDecided(userName: login.userName, clientAddress: login.clientAddress, factor: factor,
                                               outcome: "verified", decidedUnixMs: at.unixMs), in: db, nowUnixMs: at.unixMs)
                return .success((login.userName, factor))
            }
            let locked = counter.recordFailure(at: at, policy: settings.lockout)
            try Self.save(counter, login.userName, "sms", db)
            try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: login.factor,
                                 outcome: locked ? "locked" : "refused", ruleID: "CHL-09", db)
            if locked {
                try Outbox.append(FactorLocked(userName: login.userName, factor: factor,
                                               lockedUntilUnixMs: (counter.lockedUntil ?? at).unixMs,
                                               permanent: counter.lockedForGood), in: db, nowUnixMs: at.unixMs)
            }
            return .failure(RPCError(.unauthenticated, locked ? "wrong code: codes are now locked for a while" : "wrong code",
                                     ruleID: locked ? "CHL-09" : "CHL-06"))
        }
        outbox.notify()
        switch outcome {
        case .success(let (userName, factor)): return LoginVerified(userName: userName, factor: factor, verifiedUnixMs: at.unixMs)
        case .failure(let error): throw error
        }
    }

    /// Whether `code` is the one whose hash is `stored`, compared in constant time (CHL-09).
    static func codeMatches(_ code: String, loginID: String, stored: [UInt8]) -> Bool {
        ConstantTime.equal(codeHash(loginID: loginID, code: code), stored)
    }

    static func codeHash(loginID: String, code: String) -> [UInt8] {
        Array(SHA256.hash(data: Data("\(loginID):\(code)".utf8)))
    }

    /// "+852 ****4567": enough for the user to recognise the number, not to read it.
    static func masked(_ number: String) -> String {
        guard number.count > 4 else { return "****" }
        return String(repeating: "*", count: min(8, number.count - 4)) + number.suffix(4)
    }

    // MARK: - Housekeeping

    /// Deletes what no rule needs any more, so hostile traffic cannot grow the database for good:
    /// logins an hour past their lifetime, code sends older than the hourly limit's hour, resets
    /// older than a day. Audit rows and lockout counts are kept. Returns the rows deleted.
    @discardableResult
    public func purgeExpired() async throws -> Int {
        let now = now().unixMs
        let loginCutoff = now - Int64((settings.loginLifetime + 3600) * 1000)
        return try await database.write { db in
            try db.execute(sql: "DELETE FROM login WHERE started_ms < ?", arguments: [loginCutoff])
            var deleted = db.changesCount
            try db.execute(sql: "DELETE FROM code_send WHERE sent_ms < ?", arguments: [now - 3_600_000])
            deleted += db.changesCount
            try db.execute(sql: "DELETE FROM password_reset WHERE issued_ms < ?", arguments: [now - 86_400_000])
            return deleted + db.changesCount
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

    /// One user's decisions, newest first, and whether the chain still holds.
    func listAudit(_ request: ListAuditRequest) async throws -> AuditList {
        let userName = try require(request.userName, "user_name")
        let limit = request.limit == 0 ? 1000 : min(Int(request.limit), 1000)
        let rows = try await database.read { db in
            try AuditRow.filter(Column("user_name") == userName).order(Column("id").desc).limit(limit).fetchAll(db)
        }
        return AuditList(userName: userName, entries: rows.map {
            AuditEntry(atUnixMs: $0.atMs, clientAddress: $0.address, factor: $0.factor, outcome: $0.outcome, ruleID: $0.ruleID)
        }, chainIntact: try await auditChainIntact())
    }

    /// Whether the whole chain holds, read off the socket thread (linear in the table).
    func auditChainIntact() async throws -> Bool {
        try await database.read { db in try Self.firstAuditBreak(db) == nil }
    }

    /// The index of the first audit row, oldest first, whose hash does not follow; nil when the chain holds.
    func auditChainBreak() throws -> Int? {
        try database.read { db in try Self.firstAuditBreak(db) }
    }

    /// Streams the table through the verifier: the log grows with every refused login (a
    /// stranger can add rows), so it is never loaded whole.
    static func firstAuditBreak(_ db: Database) throws -> Int? {
        var verifier = AuditChain.Verifier()
        let rows = try AuditRow.order(Column("id")).fetchCursor(db)
        while let row = try rows.next() {
            let record = AuditRecord(userName: row.userName, atUnixMs: row.atMs, address: row.address, factor: row.factor,
                                     outcome: row.outcome, ruleID: row.ruleID)
            guard verifier.accept(record, hash: row.hash) else { return verifier.checked }
        }
        return nil
    }
}
