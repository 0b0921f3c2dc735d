import CGPGME
import Foundation
import ReportDeliveryCore

/// DLV-08: users' PGP public keys and statement encryption, through GnuPG (GPGME) in a home folder
/// of the service's own.
///
/// Every method blocks (GPGME runs `gpg`): call it from a ``BlockingWorkPool``. Each call has its
/// own GPGME context, so calls may run on several threads at once.
public final class PGPKeyring: Sendable {
    /// The GnuPG home folder (mode 0700) holding the users' public keys, and nothing secret.
    public let home: String

    /// A key as GnuPG reads it.
    public struct KeyInfo: Sendable, Equatable {
        public let fingerprint: String
        public let userID: String
    }

    private static let ready: Bool = {
        _ = gpgme_check_version(nil)
        return true
    }()

    public init(home: String) throws {
        precondition(Self.ready)
        try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        chmod(home, 0o700)
        self.home = home
        // Checked once so a missing gpg is a start-up error, not a failed delivery.
        _ = try context()
    }

    /// Reads `armored` without keeping anything and adds it to the keyring when it is one public
    /// key that can encrypt. A secret key is refused (DLV-03) before GnuPG stores anything: the
    /// text markers first, then GnuPG's own reading (`--import-options show-only`).
    public func register(armored: String) throws(PGPKeyError) -> KeyInfo {
        guard !PrivateKeyDetector.containsPrivateKey(armored) else { throw .privateKey }
        guard armored.utf8.count <= 64 * 1024 else { throw .tooLong(limit: 64 * 1024) }
        guard armored.contains("-----BEGIN PGP PUBLIC KEY BLOCK-----") else { throw .notArmored }
        let context = try context()
        defer { gpgme_release(context) }
        let keys = try inspect(armored, in: context)
        guard keys.count == 1, let key = keys.first else { throw .notOneKey(count: keys.count) }
        guard !key.secret else { throw .privateKey }
        guard key.canEncrypt else { throw .cannotEncrypt }
        guard key.usable else { throw .unusable }
        var data: gpgme_data_t?
        guard gpgme_data_new_from_mem(&data, armored, armored.utf8.count, 1) == 0, let data else { throw .gnupg("data") }
        defer { gpgme_data_release(data) }
        guard gpgme_op_import(context, data) == 0, let result = gpgme_op_import_result(context),
              result.pointee.considered == 1, result.pointee.secret_imported == 0 else {
            throw .gnupg("import")
        }
        return KeyInfo(fingerprint: key.fingerprint, userID: key.userID)
    }

    /// Encrypts `plaintext` to the key `fingerprint` (binary OpenPGP, as `gpg --encrypt` writes).
    public func encrypt(_ plaintext: Data, to fingerprint: String) throws(PGPKeyError) -> Data {
        let context = try context()
        defer { gpgme_release(context) }
        gpgme_set_armor(context, 0)
        var key: gpgme_key_t?
        guard gpgme_get_key(context, fingerprint, &key, 0) == 0, let key else { throw .unknownKey }
        defer { gpgme_key_unref(key) }
        var plain: gpgme_data_t?
        var cipher: gpgme_data_t?
        let created = plaintext.withUnsafeBytes { raw in
            gpgme_data_new_from_mem(&plain, raw.baseAddress?.assumingMemoryBound(to: CChar.self), raw.count, 1)
        }
        guard created == 0, let plain else { throw .gnupg("data") }
        defer { gpgme_data_release(plain) }
        guard gpgme_data_new(&cipher) == 0, let cipher else { throw .gnupg("data") }
        var recipients: [gpgme_key_t?] = [key, nil]
        let status = gpgme_op_encrypt(context, &recipients, GPGME_ENCRYPT_ALWAYS_TRUST, plain, cipher)
        var length = 0
        let bytes = gpgme_data_release_and_get_mem(cipher, &length)
        defer { gpgme_free(bytes) }
        guard status == 0, let bytes else { throw .gnupg("encrypt") }
        return Data(bytes: bytes, count: length)
    }

