import CZeroMQ
import Foundation
import SLSMessages

/// `sls-bench design`: a prototype of the bus design that the budget allows (see ``WorkBudget``:
/// about 0.5 µs of work per call on each side keeps 0.7 of raw pipelining on this machine),
/// measured against raw one-frame pipelining in alternating rounds. What a caller relies on is still
/// done per call (method matched, ids, deadline, trace id and caller checked as identifiers, payload
/// decoded and checked, reply matched to its call); what changes is how:
///
/// * one frame each way: a `CallFrame`-shaped message (field 1 the header, field 2 the payload), so
///   the routing id plus one frame is all libzmq moves, as in the raw baseline;
/// * the envelope is read and written at the wire level: the method is matched by its bytes against
///   the registered one, ids and deadlines are read as varints, the trace id and caller are checked
///   as identifiers (length, no control characters, UTF-8) without becoming Swift strings;
/// * the payload through protobuf-c as the bus does now, or at the wire level too;
/// * the handler is synchronous and answers on the socket thread: no task, no lock, no hop;
/// * buffers are reused: no allocation per call outside the payload codec.
///
/// The client is either a plain loop (`design_one_frame_*`: the design's ceiling) or 64 Swift tasks
/// awaiting their calls on the client's socket thread (`design_tasks_*`, ``WireLevelClient``: what
/// `await client.call` would cost), or 8 tasks sending 8 calls at a time.
enum WireLevelDesign {
    static let method = Array(BenchAPI.echo.fullName.utf8)
    static let caller = Array("bench".utf8)

    static func run(calls: Int) async throws {
        let context = zmq_ctx_new()!
        defer { zmq_ctx_term(context) }
        var rows: [String: [Double]] = [:]
        for _ in 0..<7 {
            let raw = RawBaselines.pipelinedThroughput(context: context, messages: calls, inFlight: 64,
                                                       requestBytes: BusBenchmarks.requestBytes,
                                                       replyBytes: BusBenchmarks.replyBytes)
            rows["protoc_payload", default: []].append(try loops(context: context, calls: calls, nativePayload: false) / raw)
            rows["native_payload", default: []].append(try loops(context: context, calls: calls, nativePayload: true) / raw)
            rows["tasks_protoc_payload", default: []].append(
                try await WireLevelClient.throughput(context: context, calls: calls, nativePayload: false) / raw)
            rows["tasks_native_payload", default: []].append(
                try await WireLevelClient.throughput(context: context, calls: calls, nativePayload: true) / raw)
            rows["batches_native_payload", default: []].append(
                try await WireLevelClient.throughput(context: context, calls: calls, nativePayload: true, batch: 8) / raw)
        }
        ratio("design_tasks_in_batches_of_8_one_frame_wire_envelope_wire_payload_64", median(rows["batches_native_payload"]!))
        ratio("design_tasks_one_frame_wire_envelope_protobuf_c_payload_64", median(rows["tasks_protoc_payload"]!))
        ratio("design_tasks_one_frame_wire_envelope_wire_payload_64", median(rows["tasks_native_payload"]!))
        ratio("design_one_frame_wire_envelope_protobuf_c_payload_64", median(rows["protoc_payload"]!))
        ratio("design_one_frame_wire_envelope_wire_payload_64", median(rows["native_payload"]!))
    }

    // MARK: - Wire primitives

    struct Writer {
        var bytes: [UInt8] = []
        init(capacity: Int) { bytes.reserveCapacity(capacity) }
        mutating func varint(_ value: UInt64) {
            var value = value
            while value >= 0x80 { bytes.append(UInt8(truncatingIfNeeded: value) | 0x80); value >>= 7 }
            bytes.append(UInt8(value))
        }
        mutating func field(_ number: UInt64, varint value: UInt64) {
            guard value != 0 else { return }
            varint(number << 3)
            varint(value)
        }
        mutating func field(_ number: UInt64, bytes value: UnsafeRawBufferPointer) {
            guard !value.isEmpty else { return }
            varint(number << 3 | 2)
            varint(UInt64(value.count))
            bytes.append(contentsOf: value)
        }
        mutating func field(_ number: UInt64, bytes value: [UInt8]) {
            value.withUnsafeBytes { field(number, bytes: $0) }
        }
        mutating func field(_ number: UInt64, bytes value: Data) {
            value.withUnsafeBytes { field(number, bytes: $0) }
        }
        static func varintSize(_ value: UInt64) -> Int { value == 0 ? 1 : (64 - value.leadingZeroBitCount + 6) / 7 }
    }

