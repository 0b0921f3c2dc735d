import CryptoRulesCore

/// Amounts are stored as decimal text, never floating point. Read back, a stored amount may be
/// anything the service computed (a balance can grow past the input range through fills), so it
/// is parsed over the full range; only text that is not a decimal, or is beyond even that, makes
/// its row unusable. Values that were inputs (prices) are held to the input range by their loader.
enum StoredAmount {
    static func text(_ value: Amount) -> String { Money.text(value) }

    static func read(_ text: String, column: String) throws -> Amount {
        guard let value = Amount(text) else {
            throw CryptoStore.UnusableRow(table: "", key: "", reason: "\(column) is out of range or not a decimal")
        }
        return value
    }

    static func read(_ text: String?, column: String) throws -> Amount? {
        try text.map { try read($0, column: column) }
    }
}
