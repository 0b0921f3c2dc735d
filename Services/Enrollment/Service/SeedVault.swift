import Crypto
import Foundation
import SLSRuntime

/// Seals DSC+ card seeds at rest (ChaCha20-Poly1305, the card's serial bound as associated data,
/// so a sealed seed cannot be moved to another card) with a 256-bit key kept in a file of its own.
public struct SeedVault: Sendable {
    /// The key's bytes (swift-crypto's `SymmetricKey` is not `Sendable` here); a key is made per use.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// Reads the key from `path` (64 hex characters), refusing a file open to other users; with
    /// `createIfMissing`, writes a new random key there first (mode 0600).
    public init(keyFile path: String, createIfMissing: Bool) throws {
        keyBytes = try SecretKeyFile.load(path, createIfMissing: createIfMissing, what: "card seed key file")
    }

    /// A vault with a given key (tests).
    public init(key: SymmetricKey) {
        keyBytes = key.withUnsafeBytes { Array($0) }
    }

    func seal(_ seed: [UInt8], serial: String) throws -> [UInt8] {
        Array(try ChaChaPoly.seal(seed, using: key, authenticating: Data(serial.utf8)).combined)
    }

    func open(_ sealed: [UInt8], serial: String) throws -> [UInt8] {
        Array(try ChaChaPoly.open(ChaChaPoly.SealedBox(combined: sealed), using: key, authenticating: Data(serial.utf8)))
    }
}
