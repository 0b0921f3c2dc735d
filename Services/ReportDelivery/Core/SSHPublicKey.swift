import Crypto
import Foundation

/// An SSH public key as a user registers it (DLV-01, DLV-02): the OpenSSH one-line format
/// (`ssh-keygen`, `puttygen -L`) or the RFC 4716 / SSH2 export (`puttygen -p`).
///
/// Only the public half is ever parsed here: text that contains a private key is refused before
/// (``PrivateKeyDetector``), and no error repeats any of the text it was given.
public struct SSHPublicKey: Sendable, Equatable {
    /// The algorithm name inside the key, e.g. `ssh-rsa`, `ssh-ed25519`, `ecdsa-sha2-nistp256`.
    public let keyType: String
    /// The key size: RSA's modulus, the ECDSA curve, 256 for Ed25519.
    public let bits: Int
    /// The key in SSH wire format, as a client offers it when it logs in.
    public let blob: Data
    /// The comment after the key or in the RFC 4716 `Comment:` header, at most 128 characters.
    public let comment: String

    /// The smallest RSA modulus accepted (DLV-02).
    public static let minimumRSABits = 2048
    /// The longest key text accepted (an RSA 16384 key is about 3 KB).
    public static let maxTextBytes = 16 * 1024

    /// `SHA256:` and the unpadded base64 of the blob's SHA-256: what `ssh-keygen -l` prints.
    public var fingerprint: String {
        "SHA256:" + Data(SHA256.hash(data: blob)).base64EncodedString().replacingOccurrences(of: "=", with: "")
    }

    /// The OpenSSH one-line form (type, base64, comment).
    public var openSSHLine: String {
        [keyType, blob.base64EncodedString(), comment].filter { !$0.isEmpty }.joined(separator: " ")
    }

    /// Parses `text` in either format and applies DLV-02's key rules.
    public init(parsing text: String) throws(PublicKeyError) {
        // The length first: the private-key scan lower-cases the text, and a request may carry a megabyte.
        guard text.utf8.count <= Self.maxTextBytes else {
            // Too long to be a public key; still never stored or echoed. Said to be private when it is one.
            throw PrivateKeyDetector.containsPrivateKey(String(text.utf8.prefix(Self.maxTextBytes * 4)) ?? "")
                ? .privateKey : .tooLong(limit: Self.maxTextBytes)
        }
        guard !PrivateKeyDetector.containsPrivateKey(text) else { throw .privateKey }
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let (declaredType, base64, comment): (String?, String, String)
        if trimmed.hasPrefix("---- BEGIN SSH2 PUBLIC KEY ----") {
            (declaredType, base64, comment) = try Self.splitRFC4716(trimmed)
        } else {
            (declaredType, base64, comment) = try Self.splitOneLine(trimmed)
        }
        guard let blob = Data(base64Encoded: base64) else { throw .notBase64 }
        var reader = WireReader(blob)
        guard let type = reader.string().flatMap({ String(data: $0, encoding: .utf8) }) else { throw .malformed }
        if let declaredType, declaredType != type { throw .typeMismatch }
        switch type {
        case "ssh-rsa":
            guard reader.string() != nil, let modulus = reader.string(), reader.isAtEnd else { throw .malformed }
            let bits = Self.bitLength(modulus)
            guard bits >= Self.minimumRSABits else { throw .rsaTooShort(bits: bits, minimum: Self.minimumRSABits) }
            self.bits = bits
        case "ssh-ed25519":
            guard let key = reader.string(), key.count == 32, reader.isAtEnd else { throw .malformed }
            bits = 256
        case "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521":
            let curve = String(type.dropFirst("ecdsa-sha2-".count))
            guard let named = reader.string(), String(data: named, encoding: .utf8) == curve,
                  let point = reader.string(), point.first == 0x04, reader.isAtEnd else { throw .malformed }
            bits = Int(curve.dropFirst("nistp".count)) ?? 0
        case "ssh-dss":
            throw .dsaRefused
        default:
            throw .unsupportedType(String(type.prefix(40)))
        }
        keyType = type
        self.blob = blob
        self.comment = String(comment.prefix(128))
    }

    /// Builds a key from a stored blob (already checked when it was registered).
    public init(storedBlob blob: Data, keyType: String, bits: Int, comment: String) {
        self.blob = blob
        self.keyType = keyType
        self.bits = bits
        self.comment = comment
    }

