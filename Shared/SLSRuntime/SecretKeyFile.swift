import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A 256-bit secret in a file of its own: 64 hex characters, readable by its owner only. Used for
/// the keys a service keeps at rest (DSC+ seed sealing, challenge verification's key agreement).
public enum SecretKeyFile {
    /// The 32 bytes in `path`, refusing a file open to group or others. With `createIfMissing`, a new
    /// random key is written first (mode 0600, never over an existing file).
    ///
    /// - Parameter what: the key's name in messages, e.g. "card seed key file".
    public static func load(_ path: String, createIfMissing: Bool, what: String) throws -> [UInt8] {
        if createIfMissing {
            var generator = SystemRandomNumberGenerator()
            let text = (0..<32).map { _ in String(format: "%02x", UInt8.random(in: .min ... .max, using: &generator)) }
                .joined() + "\n"
            let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
            if descriptor >= 0 {
                defer { close(descriptor) }
                let bytes = Array(text.utf8)
                guard bytes.withUnsafeBytes({ write(descriptor, $0.baseAddress, $0.count) }) == bytes.count else {
                    throw SecretKeyFileError("cannot write the \(what) \(path)")
                }
            } else if errno != EEXIST {
                throw SecretKeyFileError("cannot create the \(what) \(path): \(String(cString: strerror(errno)))")
            }
        }
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path) else {
            throw SecretKeyFileError("the \(what) \(path) does not exist")
        }
        if let mode = attributes[.posixPermissions] as? Int, mode & 0o077 != 0 {
            throw SecretKeyFileError("the \(what) \(path) is open to other users (mode \(String(mode, radix: 8))): "
                                     + "chmod 600 \(path)")
        }
        guard let data = FileManager.default.contents(atPath: path), data.count <= 256,
              let text = String(data: data, encoding: .utf8)?.trimmingCharacters(in: .whitespacesAndNewlines),
              text.utf8.count == 64 else {
            throw SecretKeyFileError("the \(what) \(path) must hold 64 hex characters (a 256-bit key)")
        }
        let digits = Array(text.utf8)
        var key: [UInt8] = []
        for pair in stride(from: 0, to: 64, by: 2) {
            guard let value = UInt8(String(decoding: digits[pair...pair + 1], as: UTF8.self), radix: 16) else {
                throw SecretKeyFileError("the \(what) \(path) must hold 64 hex characters (a 256-bit key)")
            }
            key.append(value)
        }
        return key
    }
}

/// A secret key file that cannot be used; never carries the key.
public struct SecretKeyFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