    struct Reader {
        let bytes: UnsafeRawBufferPointer
        var offset = 0
        mutating func varint() -> UInt64? {
            var value: UInt64 = 0, shift: UInt64 = 0
            while offset < bytes.count, shift < 64 {
                let byte = bytes[offset]
                offset += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte & 0x80 == 0 { return value }
                shift += 7
            }
            return nil
        }
        /// The next field: its number, and either its varint or its bytes; nil at the end or when malformed.
        mutating func field() -> (number: UInt64, varint: UInt64, bytes: UnsafeRawBufferPointer)? {
            guard let key = varint() else { return nil }
            switch key & 7 {
            case 0:
                guard let value = varint() else { return nil }
                return (key >> 3, value, UnsafeRawBufferPointer(start: nil, count: 0))
            case 2:
                guard let length = varint(), length <= UInt64(bytes.count - offset) else { return nil }
                let start = offset
                offset += Int(length)
                return (key >> 3, 0, UnsafeRawBufferPointer(rebasing: bytes[start..<offset]))
            default:
                return nil
            }
        }
    }

    /// An identifier as the bus's validator has it: 1 to 128 bytes, no control characters, UTF-8.
    static func isIdentifier(_ bytes: UnsafeRawBufferPointer) -> Bool {
        guard bytes.count <= 128 else { return false }
        var ascii = true
        for byte in bytes {
            if byte < 0x20 || byte == 0x7F { return false }
            if byte >= 0x80 { ascii = false }
        }
        return ascii || String(validating: bytes.bindMemory(to: UInt8.self), as: UTF8.self) != nil
    }

    // MARK: - The two sides

    /// What the server reads from a request frame.
    struct Request {
        var id: UInt64 = 0
        var deadline: Int64 = 0
        var payload = UnsafeRawBufferPointer(start: nil, count: 0)
    }

    /// Reads and checks a request frame; nil when it would get an error reply (the slow path).
    static func readRequest(_ frame: UnsafeRawBufferPointer) -> Request? {
        var outer = Reader(bytes: frame), request = Request(), methodMatches = false
        while outer.offset < frame.count {
            guard let field = outer.field() else { return nil }
            switch field.number {
            case 1:
                var header = Reader(bytes: field.bytes)
                while header.offset < field.bytes.count {
                    guard let part = header.field() else { return nil }
                    switch part.number {
                    case 1: methodMatches = part.bytes.elementsEqual(method)
                    case 2: request.id = part.varint
                    case 3: request.deadline = Int64(bitPattern: part.varint)
                    case 4, 5: guard isIdentifier(part.bytes) else { return nil }
                    default: return nil   // metadata and anything else: the general path
                    }
                }
            case 2: request.payload = field.bytes
            default: return nil
            }
        }
        return methodMatches ? request : nil
    }

    /// What the client reads from a reply frame: the request id, whether it is OK (no status sent),
    /// and the payload.
    static func readReply(_ reply: UnsafeRawBufferPointer) -> (id: UInt64, ok: Bool, body: UnsafeRawBufferPointer) {
        var outer = Reader(bytes: reply)
        var id: UInt64 = 0, ok = true, body = UnsafeRawBufferPointer(start: nil, count: 0)
        while outer.offset < reply.count, let field = outer.field() {
            if field.number == 1 {
                var reader = Reader(bytes: field.bytes)
                while reader.offset < field.bytes.count, let part = reader.field() {
                    if part.number == 1 { id = part.varint } else { ok = false }   // a status: not OK
                }
            } else if field.number == 2 {
                body = field.bytes
            }
        }
        return (id, ok, body)
    }

