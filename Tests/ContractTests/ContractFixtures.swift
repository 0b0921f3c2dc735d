import Foundation
import SLSMessages
import Testing

/// The committed fixtures: golden bytes per message and the schema snapshot.
///
/// Missing fixtures are written only when SLS_RECORD_CONTRACTS=1 (`make contracts-record`);
/// an existing fixture is never overwritten: a change to one is a breaking change.
enum ContractFixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("Fixtures")
    static let snapshotURL = directory.appendingPathComponent("schema-snapshot.json")
    static var recording: Bool { ProcessInfo.processInfo.environment["SLS_RECORD_CONTRACTS"] == "1" }

    static func goldenURL(_ name: String) -> URL {
        directory.appendingPathComponent("golden").appendingPathComponent("\(name).bin")
    }

    /// Field lists by message name, as committed.
    static func snapshot() throws -> [String: [FieldSchema]] {
        guard let data = try? Data(contentsOf: snapshotURL) else { return [:] }
        return try JSONDecoder().decode([String: [FieldSchema]].self, from: data)
    }

    static func writeSnapshot(_ snapshot: [String: [FieldSchema]]) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(snapshot).write(to: snapshotURL)
    }
}

/// A message type that Swift Testing can show as one test case per schema.
struct MessageCase: CustomTestStringConvertible, Sendable {
    let type: any ProtoMessage.Type
    var testDescription: String { type.protoName }
}
