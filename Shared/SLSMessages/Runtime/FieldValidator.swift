/// The limits every message from outside is held to, before any handler sees it.
///
/// Each field's rule comes from its declaration (see `protoc-gen-slsswift`): strings named
/// `*_id`, `producer`, `caller`, `method`, `type`, `month` and the like are identifiers, other
/// strings are text, `*_unix_ms` fields are times. Services tighten these per field where the
/// domain says so (amounts, PINs, keys).
public struct FieldLimits: Sendable, Hashable {
    /// Longest identifier, in UTF-8 bytes.
    public var identifierBytes: Int
    /// Longest free-text string, in UTF-8 bytes.
    public var textBytes: Int
    /// Largest `bytes` field.
    public var bytesFieldBytes: Int
    /// Most elements in one repeated field.
    public var repeatedCount: Int
    /// How far ahead of this machine's clock an observed time (when something happened) may be.
    public var clockSkewMilliseconds: Int64

    /// Defaults: identifiers 128 bytes, text 4,096 bytes, bytes 1 MiB, 1,000 elements, 5 minutes of skew.
    public init(identifierBytes: Int = 128, textBytes: Int = 4096, bytesFieldBytes: Int = 1 << 20,
                repeatedCount: Int = 1000, clockSkewMilliseconds: Int64 = 300_000) {
        self.identifierBytes = identifierBytes
        self.textBytes = textBytes
        self.bytesFieldBytes = bytesFieldBytes
        self.repeatedCount = repeatedCount
        self.clockSkewMilliseconds = clockSkewMilliseconds
    }
}

/// A field that breaks a limit: which field (with its path in nested messages) and why.
public struct FieldViolation: Error, Sendable, Hashable, CustomStringConvertible {
    /// The field's proto name with its path, e.g. `metadata[2].key`.
    public let field: String
    /// What is wrong and what the limit is; never contains the value itself.
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(field) \(reason)" }
}

/// Checks fields against ``FieldLimits``; generated `validate(_:in:)` methods call it.
///
/// It never echoes the value it refuses: the value may be huge, forged or secret.
public struct FieldValidator: Sendable {
    public let limits: FieldLimits
    /// This machine's time, in Unix milliseconds, for the clock-skew rule.
    public let nowUnixMs: Int64

    /// The latest time accepted for any field: the end of year 9999 UTC.
    public static let latestUnixMs: Int64 = 253_402_300_799_999

    public init(limits: FieldLimits = FieldLimits(), nowUnixMs: Int64) {
        self.limits = limits
        self.nowUnixMs = nowUnixMs
    }

    /// An identifier: 1 to `identifierBytes` bytes when set, no control characters.
    /// Empty is left to the rules (a required id says so by name).
    public func identifier(_ value: String, _ field: StaticString, in path: String) throws(FieldViolation) {
        let utf8 = value.utf8
        guard utf8.count <= limits.identifierBytes else {
            throw violation(field, path, "is \(utf8.count) bytes; the limit is \(limits.identifierBytes)")
        }
        if Self.firstControlCharacter(in: value, allowingLineBreaks: false) != nil {
            throw violation(field, path, "contains a control character; identifiers are printable text")
        }
    }

    /// The first control character of `value` (tab, line feed and carriage return allowed when
    /// `allowingLineBreaks`), read from the string's UTF-8 storage: this runs for every string field
    /// of every request.
    static func firstControlCharacter(in value: String, allowingLineBreaks: Bool) -> UInt8? {
        func isControl(_ byte: UInt8) -> Bool {
            (byte < 0x20 && !(allowingLineBreaks && (byte == 0x09 || byte == 0x0A || byte == 0x0D))) || byte == 0x7F
        }
        if let found = value.utf8.withContiguousStorageIfAvailable({ bytes -> UInt8? in
            hasNoControlCharacter(bytes) ? nil : bytes.first(where: isControl)
        }) {
            return found
        }
        return value.utf8.first(where: isControl)
    }

    /// The common case, eight bytes at a time: no byte below 0x20 and no DEL (0x7F).
    private static func hasNoControlCharacter(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        ByteScan.noneFlagged(bytes, word: { ByteScan.hasByte(below: 0x20, in: $0) || ByteScan.hasByte(equalTo: 0x7F, in: $0) },
                             byte: { $0 < 0x20 || $0 == 0x7F })
    }

    /// A pasted document (a public key): text limited like a `bytes` field, so the service's own
    /// rules judge it.
    public func document(_ value: String, _ field: StaticString, in path: String) throws(FieldViolation) {
        let utf8 = value.utf8
        guard utf8.count <= limits.bytesFieldBytes else {
            throw violation(field, path, "is \(utf8.count) bytes; the limit is \(limits.bytesFieldBytes)")
        }
        if let byte = Self.firstControlCharacter(in: value, allowingLineBreaks: true) {
            throw violation(field, path, "contains the control character 0x\(String(byte, radix: 16))")
        }
    }

    /// Free text: at most `textBytes` bytes; tabs and line breaks allowed, other control characters not.
    public func text(_ value: String, _ field: StaticString, in path: String) throws(FieldViolation) {
        let utf8 = value.utf8
        guard utf8.count <= limits.textBytes else {
            throw violation(field, path, "is \(utf8.count) bytes; the limit is \(limits.textBytes)")
        }
        if let byte = Self.firstControlCharacter(in: value, allowingLineBreaks: true) {
            throw violation(field, path, "contains the control character 0x\(String(byte, radix: 16))")
        }
    }

    /// A `bytes` field of `count` bytes.
    public func bytes(_ count: Int, _ field: StaticString, in path: String) throws(FieldViolation) {
        guard count <= limits.bytesFieldBytes else {
            throw violation(field, path, "is \(count) bytes; the limit is \(limits.bytesFieldBytes)")
        }
    }

    /// A repeated field of `count` elements.
    public func count(_ count: Int, _ field: StaticString, in path: String) throws(FieldViolation) {
        guard count <= limits.repeatedCount else {
            throw violation(field, path, "has \(count) elements; the limit is \(limits.repeatedCount)")
        }
    }

    /// When something happened: not negative, not further ahead than the clock skew (0 means unset).
    public func observedTime(_ unixMs: Int64, _ field: StaticString, in path: String) throws(FieldViolation) {
        guard unixMs >= 0 else { throw violation(field, path, "is a time before 1970") }
        let (latest, overflow) = nowUnixMs.addingReportingOverflow(limits.clockSkewMilliseconds)
        guard overflow || unixMs <= latest else {
            throw violation(field, path, "is \(unixMs - nowUnixMs) ms in the future; "
                            + "at most \(limits.clockSkewMilliseconds) ms of clock skew is accepted")
        }
    }

    /// A time that may lie ahead (deadlines, expiry): not negative, not after year 9999.
    public func futureTime(_ unixMs: Int64, _ field: StaticString, in path: String) throws(FieldViolation) {
        guard unixMs >= 0 else { throw violation(field, path, "is a time before 1970") }
        guard unixMs <= Self.latestUnixMs else { throw violation(field, path, "is a time after the year 9999") }
    }

    /// The path of a nested message field, e.g. `order.` or `metadata[2].`.
    public func path(_ path: String, _ field: StaticString, index: Int? = nil) -> String {
        if let index { return "\(path)\(field)[\(index)]." }
        return "\(path)\(field)."
    }

    private func violation(_ field: StaticString, _ path: String, _ reason: String) -> FieldViolation {
        FieldViolation(field: path + "\(field)", reason: reason)
    }
}
