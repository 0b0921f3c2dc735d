import SLSBus
import SLSMessages
import Testing
import SLSTesting

@Suite("Malformed input gets an error reply and the server keeps serving")
struct MalformedInputTests {
    private func header(_ method: String = BenchAPI.echo.fullName, id: UInt64 = 1) -> [UInt8] {
        RequestHeader(method: method, requestID: id, deadlineUnixMs: unixMilliseconds() + 5000).serializedBytes()
    }

    @Test func everyKindOfBadFrameGetsAClearErrorThenANormalCallSucceeds() async throws {
        let bus = try BusFixture(maxMessageBytes: 4096)
        let raw = try bus.rawDealer()
        let cases: [(name: String, frames: [[UInt8]], code: StatusCode, words: String)] = [
            ("one frame", [header()], .invalidArgument, "2 frames"),
            ("three frames", [header(), [], []], .invalidArgument, "2 frames"),
            ("garbage header", [[0xff, 0xff, 0xff, 0x07], []], .invalidArgument, "RequestHeader"),
            ("truncated header", [Array(header().dropLast(3)), []], .invalidArgument, "RequestHeader"),
            ("oversized", [header(id: 5), [UInt8](repeating: 0x41, count: 10_000)], .resourceExhausted, "4096"),
            ("unknown method", [header("sls.nobody.v1.X/Y", id: 6), []], .unimplemented, "sls.nobody.v1.X/Y"),
            ("no method", [header("", id: 8), []], .unimplemented, "names no method"),
            ("garbage payload", [header(id: 9), [0x0a, 0x7f, 0x01]], .invalidArgument, "EchoRequest"),
        ]
        for testCase in cases {
            try raw.send(testCase.frames)
            let reply = try receiveReply(raw)
            #expect(reply.header.status?.code == testCase.code, "\(testCase.name)")
            #expect(reply.header.status?.message.contains(testCase.words) == true,
                    "\(testCase.name): \(reply.header.status?.message ?? "")")
        }
        // Oversized and payload errors still echo the request id, so a client can match them.
        let client = try bus.client()
        let reply = try await client.call(BenchAPI.echo, EchoRequest(payload: .init([42])))
        #expect(reply.payload == .init([42]))
        client.close()
        raw.close()
        await bus.server.shutdown()
    }

    @Test func unknownAndNegativeEnumValuesAreKeptAsProto3OpenEnumsDo() throws {
        // HealthCheckResponse field 1 (status) = 99, which ServingStatus does not define.
        let unknown = try HealthCheckResponse(serializedBytes: [0x08, 99])
        #expect(unknown.status == .unrecognized(99))
        #expect(unknown.serializedBytes() == [0x08, 99], "an unknown value survives a round trip")
        // -1 travels as a 10-byte varint; it used to trap converting the C enum's raw value.
        let minusOne: [UInt8] = [0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]
        let negative = try HealthCheckResponse(serializedBytes: minusOne)
        #expect(negative.status == .unrecognized(-1))
        #expect(negative.status.description == "-1")
        #expect(negative.serializedBytes() == minusOne)
        let lowest = HealthCheckResponse(status: .unrecognized(Int32.min))
        #expect(try HealthCheckResponse(serializedBytes: lowest.serializedBytes()) == lowest)
    }
}
