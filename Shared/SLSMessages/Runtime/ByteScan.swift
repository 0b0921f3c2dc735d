/// Scans bytes eight at a time, for the checks every string of every message goes through.
enum ByteScan {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Whether no byte of `bytes` is flagged: `word` flags a loaded word (any byte in it),
    /// `byte` a single byte of the tail.
    @inline(__always)
    static func noneFlagged(_ bytes: UnsafeBufferPointer<UInt8>, word: (UInt64) -> Bool, byte: (UInt8) -> Bool) -> Bool {
        guard let start = bytes.baseAddress else { return true }
        let raw = UnsafeRawPointer(start)
        var offset = 0
        while offset + 8 <= bytes.count {
            if word(raw.loadUnaligned(fromByteOffset: offset, as: UInt64.self)) { return false }
            offset += 8
        }
        while offset < bytes.count {
            if byte(bytes[offset]) { return false }
            offset += 1
        }
        return true
    }

    /// Whether some byte of `word` is below `limit` (at most 0x80): the classic "has less" test,
    /// exact for "some byte".
    @inline(__always)
    static func hasByte(below limit: UInt64, in word: UInt64) -> Bool {
        (word &- ones &* limit) & ~word & highBits != 0
    }

    /// Whether some byte of `word` equals `value`.
    @inline(__always)
    static func hasByte(equalTo value: UInt64, in word: UInt64) -> Bool {
        hasByte(below: 1, in: word ^ (ones &* value))
    }
}
