import Logging
import SLSBus
import SLSMessages
import Synchronization
import Testing
import ZeroMQ
import SLSTesting

/// Inputs that used to crash a service or make it act on another value than the one sent.
@Suite("Hostile input is refused at the edge, naming the field and the limit")
struct HostileInputTests {
    private func header(_ method: String = BenchAPI.echo.fullName, id: UInt64 = 1, caller: String = "test",
                        traceID: String = "") -> [UInt8] {
        RequestHeader(method: method, requestID: id, deadlineUnixMs: unixMilliseconds() + 5000, traceID: traceID,
                      caller: caller).serializedBytes()
    }

    /// A length-delimited field written by hand (our own encoder goes through C strings).
    private func lengthDelimited(_ field: UInt8, _ bytes: [UInt8]) -> [UInt8] {
        [field << 3 | 2, UInt8(bytes.count)] + bytes
    }

    @Test func aStringWithANULByteIsRefusedInsteadOfBeingCutShort() throws {
        // protobuf-c hands strings over NUL-terminated: "NUL1\0someone-else" would reach Swift as "NUL1".
        let forged = lengthDelimited(1, Array("NUL1\u{0}someone-else".utf8))
        let error = #expect(throws: ProtoDecodingError.self) { try HealthCheckRequest(serializedBytes: forged) }
        #expect(error?.description == "field service contains a NUL character")
        // Nested messages are checked too.
        let entry = lengthDelimited(1, Array("k".utf8)) + lengthDelimited(2, [0x61, 0, 0x62])
        let nested = lengthDelimited(1, Array("m".utf8)) + lengthDelimited(6, entry)
        let nestedError = #expect(throws: ProtoDecodingError.self) { try RequestHeader(serializedBytes: nested) }
        #expect(nestedError?.description == "field metadata.value contains a NUL character")
    }

