/// A key file, public key directory or policy that cannot be used, in words that say which
/// file and what to do about it. Never carries key material.
public struct BusSecurityError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Names of identities: lower-case letters, digits, `.`, `_` and `-`, at most 64 bytes,
/// starting with a letter or digit (they become file names and log values).
public enum IdentityName {
    public static let maxBytes = 64

    public static func isValid(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= maxBytes,
              (0x61...0x7A).contains(first) || (0x30...0x39).contains(first) else { return false }
        return name.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2E
            || $0 == 0x5F || $0 == 0x2D }
    }
}
