import Crypto
import Foundation

/// Seals DSC+ card seeds at rest (ChaCha20-Poly1305, the card's serial bound as associated data,
/// so a sealed seed cannot be moved to another card) with a 256-bit key kept in a file of its own.
public struct SeedVault: Sendable {
    /// The key's bytes (swift-crypto's `SymmetricKey` is not `Sendable` here); a key is made per use.
    private let keyBytes: [UInt8]
    private var key: SymmetricKey { SymmetricKey(data: keyBytes) }

    /// Reads the key from `path` (64 hex characters), refusing a file open to other users; with
    /// `createIfMissing`, writes a new random key there first (mode 0600).
    public init(keyFile path: String, createIfMissing: Bool) throws {
        if !FileManager.default.fileExists(atPath: path) {
            guard createIfMissing else { throw VaultError("card seed key file \(path) does not exist") }
            let bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
            let text = bytes.map { String(format: "%02x", $0) }.joined() + "\n"
            guard FileManager.default.createFile(atPath: path, contents: Data(text.utf8),
                                                 attributes: [.posixPermissions: 0o600]) else {
                throw VaultError("cannot create the card seed key file \(path)")
            }
        }
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw VaultError("card seed key file \(path) is open to other users (mode \(String(mode, radix: 8))): chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 256,
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              text.utf8.count == 64, let bytes = Self.hex(text) else {
            throw VaultError("card seed key file \(path) must hold 64 hex characters (a 256-bit key)")
        }
        keyBytes = bytes
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

    private static func hex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        var bytes: [UInt8] = []
        for pair in stride(from: 0, to: digits.count, by: 2) {
            guard let value = UInt8(String(decoding: digits[pair...pair + 1], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(value)
        }
        return bytes
    }
}

struct VaultError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
