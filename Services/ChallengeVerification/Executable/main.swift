import ArgumentParser
import SLSBus
import SLSMessages
import SLSRuntime

struct ChallengeVerificationDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.challengeVerification
}

/// The challenge-verification service. Only its platform part (health, identity, storage, events) is built so far.
@main
struct ChallengeVerificationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-challenge-verification",
        abstract: "Login and step-up challenge verification. Not built yet beyond health and identity.")

    @OptionGroup var options: ServiceOptions<ChallengeVerificationDefaults>

    func run() async throws {
        let host = try ServiceHost(options: options, info: ChallengeVerificationAPI.getInfo, apiPackage: "sls.challenge.v1")
        try await host.run()
    }
}
