import Crypto
import Foundation

/// How a phone and challenge verification come to share the phone's OCRA key without sending it:
/// ECDH between the phone's key-agreement key and challenge verification's, then HKDF-SHA256 with
/// the device id as salt. Each side computes it with its own private key and the other's public one.
public enum OCRAKeyAgreement {
    static let info = Data("sls ocra key v1".utf8)

    /// The 32-byte OCRA key.
    public static func key(privateKey: P256.KeyAgreement.PrivateKey, peerPublicKey: Data, deviceID: String)
        throws(OCRAKeyError) -> [UInt8] {
        try derive(privateKey: privateKey, peerPublicKey: peerPublicKey, deviceID: deviceID, info: info)
    }

    private static func derive(privateKey: P256.KeyAgreement.PrivateKey, peerPublicKey: Data, deviceID: String,
                               info: Data) throws(OCRAKeyError) -> [UInt8] {
        let peer: P256.KeyAgreement.PublicKey
        do {
            peer = peerPublicKey.count == 33 ? try P256.KeyAgreement.PublicKey(compressedRepresentation: peerPublicKey)
                                             : try P256.KeyAgreement.PublicKey(x963Representation: peerPublicKey)
        } catch {
            throw .badPublicKey
        }
        guard let secret = try? privateKey.sharedSecretFromKeyAgreement(with: peer) else { throw .badPublicKey }
        let key = secret.hkdfDerivedSymmetricKey(using: SHA256.self, salt: Data(deviceID.utf8), sharedInfo: info,
                                                 outputByteCount: 32)
        return key.withUnsafeBytes { Array($0) }
    }

    /// The Android PIN's SHA-1 (the suite's `P` input), sealed by the phone for challenge verification
    /// alone: ChaCha20-Poly1305 under a second key from the same agreement (other HKDF info). It
    /// travels through enrollment and is stored sealed; only the service's private key opens it.
    public static func sealPINHash(pin: String, privateKey: P256.KeyAgreement.PrivateKey, peerPublicKey: Data,
                                   deviceID: String) throws(OCRAKeyError) -> [UInt8] {
        let key = try pinKey(privateKey: privateKey, peerPublicKey: peerPublicKey, deviceID: deviceID)
        let hash = OCRA.digest(.sha1, Array(pin.utf8))
        guard let box = try? ChaChaPoly.seal(hash, using: key, authenticating: Data(deviceID.utf8)) else { throw .badPublicKey }
        return Array(box.combined)
    }

    /// Opens what ``sealPINHash(pin:privateKey:peerPublicKey:deviceID:)`` made, from the other side.
    public static func openPINHash(_ sealed: [UInt8], privateKey: P256.KeyAgreement.PrivateKey, peerPublicKey: Data,
                                   deviceID: String) throws(OCRAKeyError) -> [UInt8] {
        let key = try pinKey(privateKey: privateKey, peerPublicKey: peerPublicKey, deviceID: deviceID)
        guard let box = try? ChaChaPoly.SealedBox(combined: sealed),
              let hash = try? ChaChaPoly.open(box, using: key, authenticating: Data(deviceID.utf8)), hash.count == 20 else {
            throw .badSealedPIN
        }
        return Array(hash)
    }

    private static func pinKey(privateKey: P256.KeyAgreement.PrivateKey, peerPublicKey: Data,
                               deviceID: String) throws(OCRAKeyError) -> SymmetricKey {
        let bytes = try derive(privateKey: privateKey, peerPublicKey: peerPublicKey, deviceID: deviceID, info: pinInfo)
        return SymmetricKey(data: bytes)
    }

    static let pinInfo = Data("sls ocra pin v1".utf8)

    /// CHL-03 Decided: a 6-digit numeric question and an 8-digit response; Android adds the PIN's hash.
    public static func suite(android: Bool) -> String {
        android ? "OCRA-1:HOTP-SHA256-8:QN06-PSHA1" : "OCRA-1:HOTP-SHA256-8:QN06"
    }
}

public enum OCRAKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case badPublicKey
    case badSealedPIN
    public var description: String {
        switch self {
        case .badPublicKey: "the phone's key-agreement key is not a P-256 public key"
        case .badSealedPIN: "the phone's sealed PIN hash does not open with this service's key"
        }
    }
}
