import Crypto
import Foundation

/// Seals a secret for one service's P-256 key-agreement key (an ephemeral key, ECDH, HKDF-SHA256,
/// ChaCha20-Poly1305, with a label bound as associated data), so it can cross the bus and sit in
/// another service's database without anyone but that service being able to read it.
public enum ServiceSeal {
    /// The sealed form: the ephemeral public key (65 bytes) followed by the ChaCha20-Poly1305 box.
    public static func seal(_ secret: [UInt8], to publicKey: Data, label: String) throws -> [UInt8] {
        let recipient = try P256.KeyAgreement.PublicKey(x963Representation: publicKey)
        let ephemeral = P256.KeyAgreement.PrivateKey()
        let key = try derive(ephemeral.sharedSecretFromKeyAgreement(with: recipient), label: label)
        let box = try ChaChaPoly.seal(secret, using: key, authenticating: Data(label.utf8))
        return Array(ephemeral.publicKey.x963Representation) + Array(box.combined)
    }

    /// Opens what ``seal(_:to:label:)`` made, with the recipient's private key; nil when it does
    /// not open (another key, another label, tampered).
    public static func open(_ sealed: [UInt8], with privateKey: P256.KeyAgreement.PrivateKey, label: String) -> [UInt8]? {
        guard sealed.count > 65 + 28, sealed.count <= 4096,
              let ephemeral = try? P256.KeyAgreement.PublicKey(x963Representation: sealed.prefix(65)),
              let shared = try? privateKey.sharedSecretFromKeyAgreement(with: ephemeral),
              let box = try? ChaChaPoly.SealedBox(combined: sealed.dropFirst(65)),
              let opened = try? ChaChaPoly.open(box, using: derive(shared, label: label), authenticating: Data(label.utf8))
        else { return nil }
        return Array(opened)
    }

    private static func derive(_ shared: SharedSecret, label: String) -> SymmetricKey {
        shared.hkdfDerivedSymmetricKey(using: SHA256.self, salt: Data(label.utf8), sharedInfo: Data("sls service seal v1".utf8),
                                       outputByteCount: 32)
    }
}
