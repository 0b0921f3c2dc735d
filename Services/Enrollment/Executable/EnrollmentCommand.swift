import ArgumentParser
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
        abstract: "Second-factor enrollment (ENR-01..ENR-07, ENR-10): factors, IB Key activation by string.",
        discussion: """
            Consumes AccountOpened, MobileNumberUpdated and AccountBalanceUpdated (sls.accounts.v1); publishes \
            FactorActivated, ActivationStarted and ActivationFailed through its outbox. Not built yet: QR \
            images, DSC+, several users per phone, migration (see the README).
            """)

    @OptionGroup var options: ServiceOptions<EnrollmentDefaults>
    @OptionGroup(title: "Enrollment") var enrollment: EnrollmentOptions

    func validate() throws {
        _ = try enrollment.settings()
    }

    func run() async throws {
        let host = try ServiceHost(options: options, info: EnrollmentAPI.getInfo, apiPackage: "sls.enrollment.v1",
                                   migrations: EnrollmentService.registerMigrations)
        let service = EnrollmentService(database: host.database, outbox: host.outbox, settings: try enrollment.settings(),
                                        activationLinkBase: enrollment.activationLinkBase, logger: host.logger)
        service.register(on: host.server)
        service.routeEvents(host.events)
        try await host.run()
    }
}
