import ChallengeVerificationCore
import PasswordHashing
@testable import ChallengeVerificationService
import Crypto
import DeviceSignatures
import Foundation
import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import SLSTesting
import Testing

/// The service on a real SQLite file with a cheap hash and a hand-moved clock; a phone with its own
/// key-agreement key, as sls-device keeps it.
final class LoginHarness: @unchecked Sendable {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let storage: TemporaryDatabase
    let service: ChallengeVerificationService
    let serverKey = P256.KeyAgreement.PrivateKey()
    let phoneKey = P256.KeyAgreement.PrivateKey()

    init(passes: Int = 1) throws {
        storage = try TemporaryDatabase(name: "challenge", migrations: ChallengeVerificationService.registerMigrations)
        var settings = ChallengeVerificationService.Settings()
        settings.hasher = PasswordHasher(passes: passes, memoryBytes: 64 << 10)
        let logger = Logger(label: "challenge-test")
        service = try ChallengeVerificationService(
            database: storage.pool, outbox: OutboxRelay(database: storage.pool, publisher: RecordingPublisher(), logger: logger),
            settings: settings, agreementKey: serverKey, logger: logger, now: { [clock] in clock.now })
    }

    func route<M: ProtoMessage>(_ message: M) async throws {
        let router = EventRouter()
        service.routeEvents(router)
        _ = try await router.route(ReceivedEvent(message, producer: "test"), nowUnixMs: clock.now.unixMs)
    }

    /// A user with a password and an IB Key phone.
    func user(_ name: String = "alice", password: String = "s3cret-pass") async throws {
        try await route(AccountOpened(accountID: "A-\(name)", userName: name))
        _ = try await service.setPassword(SetPasswordRequest(userName: name, newPassword: password))
        try await route(FactorActivated(userName: name, kind: .ibKey, deviceID: "phone-1", platform: .ios,
                                        deviceAgreementKey: phoneKey.publicKey.x963Representation))
    }

    /// What the phone shows for `challenge`.
    func phoneResponse(_ challenge: String) throws -> String {
        let key = try OCRAKeyAgreement.key(privateKey: phoneKey, peerPublicKey: serverKey.publicKey.x963Representation,
                                           deviceID: "phone-1")
        return try OCRA.response(suite: OCRASuite(OCRAKeyAgreement.suite(android: false)), key: key,
                                 input: OCRAInput(question: challenge))
    }

    func login(password: String = "s3cret-pass", from address: String = "203.0.113.7") async throws -> ChallengeIssued {
        let started = try await service.beginLogin(BeginLoginRequest(userName: "alice", password: password,
                                                                     clientAddress: address))
        return try await service.chooseFactor(ChooseFactorRequest(loginID: started.loginID, factor: .ibKeyChallenge,
                                                                  deviceID: started.factors.first?.deviceID ?? ""))
    }

    /// The codes sent so far, as the SMS gateway would receive them.
    func sentCodes() throws -> [SmsCodeRequested] {
        try storage.pool.read { db in
            try Row.fetchAll(db, sql: "SELECT payload FROM outbox WHERE type = ? ORDER BY id",
                             arguments: [SmsCodeRequested.protoName]).map { try SmsCodeRequested(serializedBytes: [UInt8]($0["payload"] as Data)) }
        }
    }

    func auditOutcomes() throws -> [String] {
        try storage.pool.read { db in try String.fetchAll(db, sql: "SELECT outcome FROM audit ORDER BY id") }
    }
}

