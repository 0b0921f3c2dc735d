import ArgumentParser
import SLSBus
import SLSMessages
import SLSRuntime

struct EnrollmentDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.enrollment
}

/// The enrollment service. Only its platform part (health, identity, storage, events) is built so far.
@main
struct EnrollmentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-enrollment",
        abstract: "Second-factor enrollment (IB Key, DSC+, SMS). Not built yet beyond health and identity.")

    @OptionGroup var options: ServiceOptions<EnrollmentDefaults>

    func run() async throws {
        let host = try ServiceHost(options: options, info: EnrollmentAPI.getInfo, apiPackage: "sls.enrollment.v1")
        try await host.run()
    }
}
