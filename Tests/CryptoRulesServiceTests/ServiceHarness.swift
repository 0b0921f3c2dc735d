import CryptoRulesCore
@testable import CryptoRulesService
import Foundation
import GRDB
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import SLSTesting

/// The service on a real SQLite file in a temporary folder, with a hand-moved clock.
final class ServiceHarness: @unchecked Sendable {
    static let tuesday = newYork(2026, 11, 24, 10)

    let clock: ManualClock
    let storage: TemporaryDatabase
    let published = RecordingPublisher()
    let logger = Logger(label: "crypto-test")
    private(set) var service: CryptoRulesService

    var database: DatabasePool { storage.pool }

    init(start: Date = tuesday) throws {
        clock = ManualClock(start)
        storage = try TemporaryDatabase(name: "crypto-rules", migrations: CryptoRulesService.registerMigrations)
        service = try Self.service(on: storage.pool, clock: clock, publisher: published, logger: logger)
    }

    private static func service(on database: DatabasePool, clock: ManualClock, publisher: RecordingPublisher,
                                logger: Logger) throws -> CryptoRulesService {
        let relay = OutboxRelay(database: database, publisher: publisher, logger: logger)
        return try CryptoRulesService(database: database, outbox: relay, settings: CryptoSettings(),
                                      logger: logger, now: { clock.now })
    }

    /// A new service instance on the same database file, as after a restart.
    func restart() throws {
        service = try Self.service(on: try storage.reopen(), clock: clock, publisher: published, logger: logger)
    }

    static func newYork(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/New_York")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute))!
    }

    /// An eligible, funded account with the permission, and a fresh BTC price.
    func fundedAccount(_ id: String = "U1", cash: String = "100000", equity: String = "1000000",
                       price: String = "50000") async throws {
        try await service.apply(AccountProfileUpdated(accountID: id, hongKongResident: true, professionalInvestor: true,
                                                investorType: .individual, assetsHkd: "9000000"))
        try await service.apply(MobileNumberUpdated(accountID: id, mobileNumber: "+85291234567", verified: true))
        try await service.apply(AccountBalanceUpdated(accountID: id, totalEquity: equity, cash: cash))
        try await service.apply(MarkPriceUpdated(asset: .btc, price: price, asOfUnixMs: clock.now.unixMs))
        _ = try await service.requestPermission(PermissionRequest(accountID: id))
    }

    /// Hands `message` to the service as the host does with an event from the bus: decoded,
    /// validated against the field limits and the service's clock, then routed.
    func route<M: ProtoMessage>(_ message: M, producer: String = "test") async throws {
        let router = EventRouter()
        service.routeEvents(router)
        _ = try await router.route(ReceivedEvent(message, producer: producer), nowUnixMs: clock.now.unixMs)
    }

    func state(_ id: String = "U1") throws -> AccountState {
        try service.accountState(GetAccountStateRequest(accountID: id))
    }

    /// Event types in the outbox, oldest first.
    func outboxTypes() throws -> [String] {
        try database.read { try String.fetchAll($0, sql: "SELECT type FROM outbox ORDER BY id") }
    }

    static func limitBuy(_ quantity: String, at price: String, tif: SLSMessages.TimeInForce = .minutes,
                         client: String = "") -> OrderRequest {
        OrderRequest(accountID: "U1", asset: .btc, side: .buy, type: .limit, quantity: quantity, limitPrice: price,
                     timeInForce: tif, clientOrderID: client)
    }
}
