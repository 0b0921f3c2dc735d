import CryptoRulesCore

/// Amounts are stored as decimal text, never floating point, and held to the input range when
/// read back: a value out of range (written before inputs were bounded, or by hand) makes its
/// row unusable instead of trusted.
enum StoredAmount {
    static func text(_ value: Amount) -> String { Money.text(value) }

    static func read(_ text: String, column: String) throws -> Amount {
        guard let value = Amount(input: text) else {
            throw CryptoStore.UnusableRow(table: "", key: "", reason: "\(column) is out of range or not a decimal")
        }
        return value
    }

    static func read(_ text: String?, column: String) throws -> Amount? {
        try text.map { try read($0, column: column) }
    }
}