@Suite("challenge-verification: passwords and login by challenge/response on a real database")
struct ChallengeServiceTests {
    @Test func testCHL01_CHL03_passwordThenTheChosenPhonesResponse() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let started = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass",
                                                                             clientAddress: "203.0.113.7"))
        #expect(started.factors.map(\.factor) == [.ibKeyChallenge])
        let challenge = try await harness.service.chooseFactor(ChooseFactorRequest(
            loginID: started.loginID, factor: .ibKeyChallenge, deviceID: "phone-1"))
        #expect(challenge.challenge.count == 6 && challenge.challenge.allSatisfy(\.isNumber))
        let verified = try await harness.service.answer(AnswerChallengeRequest(
            loginID: started.loginID, response: try harness.phoneResponse(challenge.challenge)))
        #expect(verified.userName == "alice")
        // CHL-08: once.
        let again = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(
                loginID: started.loginID, response: try harness.phoneResponse(challenge.challenge)))
        }
        #expect(again?.message.contains("already answered") == true)
        #expect(try harness.service.auditChainBreak() == nil)
        #expect(try harness.auditOutcomes() == ["verified", "verified", "refused"])
    }

    @Test func testCHL01_anUnknownUserAndAWrongPasswordGetTheSameAnswer() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let wrong = await #expect(throws: RPCError.self) {
            _ = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "wrong-pass1"))
        }
        let unknown = await #expect(throws: RPCError.self) {
            _ = try await harness.service.beginLogin(BeginLoginRequest(userName: "nobody", password: "wrong-pass1"))
        }
        #expect(wrong == unknown)
        #expect(wrong?.code == .unauthenticated)
    }

    @Test func testACC01_ACC02_passwordRulesAndChangesNeedTheCurrentOne() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let short = await #expect(throws: RPCError.self) {
            _ = try await harness.service.setPassword(SetPasswordRequest(userName: "alice", newPassword: "a1"))
        }
        #expect(short?.ruleID == "ACC-01")
        let noDigit = await #expect(throws: RPCError.self) {
            _ = try await harness.service.setPassword(SetPasswordRequest(userName: "alice", newPassword: "abcdefgh"))
        }
        #expect(noDigit?.message.contains("digit") == true)
        let noCurrent = await #expect(throws: RPCError.self) {
            _ = try await harness.service.setPassword(SetPasswordRequest(userName: "alice", newPassword: "n3w-pass"))
        }
        #expect(noCurrent?.code == .unauthenticated)
        _ = try await harness.service.setPassword(SetPasswordRequest(userName: "alice", newPassword: "n3w-pass",
                                                                     currentPassword: "s3cret-pass"))
        let stored = try await harness.storage.pool.read { db in try String.fetchOne(db, sql: "SELECT password_hash FROM cv_user") }
        #expect(stored?.hasPrefix("$argon2id$") == true)
        #expect(stored?.contains("n3w-pass") == false)
        _ = try await harness.login(password: "n3w-pass")
    }

    @Test func testACC02_aLoginRehashesWhenTheSettingsHaveGrown() async throws {
        let weak = try LoginHarness(passes: 1)
        try await weak.user()
        let old = try await weak.storage.pool.read { db in try String.fetchOne(db, sql: "SELECT password_hash FROM cv_user") }
        var settings = ChallengeVerificationService.Settings()
        settings.hasher = PasswordHasher(passes: 2, memoryBytes: 64 << 10)
        let logger = Logger(label: "t")
        let stronger = try ChallengeVerificationService(
            database: weak.storage.pool, outbox: OutboxRelay(database: weak.storage.pool, publisher: RecordingPublisher(), logger: logger),
            settings: settings, agreementKey: weak.serverKey, logger: logger, now: { weak.clock.now })
        _ = try await stronger.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        let new = try await weak.storage.pool.read { db in try String.fetchOne(db, sql: "SELECT password_hash FROM cv_user") }
        #expect(new != old)
        #expect(new?.contains("t=2") == true)
    }

    @Test func testACC04_CHL10_aLoginFromElsewhereIsRefusedBeforeAnyFactor() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let set = try await harness.service.setIPRestrictions(SetIPRestrictionsRequest(
            userName: "alice", enabled: true, allowed: ["198.51.100.0/24", "2001:db8::/32"]))
        #expect(set.allowed == ["198.51.100.0/24", "2001:db8::/32"])
        let refused = await #expect(throws: RPCError.self) { _ = try await harness.login(from: "203.0.113.7") }
        #expect(refused?.code == .permissionDenied)
        #expect(refused?.ruleID == "ACC-04")
        _ = try await harness.login(from: "198.51.100.20")
        _ = try await harness.login(from: "2001:db8::7")
        let bad = await #expect(throws: RPCError.self) {
            _ = try await harness.service.setIPRestrictions(SetIPRestrictionsRequest(userName: "alice", enabled: true,
                                                                                      allowed: ["10.0.0.1/8"]))
        }
        #expect(bad?.message.contains("bits set past the prefix") == true)
    }

    @Test func testCHL08_twoMinutesFiftyNineThenThreeMinutes() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let first = try await harness.login()
        harness.clock.advance(179)
        _ = try await harness.service.answer(AnswerChallengeRequest(loginID: first.loginID,
                                                                    response: try harness.phoneResponse(first.challenge)))
        let second = try await harness.login()
        harness.clock.advance(180)
        let late = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: second.loginID,
                                                                        response: try harness.phoneResponse(second.challenge)))
        }
        #expect(late?.message.contains("expired") == true)
    }

    @Test func testCHL09_fiveWrongResponsesLockForFifteenMinutesAndTheRightOneIsThenRefused() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let login = try await harness.login()
        for attempt in 1...5 {
            let error = await #expect(throws: RPCError.self) {
                _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID, response: "00000000"))
            }
            #expect(error?.code == .unauthenticated, "attempt \(attempt)")
        }
        let locked = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID,
                                                                        response: try harness.phoneResponse(login.challenge)))
        }
        #expect(locked?.ruleID == "CHL-09")
        harness.clock.advance(14 * 60 + 59)
        await #expect(throws: RPCError.self) { _ = try await harness.login() }
        // The lock survives a restart: a new instance on the same database file still refuses.
        let logger = Logger(label: "restarted")
        let restarted = try ChallengeVerificationService(
            database: try harness.storage.reopen(),
            outbox: OutboxRelay(database: harness.storage.pool, publisher: RecordingPublisher(), logger: logger),
            settings: { var settings = ChallengeVerificationService.Settings()
                        settings.hasher = PasswordHasher(passes: 1, memoryBytes: 64 << 10); return settings }(),
            agreementKey: harness.serverKey, logger: logger, now: { harness.clock.now })
        let again = try await restarted.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        await #expect(throws: RPCError.self) {
            _ = try await restarted.chooseFactor(ChooseFactorRequest(loginID: again.loginID, factor: .ibKeyChallenge,
                                                                     deviceID: "phone-1"))
        }
        harness.clock.advance(1)
        let fresh = try await harness.login()
        _ = try await harness.service.answer(AnswerChallengeRequest(loginID: fresh.loginID,
                                                                    response: try harness.phoneResponse(fresh.challenge)))
        #expect(try harness.auditOutcomes().contains("locked"))
        #expect(try harness.service.auditChainBreak() == nil)
        let events = try await harness.storage.pool.read { db in try String.fetchAll(db, sql: "SELECT type FROM outbox") }
        #expect(events.contains(FactorLocked.protoName))
    }

    @Test func testCHL09_fourWrongThenRightResetsTheCount() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        for _ in 0..<2 {
            let login = try await harness.login()
            for _ in 0..<4 {
                _ = try? await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID, response: "00000000"))
            }
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID,
                                                                        response: try harness.phoneResponse(login.challenge)))
        }
    }

    @Test func testCHL03_androidAnswersCarryThePINTheServerNeverSeesInClear() async throws {
        let harness = try LoginHarness()
        try await harness.route(AccountOpened(accountID: "A-alice", userName: "alice"))
        _ = try await harness.service.setPassword(SetPasswordRequest(userName: "alice", newPassword: "s3cret-pass"))
        let sealed = try OCRAKeyAgreement.sealPINHash(pin: "2468", privateKey: harness.phoneKey,
                                                      peerPublicKey: harness.serverKey.publicKey.x963Representation,
                                                      deviceID: "phone-1")
        #expect(!Data(sealed).contains(Data(OCRA.digest(.sha1, Array("2468".utf8)))))
        try await harness.route(FactorActivated(userName: "alice", kind: .ibKey, deviceID: "phone-1", platform: .android,
                                                deviceAgreementKey: harness.phoneKey.publicKey.x963Representation,
                                                sealedPinHash: Data(sealed)))
        func response(_ challenge: String, pin: String) throws -> String {
            let key = try OCRAKeyAgreement.key(privateKey: harness.phoneKey,
                                               peerPublicKey: harness.serverKey.publicKey.x963Representation, deviceID: "phone-1")
            return try OCRA.response(suite: OCRASuite(OCRAKeyAgreement.suite(android: true)), key: key,
                                     input: OCRAInput(question: challenge, pin: pin))
        }
        let first = try await harness.login()
        let wrongPIN = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: first.loginID,
                                                                        response: try response(first.challenge, pin: "1357")))
        }
        #expect(wrongPIN?.code == .unauthenticated)
        _ = try await harness.service.answer(AnswerChallengeRequest(loginID: first.loginID,
                                                                    response: try response(first.challenge, pin: "2468")))
    }

    @Test func testCHL06_CHL13_ACC03_smsAndVoiceCodesGoOnlyToAVerifiedNumberAndTheLatestCounts() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        // An unverified number receives nothing, and no code factor is offered.
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: false))
        let unverified = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        #expect(unverified.factors.map(\.factor) == [.ibKeyChallenge])
        let refused = await #expect(throws: RPCError.self) {
            _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: unverified.loginID, factor: .smsCode))
        }
        #expect(refused?.ruleID == "ACC-03")

        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let login = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        #expect(login.factors.map(\.factor) == [.ibKeyChallenge, .smsCode, .voiceCode])
        let sent = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .smsCode))
        #expect(sent.challenge.isEmpty)
        #expect(sent.sentTo == "********4567")
        // CHL-06: a new code by voice; the first stops working.
        _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .voiceCode))
        let codes = try harness.sentCodes()
        #expect(codes.count == 2 && codes[1].voice && codes[0].mobileNumber == "+85291234567")
        // Only the code, never anything of it, is in the login row.
        let stored = try await harness.storage.pool.read { db in
            String(describing: try Row.fetchOne(db, sql: "SELECT * FROM login WHERE login_id = ?", arguments: [login.loginID]))
        }
        #expect(stored.contains(codes[1].code) == false)
        if codes[0].code != codes[1].code {
            let old = await #expect(throws: RPCError.self) {
                _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID, response: codes[0].code))
            }
            #expect(old?.code == .unauthenticated)
        }
        let verified = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID, response: codes[1].code))
        #expect(verified.factor == .voiceCode)
    }

    @Test func testCHL06_CHL08_resendsAreLimitedAndCodesLiveFiveMinutes() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let login = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        for _ in 0..<3 { _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .smsCode)) }
        let fourth = await #expect(throws: RPCError.self) {
            _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .smsCode))
        }
        #expect(fourth?.code == .resourceExhausted)
        #expect(fourth?.ruleID == "CHL-06")
        // Per user and hour: 10 codes across logins.
        for _ in 0..<7 {
            let next = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
            _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: next.loginID, factor: .smsCode))
        }
        let hourly = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        let eleventh = await #expect(throws: RPCError.self) {
            _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: hourly.loginID, factor: .smsCode))
        }
        #expect(eleventh?.message.contains("an hour") == true)
        harness.clock.advance(3601)
        let fresh = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: fresh.loginID, factor: .smsCode))
        harness.clock.advance(299)
        _ = try await harness.service.answer(AnswerChallengeRequest(loginID: fresh.loginID, response: try harness.sentCodes().last!.code))
        let late = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: late.loginID, factor: .smsCode))
        harness.clock.advance(300)
        let expired = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: late.loginID, response: try harness.sentCodes().last!.code))
        }
        #expect(expired?.message.contains("expired") == true)
    }

    /// A phone with a signing key and a push registration.
    private func pushUser(_ harness: LoginHarness, signing: P256.Signing.PrivateKey) async throws -> LoginStarted {
        try await harness.route(AccountOpened(accountID: "A-alice", userName: "alice"))
        _ = try await harness.service.setPassword(SetPasswordRequest(userName: "alice", newPassword: "s3cret-pass"))
        try await harness.route(FactorActivated(userName: "alice", kind: .ibKey, deviceID: "phone-1", platform: .ios,
                                                devicePublicKey: signing.publicKey.x963Representation, pushToken: "push-1",
                                                deviceAgreementKey: harness.phoneKey.publicKey.x963Representation))
        return try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass",
                                                                      clientAddress: "198.51.100.9"))
    }

    private func answer(_ harness: LoginHarness, _ key: P256.Signing.PrivateKey, login: String, approve: Bool, number: UInt32,
                        at: Int64? = nil) throws -> AnswerPushRequest {
        let signed = at ?? harness.clock.now.unixMs
        let message = PushRules.answerMessage(loginID: login, deviceID: "phone-1", approve: approve, number: number,
                                              signedUnixMs: signed)
        return AnswerPushRequest(loginID: login, deviceID: "phone-1", approve: approve, number: number, signedUnixMs: signed,
                                 signature: try key.signature(for: message).rawRepresentation)
    }

    @Test func testCHL02_pushApprovalWithNumberMatchingSignedByThePhone() async throws {
        let harness = try LoginHarness()
        let signing = P256.Signing.PrivateKey()
        let login = try await pushUser(harness, signing: signing)
        #expect(login.factors.map(\.factor) == [.ibKeyPush, .ibKeyChallenge])
        let sent = try await harness.service.sendPush(ChooseFactorRequest(loginID: login.loginID, factor: .ibKeyPush,
                                                                          deviceID: "phone-1"))
        #expect((10...99).contains(sent.number))
        // The phone polls, signed; it sees the request and the numbers to pick from.
        let now = harness.clock.now.unixMs
        let poll = PollPushRequest(deviceID: "phone-1", signedUnixMs: now,
                                   signature: try signing.signature(for: PushRules.pollMessage(deviceID: "phone-1", signedUnixMs: now)).rawRepresentation)
        let pending = try await harness.service.pollPush(poll)
        #expect(pending.requests.map(\.loginID) == [login.loginID])
        #expect(pending.requests.first?.choices.contains(sent.number) == true)
        #expect(pending.requests.first?.choices.count == 3)
        // An unsigned poll, a stale signature, and a stranger's signature are refused.
        let forged = PollPushRequest(deviceID: "phone-1", signedUnixMs: now,
                                     signature: try P256.Signing.PrivateKey().signature(for: PushRules.pollMessage(deviceID: "phone-1", signedUnixMs: now)).rawRepresentation)
        await #expect(throws: RPCError.self) { _ = try await harness.service.pollPush(forged) }
        let stale = try answer(harness, signing, login: login.loginID, approve: true, number: sent.number, at: now - 120_000)
        let staleError = await #expect(throws: RPCError.self) { _ = try await harness.service.answerPush(stale) }
        #expect(staleError?.code == .permissionDenied)
        // The right number completes the login; a replay is refused.
        let approved = try answer(harness, signing, login: login.loginID, approve: true, number: sent.number)
        #expect(try await harness.service.answerPush(approved).outcome == "verified")
        #expect(try await harness.service.loginStatus(LoginStatusRequest(loginID: login.loginID)).state == "verified")
        let replay = await #expect(throws: RPCError.self) { _ = try await harness.service.answerPush(approved) }
        #expect(replay?.message.contains("already answered") == true)

        // A wrong number ends that login: the numbers cannot be tried in turn.
        let second = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        let pushed = try await harness.service.sendPush(ChooseFactorRequest(loginID: second.loginID, factor: .ibKeyPush,
                                                                            deviceID: "phone-1"))
        let wrongNumber = pushed.number == 99 ? UInt32(98) : pushed.number + 1
        let wrong = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answerPush(try answer(harness, signing, login: second.loginID, approve: true,
                                                                number: wrongNumber))
        }
        #expect(wrong?.code == .unauthenticated)
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.answerPush(try answer(harness, signing, login: second.loginID, approve: true,
                                                                number: pushed.number))
        }
        #expect(try await harness.service.loginStatus(LoginStatusRequest(loginID: second.loginID)).state == "refused")
    }

    @Test func testCHL02_aNotMeDeclineRefusesTheLoginAndRaisesTheAlarm() async throws {
        let harness = try LoginHarness()
        let signing = P256.Signing.PrivateKey()
        let login = try await pushUser(harness, signing: signing)
        let sent = try await harness.service.sendPush(ChooseFactorRequest(loginID: login.loginID, factor: .ibKeyPush,
                                                                          deviceID: "phone-1"))
        let declined = try await harness.service.answerPush(try answer(harness, signing, login: login.loginID, approve: false,
                                                                       number: sent.number))
        #expect(declined.outcome == "refused")
        #expect(try await harness.service.loginStatus(LoginStatusRequest(loginID: login.loginID)).state == "refused")
        let types = try await harness.storage.pool.read { db in try String.fetchAll(db, sql: "SELECT type FROM outbox") }
        #expect(types.contains(SuspiciousLogin.protoName))
        // The refused login cannot be finished another way.
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .ibKeyChallenge,
                                                                           deviceID: "phone-1"))
        }
    }

    @Test func testCHL04_aLoginStartedWithPushSwitchesToChallengeResponse() async throws {
        let harness = try LoginHarness()
        let signing = P256.Signing.PrivateKey()
        let login = try await pushUser(harness, signing: signing)
        let sent = try await harness.service.sendPush(ChooseFactorRequest(loginID: login.loginID, factor: .ibKeyPush,
                                                                          deviceID: "phone-1"))
        // "Click here if you did not receive the message".
        let challenge = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID,
                                                                                   factor: .ibKeyChallenge, deviceID: "phone-1"))
        // The push that arrives late no longer counts.
        let late = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answerPush(try answer(harness, signing, login: login.loginID, approve: true, number: sent.number))
        }
        #expect(late?.ruleID == "CHL-04")
        _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID,
                                                                    response: try harness.phoneResponse(challenge.challenge)))
    }

    @Test func testCHL07_CHL12_stepUpAsksForThePasswordAgainThenAChallengeOnly() async throws {
        let harness = try LoginHarness()
        let signing = P256.Signing.PrivateKey()
        _ = try await pushUser(harness, signing: signing)
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let wrong = await #expect(throws: RPCError.self) {
            _ = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "nope-1234", purpose: .stepUp))
        }
        #expect(wrong?.code == .unauthenticated)
        let stepUp = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass",
                                                                            purpose: .stepUp))
        #expect(stepUp.factors.map(\.factor) == [.ibKeyChallenge])
        let sms = await #expect(throws: RPCError.self) {
            _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: stepUp.loginID, factor: .smsCode))
        }
        #expect(sms?.ruleID == "CHL-07")
        let challenge = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: stepUp.loginID,
                                                                                   factor: .ibKeyChallenge, deviceID: "phone-1"))
        let verified = try await harness.service.answer(AnswerChallengeRequest(loginID: stepUp.loginID,
                                                                               response: try harness.phoneResponse(challenge.challenge)))
        #expect(verified.purpose == .stepUp)
        let second = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass",
                                                                            purpose: .secondDevice))
        #expect(second.factors.map(\.factor) == [.ibKeyChallenge])
    }

    @Test func testACC06_aResetByASMSCodeSetsTheNewPasswordAndEndsOpenLogins() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let open = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        // An unknown user gets the same kind of answer, and no code is sent.
        let stranger = try await harness.service.startPasswordReset(StartPasswordResetRequest(userName: "nobody"))
        #expect(!stranger.resetID.isEmpty && stranger.sentTo.isEmpty)
        #expect(try harness.sentCodes().isEmpty)
        let reset = try await harness.service.startPasswordReset(StartPasswordResetRequest(userName: "alice"))
        // The same reply as for a stranger: nothing about whether the user exists or its number.
        #expect(reset.sentTo.isEmpty)
        #expect(try harness.sentCodes().count == 1)
        let code = try #require(try harness.sentCodes().last).code
        let weak = await #expect(throws: RPCError.self) {
            _ = try await harness.service.completePasswordReset(CompletePasswordResetRequest(resetID: reset.resetID, code: code,
                                                                                             newPassword: "short"))
        }
        #expect(weak?.ruleID == "ACC-01")
        let wrongCode = await #expect(throws: RPCError.self) {
            _ = try await harness.service.completePasswordReset(CompletePasswordResetRequest(
                resetID: reset.resetID, code: code == "000000" ? "111111" : "000000", newPassword: "n3w-passw0rd"))
        }
        #expect(wrongCode?.code == .unauthenticated)
        let done = try await harness.service.completePasswordReset(CompletePasswordResetRequest(
            resetID: reset.resetID, code: code, newPassword: "n3w-passw0rd"))
        #expect(done.loginsEnded == 1)
        #expect(try await harness.service.loginStatus(LoginStatusRequest(loginID: open.loginID)).state == "refused")
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        }
        _ = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "n3w-passw0rd"))
        let again = await #expect(throws: RPCError.self) {
            _ = try await harness.service.completePasswordReset(CompletePasswordResetRequest(
                resetID: reset.resetID, code: code, newPassword: "other-passw0rd"))
        }
        #expect(again?.message.contains("already answered") == true)
    }

    @Test func testCHL05_aDSCPlusCardAnswersWithItsSealedSeedAndSuite() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let seed = Array("12345678901234567890".utf8)
        let sealed = try ServiceSeal.seal(seed, to: harness.serverKey.publicKey.x963Representation, label: "card:DSC0001")
        try await harness.route(FactorActivated(userName: "alice", kind: .dscPlus, deviceID: "DSC0001",
                                                sealedCardSeed: Data(sealed), ocraSuite: "OCRA-1:HOTP-SHA1-8:QN06"))
        let login = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        #expect(login.factors.contains { $0.factor == .dscPlusCard && $0.deviceID == "DSC0001" })
        let challenge = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .dscPlusCard,
                                                                                   deviceID: "DSC0001"))
        // The card (its own PIN checked on the card) shows the 8-digit response.
        let response = try OCRA.response(suite: OCRASuite("OCRA-1:HOTP-SHA1-8:QN06"), key: seed,
                                         input: OCRAInput(question: challenge.challenge))
        let verified = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID, response: response))
        #expect(verified.factor == .dscPlusCard)
        // A seed sealed to another key is of no use.
        #expect(ServiceSeal.open(sealed, with: P256.KeyAgreement.PrivateKey(), label: "card:DSC0001") == nil)
        #expect(ServiceSeal.open(sealed, with: harness.serverKey, label: "card:DSC0002") == nil)
    }

    @Test func testENR12_aPhoneRefreshesItsPushRegistrationWithASignedRequest() async throws {
        let harness = try LoginHarness()
        let signing = P256.Signing.PrivateKey()
        let login = try await pushUser(harness, signing: signing)
        let now = harness.clock.now.unixMs
        func refresh(_ token: String, key: P256.Signing.PrivateKey) throws -> RefreshPushRequest {
            RefreshPushRequest(deviceID: "phone-1", pushToken: token, signedUnixMs: now, signature: try key.signature(
                for: PushRules.refreshMessage(deviceID: "phone-1", pushToken: token, signedUnixMs: now)).rawRepresentation)
        }
        await #expect(throws: RPCError.self) { _ = try await harness.service.refreshPush(try refresh("evil", key: P256.Signing.PrivateKey())) }
        #expect(try await harness.service.refreshPush(try refresh("push-2", key: signing)).refreshed == 1)
        _ = try await harness.service.sendPush(ChooseFactorRequest(loginID: login.loginID, factor: .ibKeyPush, deviceID: "phone-1"))
        let payload = try await harness.storage.pool.read { db in
            try Data.fetchOne(db, sql: "SELECT payload FROM outbox WHERE type = ?", arguments: [PushRequested.protoName])
        }
        #expect(try PushRequested(serializedBytes: [UInt8](try #require(payload))).pushToken == "push-2")
    }

    @Test func testENR09_aPhoneMovedAwayFromIsRefusedFromThenOn() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        let login = try await harness.login()
        try await harness.route(FactorDeactivated(userName: "alice", kind: .ibKey, deviceID: "phone-1",
                                                  reason: "moved to a new phone"))
        let refused = await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID,
                                                                        response: try harness.phoneResponse(login.challenge)))
        }
        #expect(refused?.message.contains("no longer active") == true)
        let next = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        #expect(next.factors.isEmpty)
    }

    @Test func wrongResetCodesDoNotLockTheUsersSMSLogin() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let reset = try await harness.service.startPasswordReset(StartPasswordResetRequest(userName: "alice"))
        for _ in 0..<6 {
            _ = try? await harness.service.completePasswordReset(CompletePasswordResetRequest(
                resetID: reset.resetID, code: "999999", newPassword: "n3w-passw0rd"))
        }
        let login = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .smsCode))
        let verified = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID,
                                                                               response: try harness.sentCodes().last!.code))
        #expect(verified.factor == .smsCode)
    }

    @Test func stepUpCannotBeDoneByPushAndAnEndedLoginTakesNoCode() async throws {
        let harness = try LoginHarness()
        let signing = P256.Signing.PrivateKey()
        _ = try await pushUser(harness, signing: signing)
        let stepUp = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass",
                                                                            purpose: .stepUp))
        let push = await #expect(throws: RPCError.self) {
            _ = try await harness.service.sendPush(ChooseFactorRequest(loginID: stepUp.loginID, factor: .ibKeyPush,
                                                                       deviceID: "phone-1"))
        }
        #expect(push?.ruleID == "CHL-07")
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let login = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        _ = try await harness.service.chooseFactor(ChooseFactorRequest(loginID: login.loginID, factor: .smsCode))
        let code = try harness.sentCodes().last!.code
        // A password reset ends the login: its code no longer counts.
        let reset = try await harness.service.startPasswordReset(StartPasswordResetRequest(userName: "alice"))
        _ = try await harness.service.completePasswordReset(CompletePasswordResetRequest(
            resetID: reset.resetID, code: try harness.sentCodes().last!.code, newPassword: "n3w-passw0rd"))
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.answer(AnswerChallengeRequest(loginID: login.loginID, response: code))
        }
    }

    @Test func oldLoginsAndResetsArePurgedAndAddressesAreBounded() async throws {
        let harness = try LoginHarness()
        try await harness.user()
        try await harness.route(MobileNumberUpdated(accountID: "A-alice", mobileNumber: "+85291234567", verified: true))
        let login = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass"))
        _ = try await harness.service.startPasswordReset(StartPasswordResetRequest(userName: "alice"))
        #expect(try await harness.service.purgeExpired() == 0)
        harness.clock.advance(2 * 86_400)
        // The login, the reset and its code send.
        #expect(try await harness.service.purgeExpired() == 3)
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.loginStatus(LoginStatusRequest(loginID: login.loginID))
        }
        // The audit stays.
        #expect(try harness.auditOutcomes().isEmpty == false)
        let long = await #expect(throws: RPCError.self) {
            _ = try await harness.service.beginLogin(BeginLoginRequest(userName: "alice", password: "s3cret-pass",
                                                                       clientAddress: String(repeating: "1", count: 65)))
        }
        #expect(long?.message.contains("client_address") == true)
    }

    @Test("the audit chain is checked row by row: an edited row in the middle is found, and ListAudit says so")
    func anEditedAuditRowBreaksTheChain() async throws {
        let harness = try LoginHarness()
        try await harness.storage.pool.write { db in
            for index in 0..<5 {
                try ChallengeVerificationService.appendAudit("user\(index)", at: Date(timeIntervalSince1970: 1_800_000_000),
                                                             address: "127.0.0.1", factor: "password", outcome: "refused",
                                                             ruleID: "CHL-01", db)
            }
        }
        #expect(try harness.service.auditChainBreak() == nil)
        #expect(try await harness.service.listAudit(ListAuditRequest(userName: "user2")).chainIntact)
        try await harness.storage.pool.write { db in
            try db.execute(sql: "UPDATE audit SET outcome = 'verified' WHERE user_name = 'user2'")
        }
        #expect(try harness.service.auditChainBreak() == 2)
        #expect(try await !harness.service.listAudit(ListAuditRequest(userName: "user2")).chainIntact)
    }

    @Test("a phone's signature check and its poll search by device id on an index")
    func deviceLookupsUseIndexes() async throws {
        let harness = try LoginHarness()
        let plans = try await harness.storage.pool.read { db in
            try [
                ChallengeVerificationService.activePhonesRequest("phone-1").makePreparedRequest(db).statement,
                ChallengeVerificationService.pendingPushRequest(deviceID: "phone-1", users: ["alice"], sinceUnixMs: 0)
                    .makePreparedRequest(db).statement,
            ].map { statement in
                try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement.sql, arguments: statement.arguments)
                    .map { $0["detail"] as String? ?? "" }.joined(separator: "; ")
            }
        }
        #expect(plans[0].contains("USING INDEX phone_device_id"), "plan: \(plans[0])")
        #expect(plans[1].contains("USING INDEX login_device_id"), "plan: \(plans[1])")
    }
}