    @Test func invalidUTF8IsRefusedInsteadOfBeingRepaired() throws {
        // field 1 (service), 2 bytes: 0xC3 0x28 is not UTF-8.
        let error = #expect(throws: ProtoDecodingError.self) {
            try HealthCheckRequest(serializedBytes: [0x0a, 0x02, 0xc3, 0x28])
        }
        #expect(error?.description == "field service is not valid UTF-8")
        #expect(try HealthCheckRequest(serializedBytes: HealthCheckRequest(service: "é✓").serializedBytes()).service == "é✓")
    }

    /// The scans read eight bytes at a time: a bad byte must be caught wherever it sits, in a
    /// word or in the tail, and good bytes beside it must not be mistaken for it.
    @Test func aBadByteIsFoundAtEveryPositionOfAString() throws {
        let length = 21   // two words and a tail
        for position in 0..<length {
            func string(_ bytes: [UInt8]) -> [UInt8] {
                Array(repeating: UInt8(ascii: "a"), count: position) + bytes
                    + Array(repeating: UInt8(ascii: "z"), count: length - position - 1)
            }
            let nul = #expect(throws: ProtoDecodingError.self) {
                try HealthCheckRequest(serializedBytes: lengthDelimited(1, string([0])))
            }
            #expect(nul?.description == "field service contains a NUL character", "NUL at \(position)")
            let invalid = #expect(throws: ProtoDecodingError.self) {
                try HealthCheckRequest(serializedBytes: lengthDelimited(1, string([0xFF])))
            }
            #expect(invalid?.description == "field service is not valid UTF-8", "0xFF at \(position)")
            let accented = try HealthCheckRequest(serializedBytes: lengthDelimited(1, string([0xC3, 0xA9])))
            #expect(accented.service.utf8.count == length + 1)

            let validator = FieldValidator(nowUnixMs: 0)
            for control: UInt8 in Array(0x00..<0x20) + [0x7F] {
                let value = String(decoding: string([control]), as: UTF8.self)
                #expect(throws: FieldViolation.self, "0x\(String(control, radix: 16)) at \(position)") {
                    try validator.identifier(value, "trace_id", in: "")
                }
            }
            for printable: [UInt8] in [[0x20], [0x7E], [0x21], [0xC3, 0xA9], [0xE2, 0x9C, 0x93]] {
                let value = String(decoding: string(printable), as: UTF8.self)
                #expect(throws: Never.self) { try validator.identifier(value, "trace_id", in: "") }
            }
            let text = String(decoding: string([0x0A]), as: UTF8.self)
            #expect(throws: Never.self) { try validator.text(text, "message", in: "") }
        }
    }

    @Test func theServerAnswersEachHostileRequestWithTheFieldAndTheLimitThenKeepsServing() async throws {
        let bus = try BusFixture()
        let raw = try bus.rawDealer()
        let nulPayload = lengthDelimited(1, [0x78, 0, 0x79])
        var nulMethod = header("sls.health.v1.Health/Check")
        nulMethod += lengthDelimited(1, Array("sls.health.v1.Health/Check\u{0}x".utf8))  // the last one wins
        let cases: [(name: String, frames: [[UInt8]], words: String)] = [
            ("NUL in the method", [nulMethod, []], "field method contains a NUL"),
            ("huge caller", [header(caller: String(repeating: "c", count: 1000)), []],
             "caller is 1000 bytes; the limit is 128"),
            ("newline in the trace id", [header(traceID: "t\nFORGED LINE"), []], "trace_id contains a control character"),
            ("NUL in the payload", [header(HealthAPI.check.fullName, id: 7), nulPayload],
             "field service contains a NUL character"),
            ("huge service name", [header(HealthAPI.check.fullName, id: 8),
                                   HealthCheckRequest(service: String(repeating: "s", count: 500)).serializedBytes()],
             "service is 500 bytes; the limit is 128"),
        ]
        for testCase in cases {
            try raw.send(testCase.frames)
            let reply = try receiveReply(raw)
            #expect(reply.header.status?.code == .invalidArgument, "\(testCase.name)")
            #expect(reply.header.status?.message.contains(testCase.words) == true,
                    "\(testCase.name): \(reply.header.status?.message ?? "")")
        }
        #expect(bus.server.refusals.invalid >= 3)
        let client = try bus.client()
        #expect(try await client.call(BenchAPI.echo, EchoRequest(payload: .init([7]))).payload == .init([7]))
        client.close()
        raw.close()
        await bus.server.shutdown()
    }

    @Test func callsBeyondTheInFlightLimitAreRefusedAtOnce() async throws {
        let release = Mutex(false)
        let context = ZMQContext()
        let server = try RPCServer(
            context: context,
            configuration: .init(endpoint: "tcp://127.0.0.1:*", serviceName: "slow", maxCallsInFlight: 2),
            logger: Logger(label: "test"))
        server.register(BenchAPI.echo) { request, _ in
            while !release.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
            return EchoReply(payload: request.payload)
        }
        try server.start()
        let raw = try ZMQSocket(context: context, type: .dealer)
        try raw.set(.linger(milliseconds: 0))
        try raw.connect(server.boundEndpoint)
        for id in 1...5 {
            try raw.send([header(id: UInt64(id)), EchoRequest(payload: .init([UInt8(id)])).serializedBytes()])
        }
        var refused: [UInt64] = []
        for _ in 0..<3 {
            let reply = try receiveReply(raw)
            #expect(reply.header.status?.code == .resourceExhausted)
            #expect(reply.header.status?.message.contains("2 calls in flight") == true)
            refused.append(reply.header.requestID)
        }
        #expect(refused.sorted() == [3, 4, 5])
        release.withLock { $0 = true }
        for _ in 0..<2 { #expect(try receiveReply(raw).header.status?.code == .ok) }
        #expect(server.refusals.busy == 3)
        raw.close()
        await server.shutdown()
    }

    @Test func timesFromTheFutureAndBeforeNineteenSeventyAreRefused() throws {
        let now: Int64 = 1_800_000_000_000
        let validator = FieldValidator(limits: FieldLimits(clockSkewMilliseconds: 60_000), nowUnixMs: now)
        #expect(throws: Never.self) { try EventHeader(timeUnixMs: now + 60_000).validate(validator, in: "") }
        let ahead = #expect(throws: FieldViolation.self) {
            try EventHeader(timeUnixMs: now + 60_001).validate(validator, in: "")
        }
        #expect(ahead?.description == "time_unix_ms is 60001 ms in the future; at most 60000 ms of clock skew is accepted")
        let year3000: Int64 = 32_503_680_000_000
        #expect(throws: FieldViolation.self) { try EventHeader(timeUnixMs: year3000).validate(validator, in: "") }
        #expect(throws: FieldViolation.self) { try EventHeader(timeUnixMs: -1).validate(validator, in: "") }
        // A deadline may lie ahead, but not past the year 9999.
        #expect(throws: Never.self) { try RequestHeader(deadlineUnixMs: year3000).validate(validator, in: "") }
        #expect(throws: FieldViolation.self) { try RequestHeader(deadlineUnixMs: .max).validate(validator, in: "") }
    }

    @Test func repeatedFieldsAndNestedPathsNameTheElement() throws {
        let validator = FieldValidator(limits: FieldLimits(repeatedCount: 3), nowUnixMs: 0)
        let many = RequestHeader(metadata: Array(repeating: MetadataEntry(key: "k"), count: 4))
        let tooMany = #expect(throws: FieldViolation.self) { try many.validate(validator, in: "") }
        #expect(tooMany?.description == "metadata has 4 elements; the limit is 3")
        let bad = RequestHeader(metadata: [MetadataEntry(key: "ok"), MetadataEntry(key: "k\u{7}")])
        let nested = #expect(throws: FieldViolation.self) { try bad.validate(validator, in: "") }
        #expect(nested?.field == "metadata[1].key")
    }
}
