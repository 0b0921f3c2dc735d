import ArgumentParser
import Foundation
import ReportDeliveryCore
import ReportDeliveryService
import SLSBus
import SLSMessages
import SLSRuntime
import SealingVault

struct ReportDeliveryDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.reportDelivery
}

/// The report-delivery service: statements over its own SFTP endpoint (DLV-01..DLV-10).
@main
struct ReportDeliveryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-report-delivery",
        abstract: "Statement delivery (DLV-01..DLV-10): an SFTP endpoint with public-key login, PGP-encrypted statements, 100-day retention, the Message Center.",
        discussion: """
            Serves sls.delivery.v1.ReportDelivery on the bus and SFTP on --sftp-port. Consumes AccountOpened (ACC-05) and StatementIssued; \
            publishes AccessReady, StatementDelivered, StatementHeld, FilePurged and NotificationRequested through \
            its outbox. Files live under <data-dir>/sftp (users/<name>, host-keys), PGP public keys in <data-dir>/gnupg.
            """)

    @OptionGroup var options: ServiceOptions<ReportDeliveryDefaults>
    @OptionGroup(title: "Report delivery") var delivery: ReportDeliveryOptions

    func validate() throws {
        _ = try delivery.settings()
        _ = try delivery.endpoint()
    }

    func run() async throws {
        let host = try ServiceHost(options: options, info: ReportDeliveryAPI.getInfo, apiPackage: "sls.delivery.v1",
                                   migrations: ReportDeliveryService.registerMigrations)
        let folders = try DeliveryFolders(root: options.dataDir + "/sftp")
        let heldKey = delivery.heldKeyFile.isEmpty ? options.dataDir + "/held-statements.key" : delivery.heldKeyFile
        let service = try ReportDeliveryService(
            database: host.database, outbox: host.outbox, settings: try delivery.settings(), folders: folders,
            keyring: try PGPKeyring(home: options.dataDir + "/gnupg"),
            vault: try SealingVault(keyFile: heldKey, createIfMissing: delivery.heldKeyFile.isEmpty, what: "held statement key file"),
            templates: try delivery.messageTemplates(), logger: host.logger, now: host.clock)
        let hostKeys = try HostKeys.loadOrCreate(in: folders.hostKeysFolder)
        let endpoint = try SFTPEndpoint(configuration: try delivery.endpoint(), hostKeys: hostKeys,
                                        directory: service.directory, logger: host.logger)
        host.setInfoDetails([InfoDetail(name: "sftp_port", value: String(endpoint.port))]
                            + hostKeys.keys.map { InfoDetail(name: "host_key \($0.keyType)", value: $0.fingerprint) })
        try await service.recoverInterruptedWrites()
        service.register(on: host.server)
        service.routeEvents(host.events)
        host.add(endpoint, named: "sftp endpoint")
        host.every(.seconds(delivery.purgeIntervalSeconds), named: "retention sweep (DLV-07)") {
            try await service.purgeExpired()
        }
        host.every(.seconds(60), named: "statement retries (DLV-08)") { try await service.retryPending() }
        try await host.run()
    }
}
