import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import ZeroMQ

/// Key files: a process's key pair (secret, mode 0600) and public keys (`<identity>.pub`).
///
/// Both are short text files of `name = value` lines; `#` starts a comment:
///
///     # CurveZMQ key pair of "crypto-rules". Secret: readable by its owner only.
///     identity = crypto-rules
///     public-key = <40 characters of Z85>
///     secret-key = <40 characters of Z85>
///
/// A public key file has the same lines without `secret-key`, and is named after its identity.
public enum CurveKeyFile {
    /// Files larger than this are not key files (and are not read into memory).
    static let maxBytes = 4096

    /// Reads a key pair file, refusing one that group or others could read or write.
    public static func loadKeyPair(at path: String) throws(BusSecurityError) -> (identity: String, keyPair: CurveKeyPair) {
        var info = stat()
        guard stat(path, &info) == 0 else {
            throw BusSecurityError("key file \(path): \(String(cString: strerror(errno)))")
        }
        guard info.st_mode & S_IFMT == S_IFREG else { throw BusSecurityError("key file \(path) is not a regular file") }
        let mode = info.st_mode & 0o777
        guard mode & 0o077 == 0 else {
            throw BusSecurityError("key file \(path) is open to other users (mode \(String(mode, radix: 8))); "
                                   + "a secret key must be readable by its owner only: chmod 600 \(path)")
        }
        let fields = try fields(of: path)
        guard let identity = fields["identity"], IdentityName.isValid(identity) else {
            throw BusSecurityError("key file \(path) has no valid 'identity = name' line")
        }
        guard let secret = fields["secret-key"] else {
            throw BusSecurityError("key file \(path) has no 'secret-key' line (is it a public key file?)")
        }
        let keyPair: CurveKeyPair
        do {
            keyPair = try CurveKeyPair(secretKey: secret)
        } catch {
            throw BusSecurityError("key file \(path): \(error)")
        }
        if let stated = fields["public-key"], stated != keyPair.publicKey {
            throw BusSecurityError("key file \(path): its public-key is not the one of its secret-key")
        }
        return (identity, keyPair)
    }

    /// Reads a public key file; its identity must be its file name without `.pub`.
    public static func loadPublicKey(at path: String) throws(BusSecurityError) -> (identity: String, publicKey: String) {
        let fields = try fields(of: path)
        guard fields["secret-key"] == nil else {
            throw BusSecurityError("public key file \(path) holds a secret key: move it out of the public key directory")
        }
        guard let identity = fields["identity"], IdentityName.isValid(identity) else {
            throw BusSecurityError("public key file \(path) has no valid 'identity = name' line")
        }
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        guard fileName == identity + ".pub" else {
            throw BusSecurityError("public key file \(path) names identity '\(identity)': it must be called \(identity).pub")
        }
        guard let key = fields["public-key"], CurveKeyPair.isValidKey(key) else {
            throw BusSecurityError("public key file \(path) has no valid 'public-key' line (40 characters of Z85)")
        }
        return (identity, key)
    }

    /// Writes `keyPair` of `identity` as `<directory>/secret/<identity>.key` (mode 0600, folder
    /// 0700) and `<directory>/public/<identity>.pub`. Refuses to replace existing files.
    public static func save(_ keyPair: CurveKeyPair, identity: String, inKeyring directory: String) throws(BusSecurityError) {
        guard IdentityName.isValid(identity) else {
            throw BusSecurityError("'\(identity.prefix(80))' is not an identity name (a-z, 0-9, '.', '_', '-'; at most 64)")
        }
        let secretDirectory = directory + "/secret", publicDirectory = directory + "/public"
        // The keyring's own parents (e.g. .run/ on a first `make run`) are made as needed.
        try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (folder, mode) in [(directory, 0o755), (publicDirectory, 0o755), (secretDirectory, 0o700)] {
            if mkdir(folder, mode_t(mode)) != 0 && errno != EEXIST {
                throw BusSecurityError("cannot create \(folder): \(String(cString: strerror(errno)))")
            }
        }
        try create(secretDirectory + "/\(identity).key", mode: 0o600, contents: """
            # CurveZMQ key pair of "\(identity)". Secret: keep it readable by its owner only (mode 0600).
            identity = \(identity)
            public-key = \(keyPair.publicKey)
            secret-key = \(keyPair.secretKey)

            """)
        try create(publicDirectory + "/\(identity).pub", mode: 0o644, contents: """
            # CurveZMQ public key of "\(identity)". Copy it to the public key directory of every
            # party that must admit "\(identity)" or reach it.
            identity = \(identity)
            public-key = \(keyPair.publicKey)

            """)
    }

    private static func create(_ path: String, mode: Int, contents: String) throws(BusSecurityError) {
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, mode_t(mode))
        guard descriptor >= 0 else {
            throw BusSecurityError("cannot create \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        // The umask may have narrowed the mode; a public file must stay readable.
        fchmod(descriptor, mode_t(mode))
        let bytes = Array(contents.utf8)
        guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
            throw BusSecurityError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// The `name = value` lines of a small text file.
    private static func fields(of path: String) throws(BusSecurityError) -> [String: String] {
        let descriptor = open(path, O_RDONLY)
        guard descriptor >= 0 else {
            throw BusSecurityError("cannot read \(path): \(String(cString: strerror(errno)))")
        }
        defer { close(descriptor) }
        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        var count = 0
        while count < bytes.count {
            let got = bytes.withUnsafeMutableBytes { read(descriptor, $0.baseAddress! + count, $0.count - count) }
            if got < 0 && errno == EINTR { continue }
            guard got >= 0 else { throw BusSecurityError("cannot read \(path): \(String(cString: strerror(errno)))") }
            if got == 0 { break }
            count += got
        }
        guard count <= maxBytes else { throw BusSecurityError("\(path) is larger than a key file (\(maxBytes) bytes)") }
        guard let text = String(validating: bytes[..<count], as: UTF8.self) else {
            throw BusSecurityError("\(path) is not UTF-8 text")
        }
        var fields: [String: String] = [:]
        for line in text.split(whereSeparator: \.isNewline) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            guard let equals = trimmed.firstIndex(of: "=") else {
                throw BusSecurityError("\(path): a line is not 'name = value'")
            }
            let name = trimmed[..<equals].trimmingCharacters(in: .whitespaces)
            let value = trimmed[trimmed.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            guard fields.updateValue(value, forKey: name) == nil else {
                throw BusSecurityError("\(path): '\(name.prefix(32))' is set twice")
            }
        }
        return fields
    }
}
