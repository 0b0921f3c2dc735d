import Foundation
import SLSMessages
import SLSTesting
import Testing

/// slsctl's JSON follows the proto3 JSON mapping: checked against Debian's python3-protobuf
/// `json_format` for every message type, both ways, through the slsctl binary itself.
@Suite("Proto3 JSON mapping", .serialized)
struct ProtoJSONTests {
    static let slsctl = Stack.binaries.appendingPathComponent("slsctl").path

    /// `slsctl json` with standard input from `file`.
    static func slsctlJSON(_ arguments: String, input file: URL) throws -> StockTools.Outcome {
        try StockTools.outcome("sh", ["-c", "exec \"$0\" json \(arguments) < \"$1\"", slsctl, file.path])
    }

    @Test("every message type: slsctl's JSON is read by json_format, and json_format's JSON by slsctl")
    func pythonRoundTrip() throws {
        let folder = try StockTools.scratch()
        for type in ProtoRegistry.messages {
            let binary = folder.appendingPathComponent(type.protoName + ".bin")
            try Data(type.contractSampleBytes).write(to: binary)
            let printed = try Self.slsctlJSON("\(type.protoName) --from-binary", input: binary)
            #expect(printed.status == 0, "\(type.protoName): \(printed.stderr)")
            try printed.stdout.write(to: folder.appendingPathComponent(type.protoName + ".slsctl.json"),
                                     atomically: true, encoding: .utf8)
        }
        let python = try StockTools.outcome("/usr/bin/python3", [
            Stack.root.appendingPathComponent("Tests/ContractTests/python/json_roundtrip.py").path,
            Stack.root.appendingPathComponent("protos").path, folder.path])
        #expect(python.status == 0, "\(python.stdout)\(python.stderr)")
        #expect(python.stdout.contains("checked \(ProtoRegistry.messages.count) message types, 0 mismatches"))
        for type in ProtoRegistry.messages {
            for variant in ["python", "python-names"] {
                let json = folder.appendingPathComponent("\(type.protoName).\(variant).json")
                let read = try Self.slsctlJSON("\(type.protoName) --to-binary", input: json)
                #expect(read.status == 0, "\(type.protoName) \(variant): \(read.stderr)")
                let same = Self.same(type, Array(read.output))
                #expect(same, "\(type.protoName) \(variant) reads back as a different message")
            }
        }
    }

    @Test("lowerCamelCase json_name and proto names are read; unknown and doubled fields are refused, named")
    func names() throws {
        let camel = try OrderRequest.decodedFromJSON(Data(#"{"accountId":"U1","cashValue":"5","side":"BUY"}"#.utf8))
        let snake = try OrderRequest.decodedFromJSON(Data(#"{"account_id":"U1","cash_value":"5","side":1}"#.utf8))
        #expect((camel as? OrderRequest) == (snake as? OrderRequest))
        #expect((camel as? OrderRequest)?.accountID == "U1")
        #expect(throws: ProtoJSONError("unknown field 'accountID' in sls.crypto.v1.OrderRequest; its fields are accountId, "
                                       + "asset, side, type, quantity, cashValue, limitPrice, timeInForce, clientOrderId")) {
            _ = try OrderRequest.decodedFromJSON(Data(#"{"accountID":"U1"}"#.utf8))
        }
        #expect(throws: ProtoJSONError.self) {
            _ = try OrderRequest.decodedFromJSON(Data(#"{"accountId":"U1","account_id":"U2"}"#.utf8))
        }
        // Keys and enum names from outside are not repeated unless they look like names.
        do {
            _ = try OrderRequest.decodedFromJSON(Data(#"{"-----BEGIN SECRET\u001b[31m":1}"#.utf8))
            Issue.record("an unknown key was accepted")
        } catch {
            #expect(!"\(error)".contains("SECRET") && !"\(error)".contains("\u{1b}"))
        }
        do {
            _ = try OrderRequest.decodedFromJSON(Data(#"{"side":"hunter2-secret"}"#.utf8))
            Issue.record("an unknown enum name was accepted")
        } catch {
            #expect(!"\(error)".contains("hunter2"))
        }
    }

    @Test("64-bit integers are written as strings and read from strings or numbers; bytes are base64")
    func integersAndBytes() throws {
        let record = StatementRecord(receivedUnixMs: 1_795_690_781_264, sizeBytes: -1)
        let json = String(decoding: try record.jsonData(), as: UTF8.self)
        #expect(json.contains(#""receivedUnixMs":"1795690781264""#) && json.contains(#""sizeBytes":"-1""#))
        let read = try StatementRecord.decodedFromJSON(Data(#"{"receivedUnixMs":1795690781264,"sizeBytes":"-1"}"#.utf8))
        #expect((read as? StatementRecord) == record)
        #expect(throws: ProtoJSONError.self) {
            _ = try StatementRecord.decodedFromJSON(Data(#"{"sizeBytes":"9223372036854775808"}"#.utf8))
        }
        let urlSafe = try Statement.decodedFromJSON(Data(#"{"content":"aGk-_w"}"#.utf8))
        #expect((urlSafe as? Statement)?.content == Data([0x68, 0x69, 0x3E, 0xFF]))
    }
}

extension ProtoJSONTests {
    static func same(_ type: any ProtoMessage.Type, _ bytes: [UInt8]) -> Bool {
        type.sameMessage(bytes, asBytes: type.contractSampleBytes)
    }
}

extension ProtoMessage {
    static var contractSampleBytes: [UInt8] { contractSample.serializedBytes() }

    /// Whether `bytes` decode to the same message as `reference`.
    static func sameMessage(_ bytes: [UInt8], asBytes reference: [UInt8]) -> Bool {
        guard let a = try? Self(serializedBytes: bytes), let b = try? Self(serializedBytes: reference) else { return false }
        return a == b
    }
}