    /// Removes the key `fingerprint` (when the user replaces it).
    public func remove(fingerprint: String) {
        guard let context = try? context() else { return }
        defer { gpgme_release(context) }
        var key: gpgme_key_t?
        guard gpgme_get_key(context, fingerprint, &key, 0) == 0, let key else { return }
        defer { gpgme_key_unref(key) }
        _ = gpgme_op_delete_ext(context, key, UInt32(GPGME_DELETE_FORCE))
    }

    private struct Inspected {
        let fingerprint: String
        let userID: String
        let secret: Bool
        let canEncrypt: Bool
        let usable: Bool
    }

    /// GnuPG's reading of `armored` without importing it.
    private func inspect(_ armored: String, in context: gpgme_ctx_t) throws(PGPKeyError) -> [Inspected] {
        var data: gpgme_data_t?
        guard gpgme_data_new_from_mem(&data, armored, armored.utf8.count, 1) == 0, let data else { throw .gnupg("data") }
        defer { gpgme_data_release(data) }
        guard gpgme_op_keylist_from_data_start(context, data, 0) == 0 else { throw .unreadable }
        defer { gpgme_op_keylist_end(context) }
        var keys: [Inspected] = []
        var key: gpgme_key_t?
        while gpgme_op_keylist_next(context, &key) == 0, let current = key {
            defer { gpgme_key_unref(current) }
            var secret = current.pointee.secret != 0
            var subkey = current.pointee.subkeys
            while let sub = subkey {
                if sub.pointee.secret != 0 { secret = true }
                subkey = sub.pointee.next
            }
            let userID = current.pointee.uids?.pointee.uid.map { String(cString: $0) } ?? ""
            keys.append(Inspected(
                fingerprint: current.pointee.fpr.map { String(cString: $0) } ?? "",
                userID: String(userID.prefix(128)), secret: secret,
                canEncrypt: current.pointee.can_encrypt != 0,
                usable: current.pointee.revoked == 0 && current.pointee.expired == 0 && current.pointee.disabled == 0
                    && current.pointee.invalid == 0))
            if keys.count > 8 { break }
        }
        guard !keys.isEmpty else { throw .unreadable }
        return keys
    }

    private func context() throws(PGPKeyError) -> gpgme_ctx_t {
        var context: gpgme_ctx_t?
        guard gpgme_new(&context) == 0, let context else { throw .gnupg("context") }
        guard gpgme_set_protocol(context, GPGME_PROTOCOL_OpenPGP) == 0,
              gpgme_ctx_set_engine_info(context, GPGME_PROTOCOL_OpenPGP, nil, home) == 0 else {
            gpgme_release(context)
            throw .gnupg("GnuPG is not installed or its home folder is unusable")
        }
        return context
    }
}

/// Why a PGP key was refused or a statement could not be encrypted. No case repeats key text.
public enum PGPKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLong(limit: Int)
    case privateKey
    case notArmored
    case unreadable
    case notOneKey(count: Int)
    case cannotEncrypt
    case unusable
    case unknownKey
    case gnupg(String)

    public var description: String {
        switch self {
        case .tooLong(let limit): "the PGP key is longer than \(limit) bytes"
        case .privateKey: PrivateKeyDetector.refusal
        case .notArmored: "give an ASCII-armored PGP public key ('-----BEGIN PGP PUBLIC KEY BLOCK-----', gpg --export --armor)"
        case .unreadable: "GnuPG cannot read this as a PGP public key"
        case .notOneKey(let count): "give exactly one PGP public key (found \(count))"
        case .cannotEncrypt: "this PGP key cannot encrypt (it has no encryption subkey)"
        case .unusable: "this PGP key is revoked, expired or disabled"
        case .unknownKey: "the user's PGP key is not in the keyring"
        case .gnupg(let step): "GnuPG failed (\(step))"
        }
    }
}
