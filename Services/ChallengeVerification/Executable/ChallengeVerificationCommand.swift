import ArgumentParser
import ChallengeVerificationService
import Crypto
import Foundation
import SLSBus
import SLSMessages
import SLSRuntime

struct ChallengeVerificationDefaults: ServiceDefaults {
    static let entry = ServiceCatalog.challengeVerification
}

/// The challenge-verification service.
@main
struct ChallengeVerificationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-challenge-verification",
        abstract: "Login and step-up: a password, then one second factor (CHL-01..CHL-13, ACC-01, ACC-02, ACC-04, ACC-06).",
        discussion: """
            Passwords (Argon2id) and their reset, IP restrictions, and login or step-up by push with number \
            matching, OCRA challenge/response (IB Key, DSC+) or SMS and voice codes, with lockout and a \
            tamper-evident audit. Phones derive their OCRA key with the key of --agreement-key-file.
            """)

    @OptionGroup var options: ServiceOptions<ChallengeVerificationDefaults>
    @OptionGroup(title: "Challenge verification") var challenge: ChallengeOptions

    func validate() throws {
        _ = try challenge.settings()
    }

    func run() async throws {
        let host = try ServiceHost(options: options, info: ChallengeVerificationAPI.getInfo, apiPackage: "sls.challenge.v1",
                                   migrations: ChallengeVerificationService.registerMigrations)
        let keyFile = challenge.agreementKeyFile.isEmpty ? options.dataDir + "/agreement.key" : challenge.agreementKeyFile
        let keyBytes = try SecretKeyFile.load(keyFile, createIfMissing: challenge.agreementKeyFile.isEmpty,
                                              what: "agreement key file")
        guard let key = try? P256.KeyAgreement.PrivateKey(rawRepresentation: keyBytes) else {
            throw ValidationError("the agreement key file \(keyFile) does not hold a P-256 private key")
        }
        let service = try ChallengeVerificationService(database: host.database, outbox: host.outbox,
                                                       settings: try challenge.settings(), agreementKey: key,
                                                       logger: host.logger)
        service.register(on: host.server)
        service.routeEvents(host.events)
        host.every(.seconds(600), named: "purge expired logins and codes") { try await service.purgeExpired() }
        try await host.run()
    }
}
