import Crypto
import Foundation
import GRDB
import Logging
import ReportDeliveryCore
@testable import ReportDeliveryService
import SLSMessages
import SLSRuntime
import SLSStorage
import SLSTesting
import SealingVault
import Synchronization

/// Log lines kept in memory, so tests can search them (DLV-03: no trace of a private key).
final class CapturedLogs: @unchecked Sendable {
    private let lines = Mutex<[String]>([])
    var text: String { lines.withLock { $0.joined(separator: "\n") } }
    func append(_ line: String) { lines.withLock { $0.append(line) } }

    struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.append("\(event.level) \(event.message) \(metadata.merging(event.metadata ?? [:]) { $1 })")
        }
    }
}

/// Report delivery on real SQLite files, real folders, a real GnuPG home and a real SFTP endpoint
/// on a loopback port, with a hand-moved clock.
final class DeliveryHarness: @unchecked Sendable {
    let clock = ManualClock(Date())
    let storage: TemporaryDatabase
    let root: URL
    let folders: DeliveryFolders
    let keyring: PGPKeyring
    let logs = CapturedLogs()
    let logger: Logger
    let service: ReportDeliveryService
    let endpoint: SFTPEndpoint
    static let vault = SealingVault(key: SymmetricKey(size: .bits256))

    init(settings: DeliverySettings = DeliverySettings(), configure: (inout SFTPEndpointConfiguration) -> Void = { _ in }) throws {
        let sink = logs
        logger = Logger(label: "report-delivery-test") { _ in CapturedLogs.Handler(sink: sink) }
        storage = try TemporaryDatabase(name: "report-delivery", migrations: ReportDeliveryService.registerMigrations)
        root = URL(fileURLWithPath: storage.directory)
        folders = try DeliveryFolders(root: root.appendingPathComponent("sftp").path)
        keyring = try PGPKeyring(home: root.appendingPathComponent("gnupg").path)
        let clock = clock
        service = try ReportDeliveryService(
            database: storage.pool,
            outbox: OutboxRelay(database: storage.pool, publisher: RecordingPublisher(), logger: logger),
            settings: settings, folders: folders, keyring: keyring, vault: Self.vault,
            templates: try MessageTemplates.bundled(), logger: logger, now: { clock.nowUnixMs })
        var configuration = SFTPEndpointConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.loginGraceSeconds = 10
        configure(&configuration)
        endpoint = try SFTPEndpoint(configuration: configuration, hostKeys: try HostKeys.loadOrCreate(in: folders.hostKeysFolder),
                                    directory: service.directory, logger: logger)
        endpoint.start()
    }

    func shutdown() async {
        await endpoint.stop()
    }

    /// ACC-05: the account service announces the account, then the reporting team creates the user.
    @discardableResult
    func createUser(_ user: String) async throws -> Access {
        try await service.apply(AccountOpened(accountID: "U-" + user, userName: user))
        return try await service.createUser(CreateUserRequest(userName: user))
    }

    /// A user set up by the reporting team: a key from ssh-keygen, an address (DLV-10).
    @discardableResult
    func setUp(_ user: String = "alice", keyType: String = "ed25519", bits: Int? = nil,
               addresses: [String] = ["127.0.0.1"]) async throws -> String {
        let key = try StockTools.sshKeygen(keyType, bits: bits, in: try StockTools.scratch())
        try await createUser(user)
        _ = try await service.addPublicKey(AddPublicKeyRequest(userName: user,
                                                               publicKey: try String(contentsOfFile: key + ".pub", encoding: .utf8)))
        _ = try await service.setAddresses(SetAddressesRequest(userName: user, addresses: addresses))
        return key
    }

    /// OpenSSH's `sftp -b` with `commands`, logging in as `user` with the private key at `key`.
    func sftp(_ user: String, key: String, _ commands: [String], bindAddress: String = "127.0.0.1",
              in folder: URL? = nil) throws -> StockTools.Outcome {
        let workdir = try folder ?? StockTools.scratch()
        let batch = workdir.appendingPathComponent("batch-\(UUID().uuidString)")
        try (commands.joined(separator: "\n") + "\n").write(to: batch, atomically: true, encoding: .utf8)
        return try StockTools.outcome("sh", ["-c", "cd \"$0\" && exec sftp \"$@\"", workdir.path,
            "-b", batch.path, "-i", key, "-P", String(endpoint.port), "-o", "StrictHostKeyChecking=no",
            "-o", "UserKnownHostsFile=/dev/null", "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
            "-o", "ConnectTimeout=10", "-o", "BindAddress=\(bindAddress)", "-o", "LogLevel=ERROR",
            "\(user)@127.0.0.1"], timeout: 60)
    }

    /// Event types in the outbox, oldest first.
    func outboxTypes() async throws -> [String] {
        try await storage.pool.read { try String.fetchAll($0, sql: "SELECT type FROM outbox ORDER BY id") }
    }

    /// Payloads of the outbox events of type `M`.
    func outbox<M: ProtoMessage>(_ type: M.Type) async throws -> [M] {
        let payloads = try await storage.pool.read {
            try Data.fetchAll($0, sql: "SELECT payload FROM outbox WHERE type = ? ORDER BY id", arguments: [M.protoName])
        }
        return try payloads.map { try M(serializedBytes: Array($0)) }
    }
}

/// A GnuPG home with one key pair, as a user has on their own computer.
struct UserGnuPG {
    let home: URL
    let armoredPublicKey: String
    let armoredSecretKey: String

    init(email: String = "alice@example.com") throws {
        home = try StockTools.scratch().appendingPathComponent("gnupg")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let env = ["GNUPGHOME": home.path]
        let made = try StockTools.outcome("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                                                  "--quick-gen-key", "Test User <\(email)>", "default", "default", "never"],
                                          environment: env)
        guard made.status == 0 else { throw StockTools.Failure(description: made.stderr) }
        armoredPublicKey = try StockTools.outcome("gpg", ["--armor", "--export", email], environment: env).stdout
        armoredSecretKey = try StockTools.outcome("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                                                          "--armor", "--export-secret-keys", email], environment: env).stdout
    }

    /// `gpg --decrypt` of `file`.
    func decrypt(_ file: URL) throws -> StockTools.Outcome {
        try StockTools.outcome("gpg", ["--batch", "--decrypt", file.path], environment: ["GNUPGHOME": home.path])
    }
}
