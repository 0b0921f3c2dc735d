import SealingVault
import ArgumentParser
import Foundation
import Synchronization
import EnrollmentService
import SLSBus
import SLSMessages
import SLSRuntime

struct EnrollmentDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.enrollment
}

/// The enrollment service: users' second factors and IB Key activation.
@main
struct EnrollmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-enrollment",
        abstract: "Second-factor enrollment (ENR-01..ENR-12): factors, IB Key activation, several users per phone, DSC+ cards.",
        discussion: """
            Consumes AccountOpened, MobileNumberUpdated and AccountBalanceUpdated (sls.accounts.v1); publishes \
            FactorActivated, FactorDeactivated, ActivationStarted and ActivationFailed through its outbox. \
            DSC+ seeds are sealed with the key of --card-seed-key-file.
            """)

    @OptionGroup var options: ServiceOptions<EnrollmentDefaults>
    @OptionGroup(title: "Enrollment") var enrollment: EnrollmentOptions

    func validate() throws {
        _ = try enrollment.settings()
    }

    func run() async throws {
        let host = try ServiceHost(options: options, info: EnrollmentAPI.getInfo, apiPackage: "sls.enrollment.v1",
                                   migrations: EnrollmentService.registerMigrations)
        let vaultKey = enrollment.cardSeedKeyFile.isEmpty ? options.dataDir + "/card-seed.key" : enrollment.cardSeedKeyFile
        let vault = try SealingVault(keyFile: vaultKey, createIfMissing: enrollment.cardSeedKeyFile.isEmpty, what: "card seed key file")
        // Challenge verification: its key (DSC+ seeds are sealed to it) and ENR-08's password and code.
        let challenge = try RPCClient(context: host.context, configuration: .init(
            endpoint: enrollment.challengeVerification, caller: ServiceCatalog.enrollment.name,
            security: try host.security?.client(of: ServiceCatalog.challengeVerification.name)))
        let service = EnrollmentService(
            database: host.database, outbox: host.outbox, settings: try enrollment.settings(),
            activationLinkBase: enrollment.activationLinkBase, vault: vault,
            challenge: BusChallengeGateway(client: challenge), logger: host.logger)
        service.register(on: host.server)
        service.routeEvents(host.events)
        host.every(.seconds(600), named: "purge expired activation strings") { try await service.purgeExpired() }
        try await host.run()
    }
}
