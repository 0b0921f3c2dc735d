import SealingVault
import Crypto
import DeviceSignatures
import EnrollmentCore
@testable import EnrollmentService
import Foundation
import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import SLSTesting
import Testing

/// Challenge verification as far as these tests need it: the public half of its key-agreement key.
/// (Its password and SMS steps are exercised against the real service, end to end.)
struct KeyOnlyChallenge: ChallengeGateway {
    func agreementKey() async throws -> Data { EnrollmentHarness.challengeKey.publicKey.x963Representation }
    func passwordThenSMS(userName: String, password: String) async throws -> (loginID: String, sentTo: String) {
        throw RPCError(.unavailable, "challenge verification is not running in this harness")
    }
    func confirm(loginID: String, code: String) async throws -> String {
        throw RPCError(.unavailable, "challenge verification is not running in this harness")
    }
}

/// The service on a real SQLite file, with a hand-moved clock.
final class EnrollmentHarness: @unchecked Sendable {
    let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
    let storage: TemporaryDatabase
    let published = RecordingPublisher()
    private(set) var service: EnrollmentService

    init() throws {
        storage = try TemporaryDatabase(name: "enrollment", migrations: EnrollmentService.registerMigrations)
        service = Self.service(on: storage.pool, clock: clock, publisher: published)
    }

    /// One key for the harness's life, as a service keeps its key file across restarts.
    static let vault = SealingVault(key: SymmetricKey(size: .bits256))
    /// Challenge verification's key-agreement key, as the service would fetch its public half.
    nonisolated(unsafe) static let challengeKey = P256.KeyAgreement.PrivateKey()

    private static func service(on database: DatabasePool, clock: ManualClock,
                                publisher: RecordingPublisher) -> EnrollmentService {
        let logger = Logger(label: "enrollment-test")
        return EnrollmentService(database: database, outbox: OutboxRelay(database: database, publisher: publisher, logger: logger),
                                 settings: EnrollmentSettings(), activationLinkBase: "https://ibkey.example.com/activate?s=",
                                 vault: vault, challenge: KeyOnlyChallenge(),
                                 logger: logger, now: { clock.now })
    }

    /// A new instance on the same file, as after a restart.
    func restart() throws {
        service = Self.service(on: try storage.reopen(), clock: clock, publisher: published)
    }

    func openAccount(_ user: String = "alice", account: String = "U1") async throws {
        try await service.apply(AccountOpened(accountID: account, userName: user))
    }

    /// A fresh phone key (uncompressed P-256).
    static func deviceKey() -> Data {
        P256.Signing.PrivateKey().publicKey.x963Representation
    }

    func activate(_ string: String, platform: SLSMessages.DevicePlatform = .android, pin: String = "1234",
                  device: String = "phone-1", key: P256.Signing.PrivateKey = P256.Signing.PrivateKey())
        async throws -> ActivationResult {
        try await service.activate(ActivateRequest(activationString: string, platform: platform,
                                                   pin: platform == .android ? pin : "", deviceID: device,
                                                   devicePublicKey: key.publicKey.x963Representation, pushToken: "push-1",
                                                   deviceAgreementKey: P256.KeyAgreement.PrivateKey().publicKey.x963Representation))
    }

    /// ENR-08 as the phone does it: sign the string and the device id with the device key.
    func addUser(_ string: String, device: String, key: P256.Signing.PrivateKey) async throws -> ActivationResult {
        let code = try ActivationCode(typed: string, length: 16)
        let signature = try key.signature(for: DeviceKeys.addUserMessage(code: code, deviceID: device)).rawRepresentation
        return try await service.addUser(AddUserRequest(activationString: string, deviceID: device, signature: signature))
    }

    func factors(_ user: String = "alice") async throws -> [Factor] {
        try await service.listFactors(ListFactorsRequest(userName: user)).factors
    }

    /// Types of the events written to the outbox so far, oldest first.
    func outboxTypes() throws -> [String] {
        try storage.pool.read { db in try String.fetchAll(db, sql: "SELECT type FROM outbox ORDER BY id") }
    }
}

