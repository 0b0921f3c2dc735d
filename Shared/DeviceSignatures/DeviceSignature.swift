import Crypto
import Foundation

/// Signatures by a phone's device key (ECDSA P-256 / SHA-256), as enrollment (ENR-08) and challenge
/// verification (CHL-02) check them. Only public keys ever reach the server.
public enum DeviceSignature {
    /// The P-256 public key in `bytes` (65 bytes uncompressed or 33 compressed), or nil.
    public static func publicKey(_ bytes: Data) -> P256.Signing.PublicKey? {
        switch bytes.count {
        case 65: try? P256.Signing.PublicKey(x963Representation: bytes)
        case 33: try? P256.Signing.PublicKey(compressedRepresentation: bytes)
        default: nil
        }
    }

    /// Whether `signature` (64 bytes raw, or DER) over `message` was made by `publicKey`.
    public static func verify(_ signature: Data, of message: Data, by publicKey: Data) -> Bool {
        guard let key = self.publicKey(publicKey), !signature.isEmpty, signature.count <= 128 else { return false }
        let parsed = signature.count == 64 ? try? P256.Signing.ECDSASignature(rawRepresentation: signature)
                                           : try? P256.Signing.ECDSASignature(derRepresentation: signature)
        guard let parsed else { return false }
        return key.isValidSignature(parsed, for: message)
    }
}
