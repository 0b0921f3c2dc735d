import Foundation
import Logging
import SLSBus
import ZeroMQ

/// A keyring and a policy file in a temporary folder, for tests of secured sockets.
public final class TestKeyring: @unchecked Sendable {
    public let directory: URL
    public let policyFile: URL

    /// Creates a key pair for each of `identities` and writes `policy` (YAML).
    public init(identities: [String], policy: String) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("sls-keys-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for identity in identities {
            try CurveKeyFile.save(try CurveKeyPair.generate(), identity: identity, inKeyring: directory.path)
        }
        policyFile = directory.appendingPathComponent("policy.yaml")
        try policy.write(to: policyFile, atomically: true, encoding: .utf8)
    }

    deinit {
        try? FileManager.default.removeItem(at: directory)
    }

    public var publicKeys: String { directory.appendingPathComponent("public").path }

    public func keyFile(of identity: String) -> String {
        directory.appendingPathComponent("secret/\(identity).key").path
    }

    public func security(of identity: String) throws -> BusSecurity {
        try BusSecurity(keyFile: keyFile(of: identity), publicKeys: publicKeys)
    }

    public func policy() throws -> BusPolicy {
        try BusPolicy.load(path: policyFile.path)
    }

    /// Client settings of `identity` for the server `server`.
    public func client(_ identity: String, of server: String) throws -> CurveClient {
        try security(of: identity).client(of: server)
    }

    /// The command-line flags giving a process `identity`'s key, these public keys and the policy.
    public func arguments(for identity: String) -> [String] {
        ["--key-file", keyFile(of: identity), "--public-keys", publicKeys, "--policy", policyFile.path]
    }

    /// A secured server's settings for `identity`, with a ZAP handler started in `context`
    /// (stop it with `authentication.stop()` before the context ends).
    public func server(_ identity: String, context: ZMQContext) throws -> CurveServer {
        let security = try security(of: identity)
        return CurveServer(keyPair: security.keyPair, policy: try policy(),
                           authentication: try security.startAuthentication(context: context,
                                                                            logger: Logger(label: "zap")))
    }
}
