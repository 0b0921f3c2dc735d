/// One field of a message schema, as it is on the wire.
public struct FieldSchema: Sendable, Hashable, Codable {
    public let name: String
    public let number: Int32
    /// The proto type: `string`, `int64`, ... or a fully qualified message or enum name.
    public let type: String
    /// `singular` or `repeated`.
    public let label: String

    public init(name: String, number: Int32, type: String, label: String) {
        self.name = name
        self.number = number
        self.type = type
        self.label = label
    }
}

/// A message's fields and reservations, for the contract tests' compatibility check.
public struct MessageSchema: Sendable, Hashable {
    public let name: String
    public let fields: [FieldSchema]
    public let reservedNumbers: [ClosedRange<Int32>]
    public let reservedNames: [String]

    public init(name: String, fields: [FieldSchema], reservedNumbers: [ClosedRange<Int32>], reservedNames: [String]) {
        self.name = name
        self.fields = fields
        self.reservedNumbers = reservedNumbers
        self.reservedNames = reservedNames
    }

    /// Whether a field number may never be used again.
    public func isReserved(number: Int32) -> Bool {
        reservedNumbers.contains { $0.contains(number) }
    }
}
