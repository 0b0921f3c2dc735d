import CSodium

/// ACC-02: passwords are stored only as Argon2id hashes (libsodium's `crypto_pwhash_argon2id_str`,
/// which carries its parameters and salt in the string it returns).
public struct PasswordHasher: Sendable, Equatable {
    /// Passes over memory (libsodium's opslimit).
    public var passes: Int
    /// Memory per hash in bytes (libsodium's memlimit); libsodium uses one lane.
    public var memoryBytes: Int

    /// OWASP's minimum for Argon2id: 19 MiB, 2 passes, 1 lane.
    public static let owaspMinimum = PasswordHasher(passes: 2, memoryBytes: 19 << 20)

    public init(passes: Int, memoryBytes: Int) {
        self.passes = passes
        self.memoryBytes = memoryBytes
    }

    /// Whether libsodium accepts these parameters.
    public var isValid: Bool {
        passes >= Int(crypto_pwhash_argon2id_OPSLIMIT_MIN) && memoryBytes >= Int(crypto_pwhash_argon2id_MEMLIMIT_MIN)
            && memoryBytes <= 1 << 32
    }

    /// The encoded hash of `password` (a random salt each time). Blocks for the hash's time:
    /// call it off any event loop.
    public func hash(_ password: String) throws(PasswordHashError) -> String {
        guard Self.ready else { throw .sodiumUnavailable }
        var output = [CChar](repeating: 0, count: Int(crypto_pwhash_argon2id_STRBYTES))
        let length = UInt64(password.utf8.count)
        let result = password.withCString {
            crypto_pwhash_argon2id_str(&output, $0, length, UInt64(passes), Int(memoryBytes))
        }
        guard result == 0 else { throw .outOfMemory }
        return String(decoding: output.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// Whether `password` matches `encoded` (constant time inside libsodium). Blocks like ``hash(_:)``.
    public func verify(_ password: String, against encoded: String) -> Bool {
        guard Self.ready, encoded.utf8.count < Int(crypto_pwhash_argon2id_STRBYTES) else { return false }
        let length = UInt64(password.utf8.count)
        return password.withCString { crypto_pwhash_argon2id_str_verify(encoded, $0, length) == 0 }
    }

    /// Whether `encoded` was made with other parameters than these (rehash it at the next login).
    public func needsRehash(_ encoded: String) -> Bool {
        guard Self.ready else { return false }
        return crypto_pwhash_argon2id_str_needs_rehash(encoded, UInt64(passes), Int(memoryBytes)) != 0
    }

    /// libsodium's one-time initialisation (thread safe, idempotent).
    private static let ready: Bool = sodium_init() >= 0
}

public enum PasswordHashError: Error, Sendable, Equatable, CustomStringConvertible {
    case sodiumUnavailable
    case outOfMemory

    public var description: String {
        switch self {
        case .sodiumUnavailable: "libsodium could not be initialised"
        case .outOfMemory: "the password hash could not be computed (memory limit)"
        }
    }
}
