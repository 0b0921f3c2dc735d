import CSSH
import Crypto
import Foundation
import ReportDeliveryCore

/// The SFTP endpoint's host keys: made on first start (Ed25519, ECDSA P-256, RSA 3072), kept in
/// the data folder (mode 0600) and reused afterwards, so clients' known_hosts entries stay valid.
public struct HostKeys: Sendable {
    /// One key file and its fingerprint as `ssh-keygen -l` shows it.
    public struct Key: Sendable {
        public let path: String
        public let keyType: String
        public let fingerprint: String
    }

    public let keys: [Key]

    /// Loads the keys in `folder`, making those that are missing. Blocks (RSA generation takes a second).
    public static func loadOrCreate(in folder: String) throws -> HostKeys {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        var keys: [Key] = []
        for (name, type, parameter) in [("ssh_host_ed25519_key", SSH_KEYTYPE_ED25519, 0),
                                         ("ssh_host_ecdsa_key", SSH_KEYTYPE_ECDSA_P256, 256),
                                         ("ssh_host_rsa_key", SSH_KEYTYPE_RSA, 3072)] {
            let path = folder + "/" + name
            var key: ssh_key?
            defer { ssh_key_free(key) }
            if FileManager.default.fileExists(atPath: path) {
                guard ssh_pki_import_privkey_file(path, nil, nil, nil, &key) == SSH_OK else {
                    throw HostKeyError("the host key \(path) cannot be read; restore it or remove it to make a new one "
                                       + "(clients will then warn that the host key changed)")
                }
            } else {
                guard ssh_pki_generate(type, Int32(parameter), &key) == SSH_OK,
                      ssh_pki_export_privkey_file(key, nil, nil, nil, path) == SSH_OK else {
                    throw HostKeyError("cannot make the host key \(path)")
                }
            }
            chmod(path, 0o600)
            var base64: UnsafeMutablePointer<CChar>?
            guard ssh_pki_export_pubkey_base64(key, &base64) == SSH_OK, let base64,
                  let blob = Data(base64Encoded: String(cString: base64)) else {
                throw HostKeyError("cannot read the public half of \(path)")
            }
            ssh_string_free_char(base64)
            let typeName = ssh_key_type_to_char(ssh_key_type(key)).map { String(cString: $0) } ?? "unknown"
            let parsed = SSHPublicKey(storedBlob: blob, keyType: typeName, bits: 0, comment: "")
            keys.append(Key(path: path, keyType: parsed.keyType, fingerprint: parsed.fingerprint))
        }
        return HostKeys(keys: keys)
    }
}

public struct HostKeyError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
