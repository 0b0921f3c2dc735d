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

    /// CHL-03 Decided: a 6-digit numeric question and an 8-digit response; Android adds the PIN's hash.
    public static func suite(android: Bool) -> String {
        android ? "OCRA-1:HOTP-SHA256-8:QN06-PSHA1" : "OCRA-1:HOTP-SHA256-8:QN06"
    }
}

public enum OCRAKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case badPublicKey
    public var description: String { "the phone's key-agreement key is not a P-256 public key" }
}
