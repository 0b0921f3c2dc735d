import Foundation
import SLSMessages
import Testing

@Suite("One contract per message schema", .serialized)
struct MessageContractTests {
    static let cases = ProtoRegistry.messages.map(MessageCase.init)

    @Test("round trip through protobuf-c", arguments: cases)
    func roundTrip(_ message: MessageCase) throws {
        try Self.checkRoundTrip(message.type)
    }

    private static func checkRoundTrip<M: ProtoMessage>(_ type: M.Type) throws {
        let sample = M.contractSample
        #expect(try M(serializedBytes: sample.serializedBytes()) == sample)
        #expect(try M(serializedBytes: M().serializedBytes()) == M())
        // The JSON form (slsctl) round-trips too, and {} means every field at its default.
        #expect(try JSONDecoder().decode(M.self, from: sample.jsonData()) == sample)
        #expect(try JSONDecoder().decode(M.self, from: Data("{}".utf8)) == M())
        if !M.schema.fields.isEmpty {
            #expect(sample != M(), "the sample must set fields, or the round trip proves nothing")
        }
    }

    @Test("committed golden bytes still decode", arguments: cases)
    func goldenBytes(_ message: MessageCase) throws {
        try Self.checkGolden(message.type)
    }

    private static func checkGolden<M: ProtoMessage>(_ type: M.Type) throws {
        let url = ContractFixtures.goldenURL(M.protoName)
        guard let golden = try? Data(contentsOf: url) else {
            if ContractFixtures.recording {
                try FileManager.default.createDirectory(at: url.deletingLastPathComponent(),
                                                        withIntermediateDirectories: true)
                try Data(M.contractSample.serializedBytes()).write(to: url)
                return
            }
            Issue.record("no golden bytes for \(M.protoName): run `make contracts-record` and commit \(url.lastPathComponent)")
            return
        }
        let decoded = try M(serializedBytes: [UInt8](golden))
        #expect(decoded == M.contractSample, "golden bytes of \(M.protoName) decode to something else")
        #expect(decoded.serializedBytes() == [UInt8](golden), "\(M.protoName) no longer encodes to its golden bytes")
    }

    @Test("fields are never renumbered, retyped or reused", arguments: cases)
    func schemaCompatibility(_ message: MessageCase) throws {
        let schema = message.type.schema
        var snapshot = try ContractFixtures.snapshot()
        guard let committed = snapshot[schema.name] else {
            if ContractFixtures.recording {
                snapshot[schema.name] = schema.fields
                try ContractFixtures.writeSnapshot(snapshot)
                return
            }
            Issue.record("\(schema.name) is not in schema-snapshot.json: run `make contracts-record` and commit it")
            return
        }
        for problem in SchemaCompatibility.problems(committed: committed, current: schema) {
            Issue.record(Comment(rawValue: problem))
        }
        if ContractFixtures.recording && committed != schema.fields {
            // Additions are compatible: record them so they are protected from now on.
            snapshot[schema.name] = committed + schema.fields.filter { field in
                !committed.contains { $0.number == field.number }
            }
            try ContractFixtures.writeSnapshot(snapshot)
        }
    }
}
