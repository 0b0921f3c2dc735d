import ArgumentParser
import CryptoRulesService
import Foundation
import SLSMessages
import SLSRuntime

struct CryptoRulesDefaults: ServiceDefaults {
    static let serviceName = "crypto-rules"
    static let listen = "tcp://127.0.0.1:7104"
}

/// The crypto-rules service: pre-trade checks for BTC/ETH orders in Hong Kong.
@main
struct CryptoRulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-crypto-rules",
        abstract: "Pre-trade rules for BTC and ETH orders in Hong Kong (CRY-01..CRY-14, ACC-03).",
        discussion: """
            Consumes AccountProfileUpdated, AccountBalanceUpdated, MarkPriceUpdated, VenueOrderFilled and \
            VenueOrderClosed events; publishes OrderAccepted, OrderSettled, OrderClosed, PermissionDecided and \
            CustodyFeeCharged through its outbox.
            """)

    @OptionGroup var options: ServiceOptions<CryptoRulesDefaults>
    @OptionGroup var crypto: CryptoOptions

    func validate() throws {
        _ = try crypto.settings()
    }

    func run() async throws {
        let host = try ServiceHost(options: options, info: CryptoRulesAPI.getInfo, apiPackage: "sls.crypto.v1",
                                   migrations: CryptoRulesService.registerMigrations)
        let service = try CryptoRulesService(database: host.database, outbox: host.outbox,
                                             settings: try crypto.settings(), logger: host.logger,
                                             now: { [offset = crypto.clockOffsetSeconds] in
                                                 Date().addingTimeInterval(offset)
                                             })
        if crypto.clockOffsetSeconds != 0 {
            host.logger.warning("clock shifted for a rehearsal", metadata: ["seconds": "\(crypto.clockOffsetSeconds)"])
        }
        service.register(on: host.server)
        try host.subscribe(topics: CryptoRulesService.topics) { event in service.handle(event) }
        let sweep = Duration.milliseconds(Int64(crypto.expirySweepSeconds * 1000))
        let snapshots = Duration.milliseconds(Int64(crypto.snapshotSeconds * 1000))
        host.background {
            while !Task.isCancelled {
                service.expireOrders()
                try? await Task.sleep(for: sweep)
            }
        }
        host.background {
            while !Task.isCancelled {
                service.snapshotHoldings()
                try? await Task.sleep(for: snapshots)
            }
        }
        try await host.run()
    }
}
