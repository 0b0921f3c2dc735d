import ArgumentParser
import SLSBus
import SLSMessages
import SLSRuntime

struct ReportDeliveryDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.reportDelivery
}

/// The report-delivery service. Only its platform part (health, identity, storage, events) is built so far.
@main
struct ReportDeliveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-report-delivery",
        abstract: "Statement delivery over SFTP. Not built yet beyond health and identity.")

    @OptionGroup var options: ServiceOptions<ReportDeliveryDefaults>

    func run() async throws {
        let host = try ServiceHost(options: options, info: ReportDeliveryAPI.getInfo, apiPackage: "sls.delivery.v1")
        try await host.run()
    }
}
