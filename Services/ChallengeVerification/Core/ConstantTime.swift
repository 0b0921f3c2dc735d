/// Comparison whose time does not depend on where two secrets first differ (CHL-09: responses and
/// codes are compared in constant time).
public enum ConstantTime {
    /// Whether `a` and `b` are equal; only their lengths can be learned from the time it takes.
    public static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
