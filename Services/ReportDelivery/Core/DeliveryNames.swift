/// The names report delivery accepts from callers: SFTP user names, statement ids, file names,
/// periods. Each is checked before it reaches a path, a database row or a log line.
public enum DeliveryNames {
    /// Letters, digits, `.`, `_` and `-`; not starting with `.` or `-`; 1 to 64 bytes.
    public static func checkUserName(_ name: String) throws(DeliveryRefusal) -> String {
        guard (1...64).contains(name.utf8.count), Self.isPlain(name), let first = name.utf8.first,
              first != UInt8(ascii: "."), first != UInt8(ascii: "-") else {
            throw .invalid(field: "user_name", "1 to 64 letters, digits, '.', '_' or '-', not starting with '.' or '-'")
        }
        return name
    }

    /// A statement's file name in the user's folder: the same characters as a user name plus
    /// spaces inside, at most 120 bytes, not hidden. The delivered file is this and `.gpg`.
    public static func checkFileName(_ name: String) throws(DeliveryRefusal) -> String {
        guard (1...120).contains(name.utf8.count), let first = name.utf8.first, first != UInt8(ascii: "."),
              first != UInt8(ascii: " "), name.utf8.last != UInt8(ascii: " "),
              Self.isPlain(name.replacingOccurrences(of: " ", with: "_")) else {
            throw .invalid(field: "name", "1 to 120 letters, digits, spaces, '.', '_' or '-', not starting with '.'")
        }
        return name
    }

    /// An issuer's statement id: printable ASCII without spaces, 1 to 128 bytes.
    public static func checkStatementID(_ id: String) throws(DeliveryRefusal) -> String {
        guard (1...128).contains(id.utf8.count), id.utf8.allSatisfy({ (0x21...0x7E).contains($0) }) else {
            throw .invalid(field: "statement_id", "1 to 128 printable ASCII characters without spaces")
        }
        return id
    }

    /// A period such as `2026-10` or `2026-10-31` (digits and `-`, at most 32 bytes).
    public static func checkPeriod(_ period: String) throws(DeliveryRefusal) -> String {
        guard (1...32).contains(period.utf8.count),
              period.utf8.allSatisfy({ (0x30...0x39).contains($0) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "Q") }) else {
            throw .invalid(field: "period", "a period such as 2026-10, 2026-10-31 or 2026-Q3, at most 32 characters")
        }
        return period
    }

    private static func isPlain(_ text: String) -> Bool {
        text.utf8.allSatisfy { byte in
            (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
    }
}

/// A refusal of report delivery's rules, naming the field or the rule.
public enum DeliveryRefusal: Error, Sendable, Equatable, CustomStringConvertible {
    case invalid(field: String, String)
    case tooMany(field: String, limit: Int)

    public var description: String {
        switch self {
        case .invalid(let field, let rule): "\(field) must be \(rule)"
        case .tooMany(let field, let limit): "\(field): at most \(limit)"
        }
    }
}
