import Foundation
import ZeroMQ

/// The public keys a process knows, by identity: the allowlist its servers admit, and the keys
/// of the servers it connects to. Read from a folder of `<identity>.pub` files (see ``CurveKeyFile``).
public struct PublicKeyDirectory: Sendable, Equatable {
    /// Public key (Z85) of each identity.
    public let keys: [String: String]
    /// The folder they were read from.
    public let path: String

    /// At most this many keys are read: the directory is input like any other.
    public static let maxKeys = 10_000

    /// Reads every `*.pub` file of `path`; other files are ignored.
    public init(path: String) throws(BusSecurityError) {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: path).filter { $0.hasSuffix(".pub") }.sorted()
        } catch {
            throw BusSecurityError("public key directory \(path) cannot be read: \(error.localizedDescription)")
        }
        guard names.count <= Self.maxKeys else {
            throw BusSecurityError("public key directory \(path) holds \(names.count) keys; at most \(Self.maxKeys)")
        }
        var keys: [String: String] = [:]
        var owners: [String: String] = [:]
        for name in names {
            let (identity, key) = try CurveKeyFile.loadPublicKey(at: path + "/" + name)
            if let other = owners.updateValue(identity, forKey: key) {
                throw BusSecurityError("public key directory \(path): \(other).pub and \(identity).pub hold the same key, "
                                       + "so a caller's identity would be ambiguous")
            }
            keys[identity] = key
        }
        self.init(keys: keys, path: path)
    }

    /// Keys given directly (tests, tools).
    public init(keys: [String: String], path: String = "(in memory)") {
        self.keys = keys
        self.path = path
    }

    /// The identity whose public key is `publicKey`.
    public func identity(of publicKey: String) -> String? {
        keys.first { $0.value == publicKey }?.key
    }

    /// The public key of `identity`, or an error saying which file is missing.
    public func publicKey(of identity: String) throws(BusSecurityError) -> String {
        guard let key = keys[identity] else {
            throw BusSecurityError("no public key of '\(identity)' in \(path): add \(identity).pub there")
        }
        return key
    }

    /// Public key to identity, as a ``ZAPHandler`` takes it.
    public var allowlist: [String: String] {
        Dictionary(keys.map { ($0.value, $0.key) }, uniquingKeysWith: { first, _ in first })
    }
}
