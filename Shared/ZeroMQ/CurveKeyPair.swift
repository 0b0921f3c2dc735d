import CZeroMQ

/// A CurveZMQ long-term key pair, both keys in Z85 text (40 characters), as
/// `zmq_curve_keypair` makes them.
///
/// The secret key never appears in `description` or any error: print the value freely.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible {
    /// The public key, Z85: safe to share.
    public let publicKey: String
    /// The secret key, Z85: keep it in a file readable by its owner only.
    public let secretKey: String

    /// A new random key pair (libzmq draws it from libsodium).
    public static func generate() throws -> CurveKeyPair {
        var publicKey = [CChar](repeating: 0, count: 41)
        var secretKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_keypair(&publicKey, &secretKey) == 0 else {
            throw ZMQError.last("zmq_curve_keypair (is libzmq built with CURVE?)")
        }
        return CurveKeyPair(publicKey: Self.string(publicKey), secretKey: Self.string(secretKey))
    }

    /// The pair of `secretKey`, its public key derived from it.
    ///
    /// - Throws: ``CurveKeyError`` when `secretKey` is not a 40-character Z85 key.
    public init(secretKey: String) throws(CurveKeyError) {
        guard CurveKeyPair.isValidKey(secretKey) else { throw CurveKeyError.notZ85(what: "secret key") }
        var publicKey = [CChar](repeating: 0, count: 41)
        guard zmq_curve_public(&publicKey, secretKey) == 0 else { throw CurveKeyError.notZ85(what: "secret key") }
        self.init(publicKey: Self.string(publicKey), secretKey: secretKey)
    }

    private init(publicKey: String, secretKey: String) {
        self.publicKey = publicKey
        self.secretKey = secretKey
    }

    /// Whether `key` is a CurveZMQ key in Z85: 40 characters of the Z85 alphabet.
    public static func isValidKey(_ key: String) -> Bool {
        decode(key) != nil
    }

    /// The 32 bytes of a Z85 key, or nil when it is not one.
    public static func decode(_ key: String) -> [UInt8]? {
        guard key.utf8.count == 40, key.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else { return nil }
        var bytes = [UInt8](repeating: 0, count: 32)
        guard zmq_z85_decode(&bytes, key) != nil else { return nil }
        return bytes
    }

    /// The public key only.
    public var description: String { "CurveKeyPair(public: \(publicKey))" }

    private static func string(_ characters: [CChar]) -> String {
        String(decoding: characters.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}

/// A key that is not a CurveZMQ key.
public enum CurveKeyError: Error, Sendable, CustomStringConvertible {
    case notZ85(what: String)

    public var description: String {
        switch self {
        case .notZ85(let what): "the \(what) is not a CurveZMQ key (40 characters of Z85)"
        }
    }
}
