import ArgumentParser
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
        abstract: "Pre-trade rules for BTC and ETH orders in Hong Kong (CRY-01..CRY-14).")

    @OptionGroup var options: ServiceOptions<CryptoRulesDefaults>

    func run() async throws {
        let host = try ServiceHost(options: options, info: CryptoRulesAPI.getInfo, apiPackage: "sls.crypto.v1")
        try await host.run()
    }
}
