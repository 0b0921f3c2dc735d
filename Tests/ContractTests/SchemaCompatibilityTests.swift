import SLSMessages
import Testing

@Suite("The compatibility check itself catches each breaking change")
struct SchemaCompatibilityTests {
    let committed = [FieldSchema(name: "account_id", number: 1, type: "string", label: "singular"),
                     FieldSchema(name: "amount", number: 2, type: "string", label: "singular")]

    private func schema(_ fields: [FieldSchema], reserved: [ClosedRange<Int32>] = [], names: [String] = []) -> MessageSchema {
        MessageSchema(name: "t.M", fields: fields, reservedNumbers: reserved, reservedNames: names)
    }

    @Test func additionsAreCompatible() {
        let current = schema(committed + [FieldSchema(name: "note", number: 3, type: "string", label: "singular")])
        #expect(SchemaCompatibility.problems(committed: committed, current: current).isEmpty)
    }

    @Test func retypedFieldIsCaught() {
        let current = schema([committed[0], FieldSchema(name: "amount", number: 2, type: "int64", label: "singular")])
        #expect(SchemaCompatibility.problems(committed: committed, current: current).count == 1)
    }

    @Test func renumberedFieldIsCaught() {
        let current = schema([committed[0], FieldSchema(name: "amount", number: 4, type: "string", label: "singular")])
        #expect(SchemaCompatibility.problems(committed: committed, current: current).count == 2)
    }

    @Test func reusedNumberIsCaught() {
        let current = schema([committed[0], FieldSchema(name: "price", number: 2, type: "string", label: "singular")])
        #expect(!SchemaCompatibility.problems(committed: committed, current: current).isEmpty)
    }

    @Test func removalNeedsReservation() {
        #expect(!SchemaCompatibility.problems(committed: committed, current: schema([committed[0]])).isEmpty)
        let reserved = schema([committed[0]], reserved: [2...2], names: ["amount"])
        #expect(SchemaCompatibility.problems(committed: committed, current: reserved).isEmpty)
    }
}