    /// The bytes of `EchoRequest.payload` (field 1), read at the wire level; nil when malformed.
    static func echoedBytes(_ payload: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer? {
        var reader = Reader(bytes: payload), echoed = UnsafeRawBufferPointer(start: nil, count: 0)
        while reader.offset < payload.count {
            guard let field = reader.field(), field.number == 1 else { return nil }
            echoed = field.bytes
        }
        return echoed
    }

    /// The server side: a plain loop on its socket serving `calls` requests.
    static func serve(_ server: UnsafeMutableRawPointer, calls: Int, nativePayload: Bool) -> Thread {
        let limits = FieldLimits()
        return Thread { [server = UncheckedPointer(server)] in
            var identity = [UInt8](repeating: 0, count: 256), frame = [UInt8](repeating: 0, count: 1024)
            var reply = Writer(capacity: 256), replyHeader = Writer(capacity: 32), replyPayload = Writer(capacity: 64)
            for _ in 0..<calls {
                let idLength = ThroughputBreakdown.kept(zmq_recv(server.pointer, &identity, identity.count, 0), identity.count)
                let length = ThroughputBreakdown.kept(zmq_recv(server.pointer, &frame, frame.count, 0), frame.count)
                // The request id is echoed even when the rest is refused (the general path answers those).
                var id: UInt64 = 0
                let answered = frame.withUnsafeBytes { buffer -> Bool in
                    guard let request = readRequest(UnsafeRawBufferPointer(rebasing: buffer[0..<length])) else { return false }
                    id = request.id
                    guard request.deadline == 0 || request.deadline >= unixMilliseconds() else { return false }
                    replyPayload.bytes.removeAll(keepingCapacity: true)
                    if nativePayload {
                        // EchoRequest { bytes payload = 1; } read at the wire level, and the reply written so.
                        guard let echoed = echoedBytes(request.payload), echoed.count <= limits.bytesFieldBytes else { return false }
                        replyPayload.field(1, bytes: UnsafeRawBufferPointer(rebasing: echoed.prefix(14)))
                        return true
                    }
                    let validator = FieldValidator(limits: limits, nowUnixMs: 0)
                    guard let echo = try? EchoRequest(serializedBytes: Array(request.payload.bindMemory(to: UInt8.self))),
                          (try? echo.validate(validator, in: "")) != nil else { return false }
                    replyPayload.bytes.append(contentsOf: EchoReply(payload: echo.payload.prefix(14)).serializedBytes())
                    return true
                }
                replyHeader.bytes.removeAll(keepingCapacity: true)
                replyHeader.field(1, varint: id)
                if !answered { replyHeader.field(2, bytes: [0x08, 0x03]) }   // Status { code: INVALID_ARGUMENT }
                reply.bytes.removeAll(keepingCapacity: true)
                reply.field(1, bytes: replyHeader.bytes)
                reply.field(2, bytes: replyPayload.bytes)
                _ = zmq_send(server.pointer, identity, idLength, ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, reply.bytes, reply.bytes.count, 0)
            }
        }
    }

    /// The client side as a plain loop (no tasks): the design's ceiling.
    static func loops(context: UnsafeMutableRawPointer, calls: Int, nativePayload: Bool) throws -> Double {
        let server = zmq_socket(context, ZMQ_ROUTER)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = RawBaselines.lastEndpoint(server)
        let thread = serve(server, calls: calls, nativePayload: nativePayload)
        let client = zmq_socket(context, ZMQ_DEALER)!
        zmq_connect(client, endpoint)
        var pending: [UInt64: Int] = [:]
        pending.reserveCapacity(128)
        var nextID: UInt64 = 1
        var frame = Writer(capacity: 256), header = Writer(capacity: 128), payload = Writer(capacity: 128)
        var trace = Array("0123456789abcdef-".utf8)
        let traceStem = trace.count
        var buffer = [UInt8](repeating: 0, count: 1024)
        func send() {
            header.bytes.removeAll(keepingCapacity: true)
            header.field(1, bytes: method)
            header.field(2, varint: nextID)
            header.field(3, varint: UInt64(unixMilliseconds() + 5000))
            trace.removeSubrange(traceStem...)
            var digits = nextID
            repeat { trace.append(UInt8(48 + digits % 10)); digits /= 10 } while digits > 0
            header.field(4, bytes: trace)
            header.field(5, bytes: caller)
            frame.bytes.removeAll(keepingCapacity: true)
            frame.field(1, bytes: header.bytes)
            if nativePayload {
                payload.bytes.removeAll(keepingCapacity: true)
                payload.field(1, bytes: BusBenchmarks.request.payload)
                frame.field(2, bytes: payload.bytes)
            } else {
                frame.field(2, bytes: BusBenchmarks.request.serializedBytes())
            }
            pending[nextID] = 1
            nextID += 1
            _ = zmq_send(client, frame.bytes, frame.bytes.count, 0)
        }
        let start = monotonicNanoseconds()
        var sent = 0, answered = 0
        while sent < 64 { send(); sent += 1 }
        for _ in 0..<calls {
            let length = ThroughputBreakdown.kept(zmq_recv(client, &buffer, buffer.count, 0), buffer.count)
            let matched = buffer.withUnsafeBytes { bytes -> Bool in
                let (id, ok, body) = readReply(UnsafeRawBufferPointer(rebasing: bytes[0..<length]))
                guard ok, pending.removeValue(forKey: id) != nil else { return false }
                if nativePayload {
                    var reader = Reader(bytes: body)
                    while reader.offset < body.count, reader.field() != nil {}
                    return true
                }
                return (try? EchoReply(serializedBytes: Array(body.bindMemory(to: UInt8.self)))) != nil
            }
            if matched { answered += 1 }
            if sent < calls { send(); sent += 1 }
        }
        let rate = Double(calls) / (Double(monotonicNanoseconds() - start) / 1e9)
        thread.join()
        RawBaselines.closeQuietly(client)
        RawBaselines.closeQuietly(server)
        guard answered == calls else { throw DesignError.unanswered(calls - answered) }
        return rate
    }

    enum DesignError: Error { case unanswered(Int) }
}