    private static func splitOneLine(_ text: String) throws(PublicKeyError) -> (String?, String, String) {
        let fields = text.split(maxSplits: 2, whereSeparator: { $0 == " " || $0 == "\t" })
        guard fields.count >= 2, !text.contains("\n") else { throw .unrecognizedFormat }
        let comment = fields.count == 3 ? String(fields[2]).trimmingCharacters(in: .whitespaces) : ""
        return (String(fields[0]), String(fields[1]), comment)
    }

    /// RFC 4716: a BEGIN line, headers (`Tag: value`, a trailing `\` continues a line), base64
    /// lines, an END line.
    private static func splitRFC4716(_ text: String) throws(PublicKeyError) -> (String?, String, String) {
        var lines = text.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
        guard lines.count >= 3, lines.removeLast() == "---- END SSH2 PUBLIC KEY ----" else { throw .unrecognizedFormat }
        lines.removeFirst()
        var comment = ""
        var base64 = ""
        var continued = false
        var pendingHeader = ""
        for line in lines {
            if continued || (base64.isEmpty && line.contains(":")) {
                pendingHeader += line.hasSuffix("\\") ? String(line.dropLast()) : line
                continued = line.hasSuffix("\\")
                if !continued {
                    let parts = pendingHeader.split(separator: ":", maxSplits: 1)
                    if parts.count == 2, parts[0].lowercased() == "comment" {
                        comment = parts[1].trimmingCharacters(in: .whitespaces)
                        if comment.hasPrefix("\""), comment.hasSuffix("\""), comment.count >= 2 {
                            comment = String(comment.dropFirst().dropLast())
                        }
                    }
                    pendingHeader = ""
                }
            } else {
                base64 += line
            }
        }
        guard !base64.isEmpty else { throw .unrecognizedFormat }
        return (nil, base64, comment)
    }

    private static func bitLength(_ integer: Data) -> Int {
        guard let first = integer.firstIndex(where: { $0 != 0 }) else { return 0 }
        let leading = integer[first]
        return (integer.endIndex - first - 1) * 8 + (8 - leading.leadingZeroBitCount)
    }
}

/// Why a public key was refused. No case carries any of the submitted text.
public enum PublicKeyError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLong(limit: Int)
    case privateKey
    case unrecognizedFormat
    case notBase64
    case malformed
    case typeMismatch
    case rsaTooShort(bits: Int, minimum: Int)
    case dsaRefused
    case unsupportedType(String)

    public var description: String {
        switch self {
        case .tooLong(let limit): "the key text is longer than \(limit) bytes"
        case .privateKey: PrivateKeyDetector.refusal
        case .unrecognizedFormat:
            "not an SSH public key: give the OpenSSH one-line format ('ssh-ed25519 AAAA... comment', "
                + "as ssh-keygen or puttygen -L writes it) or the RFC 4716 export ('---- BEGIN SSH2 PUBLIC KEY ----', puttygen -p)"
        case .notBase64: "the key's base64 part does not decode"
        case .malformed: "the key's data is not a well-formed SSH public key"
        case .typeMismatch: "the key type written before the key does not match the key itself"
        case .rsaTooShort(let bits, let minimum):
            "RSA keys need at least \(minimum) bits; this one has \(bits) (DLV-02): make a new pair with ssh-keygen -t rsa -b \(minimum) or -t ed25519"
        case .dsaRefused: "DSA (ssh-dss) keys are refused (DLV-02): make an Ed25519, ECDSA or RSA 2048-bit pair"
        case .unsupportedType(let type): "key type \(type) is not supported: use RSA (2048 bits or more), Ed25519 or ECDSA"
        }
    }
}

/// Reads SSH wire-format strings (a 4-byte big-endian length, then the bytes).
struct WireReader {
    private let data: Data
    private var offset: Int

    init(_ data: Data) {
        self.data = data
        offset = data.startIndex
    }

    var isAtEnd: Bool { offset == data.endIndex }

    mutating func string() -> Data? {
        guard data.endIndex - offset >= 4 else { return nil }
        let length = data[offset..<offset + 4].reduce(0) { $0 << 8 | Int($1) }
        guard length <= data.endIndex - offset - 4 else { return nil }
        let start = offset + 4
        offset = start + length
        return data[start..<offset]
    }
}
