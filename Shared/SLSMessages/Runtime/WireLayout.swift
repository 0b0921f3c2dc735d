/// Where a message's strings and nested messages are on the wire, for the checks that
/// protobuf-c's C strings cannot make.
///
/// protobuf-c hands strings over NUL-terminated, so `"U1\0someone-else"` would reach Swift as
/// `"U1"`, and it does not check UTF-8, which Swift would quietly repair. Either way a service
/// would act on another value than the one sent. Before unpacking, every string field is
/// checked on the wire: no NUL byte, valid UTF-8 (as proto3 requires).
struct WireLayout: Sendable {
    /// What a length-delimited field is, by number.
    private enum Kind: Sendable {
        case other
        case string(StaticString)
        case message(StaticString, @Sendable () -> WireLayout)
    }

    /// Kinds indexed by field number, so the scan of every decoded message looks fields up
    /// without hashing; numbers past ``denseLimit`` (protobuf allows up to 2²⁹) go in `sparse`.
    private let kinds: [Kind]
    private let sparse: [UInt32: Kind]
    private static let denseLimit: UInt32 = 256

    /// - Parameters:
    ///   - strings: string fields by number, with their names for errors.
    ///   - messages: message fields by number: name and the nested layout.
    init(strings: [UInt32: StaticString], messages: [UInt32: (StaticString, @Sendable () -> WireLayout)]) {
        var all: [UInt32: Kind] = strings.mapValues { .string($0) }
        for (number, (name, nested)) in messages { all[number] = .message(name, nested) }
        let dense = all.keys.filter { $0 < Self.denseLimit }
        var kinds = [Kind](repeating: .other, count: (dense.max().map { Int($0) + 1 }) ?? 0)
        for number in dense { kinds[Int(number)] = all[number]! }
        self.kinds = kinds
        sparse = all.filter { $0.key >= Self.denseLimit }
    }

    /// Throws for a string field holding NUL or invalid UTF-8. Anything else malformed is left
    /// to protobuf-c, which refuses it; scanning just stops there.
    func check(_ bytes: UnsafeBufferPointer<UInt8>) throws(ProtoDecodingError) {
        try check(bytes, path: { "" }, depth: 0)
    }

    /// `path` spells out where this message sits, for errors only (so no string is built per field).
    private func check(_ bytes: UnsafeBufferPointer<UInt8>, path: () -> String, depth: Int) throws(ProtoDecodingError) {
        guard depth < 32, !(kinds.isEmpty && sparse.isEmpty) else { return }
        var reader = WireReader(bytes: bytes)
        while let key = reader.varint() {
            let number = UInt32(truncatingIfNeeded: key >> 3)
            switch key & 7 {
            case 0: guard reader.varint() != nil else { return }
            case 1: guard reader.skip(8) else { return }
            case 5: guard reader.skip(4) else { return }
            case 2:
                guard let length = reader.varint(), let field = reader.take(length) else { return }
                switch number < kinds.count ? kinds[Int(number)] : sparse[number] ?? .other {
                case .string(let name):
                    if let problem = Self.problem(with: field) {
                        throw ProtoDecodingError("field \(path())\(name) \(problem)")
                    }
                case .message(let name, let nested):
                    try nested().check(field, path: { path() + "\(name)." }, depth: depth + 1)
                case .other:
                    break
                }
            default: return
            }
        }
    }

    /// What is wrong with a string field's bytes, or nil when they are fine.
    private static func problem(with field: UnsafeBufferPointer<UInt8>) -> String? {
        if isPlainASCIIWithoutNUL(field) { return nil }
        if field.contains(0) { return "contains a NUL character" }
        if !isValidUTF8(field) { return "is not valid UTF-8" }
        return nil
    }

    /// The common case, eight bytes at a time: ASCII (no byte with its high bit set) and no NUL.
    private static func isPlainASCIIWithoutNUL(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        ByteScan.noneFlagged(bytes, word: { $0 & ByteScan.highBits != 0 || ByteScan.hasByte(below: 1, in: $0) },
                             byte: { $0 == 0 || $0 >= 0x80 })
    }

    /// Validates without building a String (this runs for every string of every message).
    private static func isValidUTF8(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid: continue
            case .emptyInput: return true
            case .error: return false
            }
        }
    }
}

/// Reads protobuf wire primitives without trusting any length.
private struct WireReader {
    let bytes: UnsafeBufferPointer<UInt8>
    var offset = 0

    mutating func varint() -> UInt64? {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while offset < bytes.count, shift < 64 {
            let byte = bytes[offset]
            offset += 1
            value |= UInt64(byte & 0x7F) << shift
            if byte & 0x80 == 0 { return value }
            shift += 7
        }
        return nil
    }

    mutating func skip(_ count: Int) -> Bool {
        guard bytes.count - offset >= count else { return false }
        offset += count
        return true
    }

    mutating func take(_ length: UInt64) -> UnsafeBufferPointer<UInt8>? {
        guard length <= UInt64(bytes.count - offset) else { return nil }
        let start = offset
        offset += Int(length)
        return UnsafeBufferPointer(rebasing: bytes[start..<offset])
    }
}