@Suite("enrollment: factors and IB Key activation on a real database")
struct EnrollmentServiceTests {
    @Test func testENR01_aNewAccountHasSMSAtOnceAndTheIBKeyBanner() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let factors = try await harness.factors()
        #expect(factors.map(\.kind) == [.sms])
        #expect(factors.first?.state == .active)
        let shows = try await harness.service.recommendation(RecommendationRequest(userName: "alice")).showIbKeyBanner
        #expect(shows)
        #expect(try harness.outboxTypes() == [FactorActivated.protoName])
    }

    @Test func testENR03_ENR04_ENR05_ENR11_activationByTheQRLinkAddsIBKeyBesideSMSAndEndsTheBanner() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let ticket = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        #expect(ticket.activationString.split(separator: "-").count == 4)
        #expect(ticket.qrLink == "https://ibkey.example.com/activate?s="
                + ticket.activationString.replacingOccurrences(of: "-", with: ""))
        #expect(ticket.expiresUnixMs == harness.clock.now.unixMs + 600_000)
        // ENR-11: the QR code is the link, as the stock decoder reads the PNG.
        #expect(try Zbar.scan(Array(ticket.qrPng)) == ticket.qrLink)
        // Typed on the phone in lower case with spaces.
        let typed = ticket.activationString.lowercased().replacingOccurrences(of: "-", with: " ")
        let result = try await harness.activate(typed)
        #expect(result.userName == "alice")
        let factors = try await harness.factors()
        #expect(Set(factors.map(\.kind)) == [.sms, .ibKey])
        #expect(factors.first { $0.kind == .ibKey }?.platform == .android)
        let banner = try await harness.service.recommendation(RecommendationRequest(userName: "alice")).showIbKeyBanner
        #expect(!banner)
        // The string is stored only as a digest.
        let stored = try await harness.storage.pool.read { db in try String.fetchAll(db, sql: "SELECT digest FROM activation") }
        #expect(stored.count == 1 && !stored[0].contains(ticket.activationString.replacingOccurrences(of: "-", with: "")))
    }

    @Test func testENR06_anyAttemptUsesTheStringUpEvenAFailedOneAndSurvivesARestart() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let ticket = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        // A PIN of 3 characters: refused (ENR-05), and the string is used up.
        let badPin = await #expect(throws: RPCError.self) { _ = try await harness.activate(ticket.activationString, pin: "123") }
        #expect(badPin?.ruleID == "ENR-05")
        #expect(badPin?.message.hasPrefix("An error has occurred. Please try again.") == true)
        try harness.restart()
        let again = await #expect(throws: RPCError.self) { _ = try await harness.activate(ticket.activationString) }
        #expect(again?.code == .failedPrecondition)
        #expect(again?.ruleID == "ENR-07")
        #expect(again?.message.contains("already used") == true)
        let kinds = try await harness.factors().map(\.kind)
        #expect(kinds == [.sms])
        #expect(try harness.outboxTypes().filter { $0 == ActivationFailed.protoName }.count == 2)
    }

    @Test func testENR06_nineMinutesFiftyNineWorksTenMinutesDoesNot() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount("alice", account: "U1")
        try await harness.openAccount("bob", account: "U2")
        let first = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        let second = try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
        harness.clock.advance(599)
        _ = try await harness.activate(first.activationString)
        harness.clock.advance(1)
        let late = await #expect(throws: RPCError.self) { _ = try await harness.activate(second.activationString, device: "p2") }
        #expect(late?.message.contains("expired") == true)
        #expect(late?.message.contains("fresh QR code") == true)
    }

    @Test func testENR07_aUserAlreadyOnIBKeyGetsNoNewStringAndCannotActivateTwice() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let first = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        let second = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        _ = try await harness.activate(first.activationString, platform: .ios)
        let twice = await #expect(throws: RPCError.self) { _ = try await harness.activate(second.activationString, device: "p2") }
        #expect(twice?.message.contains("already enrolled") == true)
        let refused = await #expect(throws: RPCError.self) {
            _ = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        }
        #expect(refused?.ruleID == "ENR-07")
    }

    @Test func badInputGetsAClearErrorAndAWrongStringConsumesNothing() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let ticket = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        let unknown = await #expect(throws: RPCError.self) { _ = try await harness.activate("AAAA-BBBB-CCCC-DDDD") }
        #expect(unknown?.code == .notFound)
        #expect(unknown?.message.contains("alice") == false)
        for bad in ["", String(repeating: "Z", count: 100_000), "ÅÅÅÅ-BBBB-CCCC-DDDD", "0000-1111-IIII-OOOO"] {
            let error = await #expect(throws: RPCError.self) { _ = try await harness.activate(bad) }
            #expect(error?.code == .invalidArgument)
            #expect(error?.message.hasPrefix("activation_string:") == true)
        }
        let badKey = await #expect(throws: RPCError.self) {
            _ = try await harness.service.activate(ActivateRequest(activationString: ticket.activationString, platform: .ios,
                                                                   deviceID: "p", devicePublicKey: Data(repeating: 4, count: 65)))
        }
        #expect(badKey?.message.contains("device_public_key") == true)
        let noPlatform = await #expect(throws: RPCError.self) {
            _ = try await harness.service.activate(ActivateRequest(activationString: ticket.activationString, deviceID: "p",
                                                                   devicePublicKey: EnrollmentHarness.deviceKey()))
        }
        #expect(noPlatform?.message.contains("platform") == true)
        // None of that touched the real string: it still activates.
        _ = try await harness.activate(ticket.activationString)
        let nobody = await #expect(throws: RPCError.self) {
            _ = try await harness.service.startActivation(StartActivationRequest(userName: "nobody"))
        }
        #expect(nobody?.code == .notFound)
    }

    @Test("ACC-05: account data arrives as events; enrollment keeps the read model it needs")
    func accountEventsKeepTheReadModel() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        try await harness.service.apply(MobileNumberUpdated(accountID: "U1", mobileNumber: "+85291234567", verified: true))
        try await harness.service.apply(AccountBalanceUpdated(accountID: "U1", totalEquity: "500000.01", cash: "1"))
        let user = try await harness.storage.pool.read { db in try UserRow.fetchOne(db, key: "alice") }
        #expect(user?.mobileVerified == true)
        #expect(user?.balanceUSD == "500000.01")
        await #expect(throws: RPCError.self) {
            try await harness.service.apply(AccountBalanceUpdated(accountID: "U1", totalEquity: "lots", cash: "1"))
        }
        // A second AccountOpened for the same user changes nothing.
        try await harness.openAccount()
        let count = try await harness.factors().count
        #expect(count == 1)
    }

    @Test func testENR08_aSecondUserJoinsAPhoneThatProvesItHoldsItsKey() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount("alice", account: "U1")
        try await harness.openAccount("bob", account: "U2")
        let phone = P256.Signing.PrivateKey()
        let alice = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        _ = try await harness.activate(alice.activationString, device: "shared-phone", key: phone)

        // A phone without IB Key cannot add anyone; a wrong key cannot either; both use the string up.
        let first = try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
        let elsewhere = await #expect(throws: RPCError.self) {
            _ = try await harness.addUser(first.activationString, device: "other-phone", key: phone)
        }
        #expect(elsewhere?.ruleID == "ENR-08")
        #expect(elsewhere?.message.contains("not active on this phone") == true)
        let second = try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
        let impostor = await #expect(throws: RPCError.self) {
            _ = try await harness.addUser(second.activationString, device: "shared-phone", key: P256.Signing.PrivateKey())
        }
        #expect(impostor?.code == .permissionDenied)
        let reused = await #expect(throws: RPCError.self) {
            _ = try await harness.addUser(second.activationString, device: "shared-phone", key: phone)
        }
        #expect(reused?.message.contains("already used") == true)

        // The genuine phone with a fresh string: bob joins alice on it.
        let third = try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
        let added = try await harness.addUser(third.activationString, device: "shared-phone", key: phone)
        #expect(added.userName == "bob")
        let bobs = try await harness.factors("bob")
        #expect(bobs.first { $0.kind == .ibKey }?.deviceID == "shared-phone")
        let alices = try await harness.factors("alice")
        #expect(alices.first { $0.kind == .ibKey }?.state == .active)
    }

    @Test func testENR09_movingIBKeyToANewPhoneDeactivatesTheOldOneAndKeepsSMS() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let first = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        _ = try await harness.activate(first.activationString, device: "old-phone")
        harness.clock.advance(60)
        let move = try await harness.service.startActivation(StartActivationRequest(userName: "alice", replaceExisting: true))
        _ = try await harness.activate(move.activationString, platform: .ios, device: "new-phone")
        let factors = try await harness.factors()
        #expect(Set(factors.filter { $0.state == .active }.map(\.kind)) == [.sms, .ibKey])
        #expect(factors.first { $0.deviceID == "old-phone" }?.state == .deactivated)
        #expect(factors.first { $0.deviceID == "new-phone" }?.state == .active)
        #expect(try harness.outboxTypes().contains(FactorDeactivated.protoName))
        // The old phone cannot add a user any more: its IB Key is gone.
        try await harness.openAccount("bob", account: "U2")
        let bob = try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
        let gone = await #expect(throws: RPCError.self) {
            _ = try await harness.addUser(bob.activationString, device: "old-phone", key: P256.Signing.PrivateKey())
        }
        #expect(gone?.message.contains("not active on this phone") == true)
    }

    @Test func malformedDeviceKeysAreRefusedByName() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let ticket = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        let agreement = await #expect(throws: RPCError.self) {
            _ = try await harness.service.activate(ActivateRequest(
                activationString: ticket.activationString, platform: .ios, deviceID: "p",
                devicePublicKey: EnrollmentHarness.deviceKey(), deviceAgreementKey: Data(repeating: 9, count: 33)))
        }
        #expect(agreement?.message.contains("device_agreement_key") == true)
        let signature = await #expect(throws: RPCError.self) {
            _ = try await harness.service.addUser(AddUserRequest(activationString: ticket.activationString, deviceID: "p",
                                                                 signature: Data(repeating: 1, count: 4096)))
        }
        #expect(signature?.code == .invalidArgument)
        // Neither touched the string.
        _ = try await harness.activate(ticket.activationString)
    }

    @Test func guessingIsSlowPerPhoneAndPerCallerAndStringsPerUserAreBounded() async throws {
        let harness = try EnrollmentHarness()
        for _ in 0..<20 { try harness.service.chargeAttempt(device: "guesser", caller: "mobile-gateway") }
        let slowed = #expect(throws: RPCError.self) { try harness.service.chargeAttempt(device: "guesser", caller: "mobile-gateway") }
        #expect(slowed?.code == .resourceExhausted)
        #expect(slowed?.message.contains("one phone") == true)
        // Another phone behind the same gateway is not held up; the guesser is again a minute later.
        try harness.service.chargeAttempt(device: "honest", caller: "mobile-gateway")
        harness.clock.advance(60)
        try harness.service.chargeAttempt(device: "guesser", caller: "mobile-gateway")

        try await harness.openAccount()
        for _ in 0..<10 { _ = try await harness.service.startActivation(StartActivationRequest(userName: "alice")) }
        let flooded = await #expect(throws: RPCError.self) {
            _ = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        }
        #expect(flooded?.code == .resourceExhausted)
    }

    @Test func testENR02_ENR03_aDSCPlusCardOnlyOverFiveHundredThousandAndItsSeedNeverInClear() async throws {
        let harness = try EnrollmentHarness()
        let seed = "3132333435363738393031323334353637383930"
        let inventory = "DSC0001,\(seed),OCRA-1:HOTP-SHA1-8:QN06\nDSC0002,\(seed)3132,OCRA-1:HOTP-SHA1-8:QN06\n"
        let imported = try await harness.service.importCards(ImportCardsRequest(inventory: Data(inventory.utf8)))
        #expect(imported.imported == 2)
        let again = try await harness.service.importCards(ImportCardsRequest(inventory: Data(inventory.utf8)))
        #expect(again.imported == 0 && again.alreadyKnown == 2)
        // Sealed at rest: the seed's bytes are nowhere in the database file.
        let file = try Data(contentsOf: URL(fileURLWithPath: harness.storage.pool.path))
        #expect(file.range(of: Data("12345678901234567890".utf8)) == nil)
        #expect(file.range(of: Data(seed.utf8)) == nil)

        try await harness.openAccount()
        try await harness.service.apply(AccountBalanceUpdated(accountID: "U1", totalEquity: "500000", cash: "1"))
        let poor = await #expect(throws: RPCError.self) {
            _ = try await harness.service.assignCard(AssignCardRequest(userName: "alice", cardSerial: "DSC0001"))
        }
        #expect(poor?.ruleID == "ENR-02")
        #expect(poor?.message.contains("500000") == true)
        try await harness.service.apply(AccountBalanceUpdated(accountID: "U1", totalEquity: "500000.01", cash: "1"))
        let card = try await harness.service.assignCard(AssignCardRequest(userName: "alice", cardSerial: "DSC0001"))
        #expect(card.kind == .dscPlus && card.cardSerial == "DSC0001")
        // The seed leaves only sealed to challenge verification's key.
        let event = try await harness.storage.pool.read { db in
            try Data.fetchOne(db, sql: "SELECT payload FROM outbox WHERE type = ? ORDER BY id DESC",
                              arguments: [FactorActivated.protoName])
        }
        let activated = try FactorActivated(serializedBytes: [UInt8](try #require(event)))
        #expect(activated.ocraSuite == "OCRA-1:HOTP-SHA1-8:QN06")
        #expect(activated.sealedCardSeed.range(of: Data("12345678901234567890".utf8)) == nil)
        #expect(ServiceSeal.open(Array(activated.sealedCardSeed), with: EnrollmentHarness.challengeKey, label: "card:DSC0001")
                == Array("12345678901234567890".utf8))
        // Multi-2FA: SMS and the card together (ENR-03); one card per user, one user per card.
        let kinds = try await harness.factors().map(\.kind)
        #expect(Set(kinds) == [.sms, .dscPlus])
        try await harness.openAccount("bob", account: "U2")
        try await harness.service.apply(AccountBalanceUpdated(accountID: "U2", totalEquity: "900000", cash: "1"))
        let taken = await #expect(throws: RPCError.self) {
            _ = try await harness.service.assignCard(AssignCardRequest(userName: "bob", cardSerial: "DSC0001"))
        }
        #expect(taken?.code == .alreadyExists)
        let unknown = await #expect(throws: RPCError.self) {
            _ = try await harness.service.assignCard(AssignCardRequest(userName: "bob", cardSerial: "NOPE"))
        }
        #expect(unknown?.code == .notFound)
        // A bad inventory names the line and never echoes a seed.
        let bad = await #expect(throws: RPCError.self) {
            _ = try await harness.service.importCards(ImportCardsRequest(inventory: Data("X1,\(seed),MD5\n".utf8)))
        }
        #expect(bad?.message.contains("line 1") == true)
        #expect(bad?.message.contains(seed) == false)
    }

    @Test func hostileSignedTimesAreRefusedWithoutArithmeticTraps() async throws {
        let harness = try EnrollmentHarness()
        for signed in [Int64.min, Int64.max, harness.clock.now.unixMs &- Int64.min, 0] {
            let error = await #expect(throws: RPCError.self) {
                _ = try await harness.service.addUserByPassword(AddUserByPasswordRequest(
                    userName: "alice", password: "x", deviceID: "phone", signedUnixMs: signed, signature: Data([1])))
            }
            #expect(error?.code == .permissionDenied, "\(signed)")
        }
    }

    @Test func aReplacingStringCannotAddAUserAndADeviceIDCannotBeTakenOver() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount("alice", account: "U1")
        try await harness.openAccount("bob", account: "U2")
        let phone = P256.Signing.PrivateKey()
        _ = try await harness.activate(try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
            .activationString, device: "shared-phone", key: phone)
        _ = try await harness.activate(try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
            .activationString, device: "bob-phone")
        // ENR-09: a string that moves bob's IB Key cannot be used to add bob to alice's phone.
        let move = try await harness.service.startActivation(StartActivationRequest(userName: "bob", replaceExisting: true))
        let refused = await #expect(throws: RPCError.self) {
            _ = try await harness.addUser(move.activationString, device: "shared-phone", key: phone)
        }
        #expect(refused?.ruleID == "ENR-09")
        // A new phone cannot claim the device id of a phone that is active with another key.
        try await harness.openAccount("carl", account: "U3")
        let carl = try await harness.service.startActivation(StartActivationRequest(userName: "carl"))
        let taken = await #expect(throws: RPCError.self) {
            _ = try await harness.activate(carl.activationString, device: "shared-phone")
        }
        #expect(taken?.code == .permissionDenied)
    }

    @Test("ENR-12: activation registers the phone for push: its token travels with FactorActivated")
    func testENR12_activationRegistersThePhoneForPush() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        try await harness.openAccount("bob", account: "U2")
        let key = P256.Signing.PrivateKey()
        let alice = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        _ = try await harness.activate(alice.activationString, platform: .ios, device: "phone-1", key: key)
        // An iPhone whose user did not allow notifications activates without a token.
        let bob = try await harness.service.startActivation(StartActivationRequest(userName: "bob"))
        _ = try await harness.service.activate(ActivateRequest(
            activationString: bob.activationString, platform: .ios, deviceID: "phone-2",
            devicePublicKey: EnrollmentHarness.deviceKey(),
            deviceAgreementKey: P256.KeyAgreement.PrivateKey().publicKey.x963Representation))
        let payloads = try await harness.storage.pool.read { db in
            try Data.fetchAll(db, sql: "SELECT payload FROM outbox WHERE type = ? ORDER BY id",
                              arguments: [FactorActivated.protoName])
        }
        let phones = try payloads.map { try FactorActivated(serializedBytes: [UInt8]($0)) }.filter { $0.kind == .ibKey }
        #expect(phones.map(\.userName) == ["alice", "bob"])
        #expect(phones.first?.pushToken == "push-1")
        #expect(phones.first?.deviceID == "phone-1")
        #expect(phones.first?.devicePublicKey == key.publicKey.x963Representation)
        #expect(phones.last?.pushToken == "")
    }

    @Test("a phone is looked up by its index, so activations do not slow as phones are added")
    func phoneLookupsUseAnIndex() async throws {
        let harness = try EnrollmentHarness()
        let plan = try await harness.storage.pool.read { db in
            let statement = try EnrollmentService.activePhoneRequest("phone-1").makePreparedRequest(db).statement
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + statement.sql, arguments: statement.arguments)
                .map { $0["detail"] as String? ?? "" }
        }
        #expect(plan.contains { $0.contains("USING INDEX factor_device_id") }, "plan: \(plan)")
    }

    @Test func expiredActivationStringsArePurged() async throws {
        let harness = try EnrollmentHarness()
        try await harness.openAccount()
        let ticket = try await harness.service.startActivation(StartActivationRequest(userName: "alice"))
        #expect(try await harness.service.purgeExpired() == 0)
        harness.clock.advance(600 + 86_400 + 1)
        #expect(try await harness.service.purgeExpired() == 1)
        let gone = await #expect(throws: RPCError.self) { _ = try await harness.activate(ticket.activationString) }
        #expect(gone?.code == .notFound)
    }
}
