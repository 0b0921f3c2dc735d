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
        let key = try AgreementKeyFile.load(keyFile, createIfMissing: challenge.agreementKeyFile.isEmpty)
        let service = try ChallengeVerificationService(database: host.database, outbox: host.outbox,
                                                       settings: try challenge.settings(), agreementKey: key,
                                                       logger: host.logger)
        service.register(on: host.server)
        service.routeEvents(host.events)
        try await host.run()
    }
}

/// The service's key-agreement key in a file of its own (raw key in hex, mode 0600).
enum AgreementKeyFile {
    static func load(_ path: String, createIfMissing: Bool) throws -> P256.KeyAgreement.PrivateKey {
        if !FileManager.default.fileExists(atPath: path) {
            guard createIfMissing else { throw ValidationError("agreement key file \(path) does not exist") }
            let text = P256.KeyAgreement.PrivateKey().rawRepresentation.map { String(format: "%02x", $0) }.joined() + "\n"
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw ValidationError("cannot create the agreement key file \(path)")
            }
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw ValidationError("agreement key file \(path) is open to other users: chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 256,
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              text.utf8.count == 64 else {
            throw ValidationError("agreement key file \(path) must hold 64 hex characters")
        }
        let bytes = stride(from: 0, to: 64, by: 2).compactMap {
            UInt8(text[text.index(text.startIndex, offsetBy: $0)..<text.index(text.startIndex, offsetBy: $0 + 2)], radix: 16)
        }
        guard bytes.count == 32, let key = try? P256.KeyAgreement.PrivateKey(rawRepresentation: bytes) else {
            throw ValidationError("agreement key file \(path) does not hold a P-256 private key")
        }
        return key
    }
}
