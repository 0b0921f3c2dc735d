import Crypto
import Foundation
import SLSRuntime

/// Seals secrets at rest (ChaCha20-Poly1305) with a 256-bit key kept in a file of its own: DSC+
/// card seeds in enrollment, statements waiting for a PGP key in report delivery. A label (the
/// card's serial, the statement's id) is bound as associated data, so a sealed value cannot be
/// moved to another row.
public struct SealingVault: Sendable {
    /// The key's bytes (swift-crypto's `SymmetricKey` is not `Sendable` here); a key is made per use.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// Reads the key from `path` (64 hex characters), refusing a file open to other users; with
    /// `createIfMissing`, writes a new random key there first (mode 0600). `what` names the file in errors.
    public init(keyFile path: String, createIfMissing: Bool, what: String) throws {
        keyBytes = try SecretKeyFile.load(path, createIfMissing: createIfMissing, what: what)
    }

    /// A vault with a given key (tests).
    public init(key: SymmetricKey) {
        keyBytes = key.withUnsafeBytes { Array($0) }
    }

    /// `secret` sealed and bound to `label`.
    public func seal<Bytes: DataProtocol>(_ secret: Bytes, label: String) throws -> [UInt8] {
        Array(try ChaChaPoly.seal(secret, using: key, authenticating: Data(label.utf8)).combined)
    }

    /// The secret of `sealed`; throws when it was sealed with another key or label.
    public func open<Bytes: DataProtocol>(_ sealed: Bytes, label: String) throws -> [UInt8] {
        Array(try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: sealed), using: key, authenticating: Data(label.utf8)))
    }
}
