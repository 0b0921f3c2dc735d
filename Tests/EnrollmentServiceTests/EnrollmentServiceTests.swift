import Crypto
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

    private static func service(on database: DatabasePool, clock: ManualClock,
                                publisher: RecordingPublisher) -> EnrollmentService {
        let logger = Logger(label: "enrollment-test")
        return EnrollmentService(database: database, outbox: OutboxRelay(database: database, publisher: publisher, logger: logger),
                                 settings: EnrollmentSettings(), activationLinkBase: "https://ibkey.example.com/activate?s=",
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
                  device: String = "phone-1") async throws -> ActivationResult {
        try await service.activate(ActivateRequest(activationString: string, platform: platform,
                                                   pin: platform == .android ? pin : "", deviceID: device,
                                                   devicePublicKey: Self.deviceKey(), pushToken: "push-1"))
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

    @Test func testENR04_ENR05_ENR03_activationAddsIBKeyBesideSMSAndEndsTheBanner() async throws {
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

    @Test func accountEventsKeepTheReadModel() async throws {
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
}
