import Crypto
import DeviceSignatures
import Foundation

/// The phone's keys as the server sees them: public halves only (device secrets never leave the
/// phone; see the README's "device secrets").
public enum DeviceKeys {
    /// Why `key` is not a P-256 public key (65 bytes uncompressed or 33 compressed), or nil.
    public static func signingKeyProblem(_ key: Data, field: String) -> String? {
        signingKey(key) == nil
            ? "\(field) must be a P-256 public key (65 bytes uncompressed or 33 compressed); got \(key.count) bytes that are not one"
            : nil
    }

    /// Why `key` is not a P-256 key-agreement public key, or nil (empty is allowed: not sent).
    public static func agreementKeyProblem(_ key: Data, field: String) -> String? {
        guard !key.isEmpty else { return nil }
        let parsed: Bool = switch key.count {
        case 65: (try? P256.KeyAgreement.PublicKey(x963Representation: key)) != nil
        case 33: (try? P256.KeyAgreement.PublicKey(compressedRepresentation: key)) != nil
        default: false
        }
        return parsed ? nil
            : "\(field) must be a P-256 public key (65 bytes uncompressed or 33 compressed); got \(key.count) bytes that are not one"
    }

    static func signingKey(_ key: Data) -> P256.Signing.PublicKey? {
        DeviceSignature.publicKey(key)
    }

    /// ENR-08: what a phone signs to add a user with `code`: the method, the string and its id.
    public static func addUserMessage(code: ActivationCode, deviceID: String) -> Data {
        Data("sls.enrollment.v1.AddUser\n\(code.characters)\n\(deviceID)".utf8)
    }

    /// Whether `signature` (64 bytes raw or DER) over `message` was made by the key `publicKey`.
    public static func verify(_ signature: Data, of message: Data, by publicKey: Data) -> Bool {
        DeviceSignature.verify(signature, of: message, by: publicKey)
    }
}
