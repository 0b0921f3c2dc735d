import ArgumentParser
import CryptoRulesService
import Foundation
import SLSBus
import SLSMessages
import SLSRuntime

struct CryptoRulesDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.cryptoRules
}

/// The crypto-rules service: pre-trade checks for BTC/ETH orders in Hong Kong.
@main
struct CryptoRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-crypto-rules",
        abstract: "Pre-trade rules for BTC and ETH orders in Hong Kong (CRY-01..CRY-14, ACC-03).",
        discussion: """
            Consumes the account events of sls.accounts.v1 (AccountProfileUpdated, MobileNumberUpdated, AccountBalanceUpdated), MarkPriceUpdated, VenueOrderFilled and \
            VenueOrderClosed events; publishes OrderAccepted, OrderSettled, OrderClosed, PermissionDecided and \
            CustodyFeeCharged through its outbox.
            """)

    @OptionGroup var options: ServiceOptions<CryptoRulesDefaults>
    @OptionGroup var crypto: CryptoOptions

    func validate() throws {
        _ = try crypto.settings()
    }

    func run() async throws {
        let now: @Sendable () -> Date = { [offset = crypto.clockOffsetSeconds] in Date().addingTimeInterval(offset) }
        let host = try ServiceHost(options: options, info: CryptoRulesAPI.getInfo, apiPackage: "sls.crypto.v1",
                                   migrations: CryptoRulesService.registerMigrations, clock: { now().unixMs })
        let service = try CryptoRulesService(database: host.database, outbox: host.outbox,
                                             settings: try crypto.settings(), logger: host.logger,
                                             fieldLimits: options.fieldLimits, now: now)
        if crypto.clockOffsetSeconds != 0 {
            host.logger.warning("clock shifted for a rehearsal", metadata: ["seconds": "\(crypto.clockOffsetSeconds)"])
        }
        service.register(on: host.server)
        service.routeEvents(host.events)
        host.every(.milliseconds(Int64(crypto.expirySweepSeconds * 1000)), named: "expiry sweep") {
            await service.expireOrders()
        }
        host.every(.milliseconds(Int64(crypto.snapshotSeconds * 1000)), named: "holdings snapshot") {
            await service.snapshotHoldings()
        }
        try await host.run()
    }
}
