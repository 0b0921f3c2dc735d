import CZeroMQ
import Foundation
import SLSBus
import SLSMessages
import ZeroMQ

/// `sls-bench breakdown`: where the bus's throughput goes, by swapping one side at a time for
/// plain libzmq (64 calls in flight, short alternating rounds, medians):
///
/// * raw pipelining with one frame each way (the `make bench` baseline);
/// * raw pipelining with the bus's frame layout (a header frame and a payload frame each way);
/// * a raw pipelining client sending real bus requests to the bus server (the server's ceiling);
/// * the bus client against a raw server answering with prebuilt replies (the client's ceiling);
/// * the bus on both sides.
enum ThroughputBreakdown {
    /// What `zmq_recv` returned as a valid count into a buffer of `capacity` (-1 on error, or more
    /// than was kept when the frame was cut).
    static func kept(_ received: Int32, _ capacity: Int) -> Int { Int(max(0, min(received, Int32(capacity)))) }

    static let calls = Int(ProcessInfo.processInfo.environment["SLS_BENCH_CALLS"] ?? "") ?? 40_000

    static func run() async throws {
        let rawContext = zmq_ctx_new()!
        defer { zmq_ctx_term(rawContext) }
        let context = ZMQContext()
        let server = try BusBenchmarks.makeServer(context: context)
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench"))
        let header = RequestHeader(method: BenchAPI.echo.fullName, requestID: 1, traceID: "bench-1", caller: "bench")
            .serializedBytes()
        let request = BusBenchmarks.request.serializedBytes()
        var rows: [String: [Double]] = [:]
        for _ in 0..<5 {
            rows["raw_one_frame", default: []].append(RawBaselines.pipelinedThroughput(
                context: rawContext, messages: calls, inFlight: 64, requestBytes: BusBenchmarks.requestBytes,
                replyBytes: BusBenchmarks.replyBytes))
            rows["raw_bus_frame_layout", default: []].append(rawTwoFrames(context: rawContext, header: header, payload: request))
            rows["raw_client_bus_server", default: []].append(rawClient(context: rawContext, endpoint: server.boundEndpoint,
                                                                        header: header, payload: request))
            rows["bus_client_raw_server", default: []].append(try await busClientRawServer(rawContext: rawContext))
            rows["bus_both_sides", default: []].append(try await BusBenchmarks.busThroughput(
                client: client, calls: calls, inFlight: 64, onClientThread: true))
            rows["codec_loops_no_tasks", default: []].append(codecLoops(context: rawContext))
            rows["codec_loops_fast_headers", default: []].append(codecLoops(context: rawContext, fastHeaders: true))
        }
        for name in ["raw_one_frame", "raw_bus_frame_layout", "raw_client_bus_server", "bus_client_raw_server", "bus_both_sides",
                     "codec_loops_no_tasks", "codec_loops_fast_headers"] {
            report("breakdown_\(name)_64", median(rows[name]!), "calls/s")
        }
        let base = median(rows["raw_one_frame"]!)
        for name in ["raw_bus_frame_layout", "raw_client_bus_server", "bus_client_raw_server", "bus_both_sides",
                     "codec_loops_no_tasks", "codec_loops_fast_headers"] {
            ratio("breakdown_\(name)_vs_raw", median(rows[name]!) / base)
        }
        client.close()
        await server.shutdown()
    }

    /// Raw DEALER/ROUTER, two frames each way after the routing id, as the bus sends.
    static func rawTwoFrames(context: UnsafeMutableRawPointer, header: [UInt8], payload: [UInt8]) -> Double {
        let server = zmq_socket(context, ZMQ_ROUTER)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = RawBaselines.lastEndpoint(server)
        let replyHeader = ReplyHeader(requestID: 1, status: Status(code: .ok)).serializedBytes()
        let reply = BusBenchmarks.reply.serializedBytes()
        let thread = Thread { [server = UncheckedPointer(server)] in
            var identity = [UInt8](repeating: 0, count: 256), frame = [UInt8](repeating: 0, count: 512)
            for _ in 0..<calls {
                let idLength = zmq_recv(server.pointer, &identity, identity.count, 0)
                _ = zmq_recv(server.pointer, &frame, frame.count, 0)
                _ = zmq_recv(server.pointer, &frame, frame.count, 0)
                _ = zmq_send(server.pointer, identity, kept(idLength, identity.count), ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, replyHeader, replyHeader.count, ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, reply, reply.count, 0)
            }
        }
        let client = zmq_socket(context, ZMQ_DEALER)!
        zmq_connect(client, endpoint)
        let rate = pipeline(client: client, header: header, payload: payload, replyFrames: 2)
        thread.join()
        RawBaselines.closeQuietly(client)
        RawBaselines.closeQuietly(server)
        return rate
    }

    /// A design without tasks, continuations or locks, one plain loop per side on its socket,
    /// but everything else the bus does per call: the request header built and encoded, the
    /// payload encoded, both decoded and validated on the server, the reply and its header
    /// encoded, decoded and matched by request id on the client. Its rate is what the codec and
    /// frame layout leave; the gap to `bus_both_sides` is what tasks and locks cost.
    static func codecLoops(context: UnsafeMutableRawPointer, fastHeaders: Bool = false) -> Double {
        let server = zmq_socket(context, ZMQ_ROUTER)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = RawBaselines.lastEndpoint(server)
        let thread = Thread { [server = UncheckedPointer(server)] in
            var identity = [UInt8](repeating: 0, count: 256), frame = [UInt8](repeating: 0, count: 512)
            var payload = [UInt8](repeating: 0, count: 512)
            let limits = FieldLimits()
            for _ in 0..<calls {
                let idLength = zmq_recv(server.pointer, &identity, identity.count, 0)
                let headerLength = zmq_recv(server.pointer, &frame, frame.count, 0)
                let payloadLength = zmq_recv(server.pointer, &payload, payload.count, 0)
                let validator = FieldValidator(limits: limits, nowUnixMs: unixMilliseconds())
                guard let header = try? RequestHeader(serializedBytes: Array(frame[0..<kept(headerLength, frame.count)])),
                      (try? header.validate(validator, in: "")) != nil,
                      let request = try? EchoRequest(serializedBytes: Array(payload[0..<kept(payloadLength, payload.count)])),
                      (try? request.validate(validator, in: "")) != nil else { continue }
                let reply = EchoReply(payload: request.payload.prefix(14)).serializedBytes()
                let replyHeader = fastHeaders ? FastHeaders.okReply(id: header.requestID)
                    : ReplyHeader(requestID: header.requestID, status: Status(code: .ok)).serializedBytes()
                _ = zmq_send(server.pointer, identity, kept(idLength, identity.count), ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, replyHeader, replyHeader.count, ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, reply, reply.count, 0)
            }
        }
        let client = zmq_socket(context, ZMQ_DEALER)!
        zmq_connect(client, endpoint)
        var pending = Set<UInt64>()
        var nextID: UInt64 = 1
        var headerBuffer = [UInt8](repeating: 0, count: 512), payloadBuffer = [UInt8](repeating: 0, count: 512)
        var prefix: [UInt8] = []
        FastHeaders.string(1, Array(BenchAPI.echo.fullName.utf8), into: &prefix)
        FastHeaders.string(5, Array("bench".utf8), into: &prefix)
        func send() {
            let header = fastHeaders
                ? FastHeaders.request(prefix: prefix, id: nextID, deadline: unixMilliseconds() + 5000,
                                      trace: Array("bench-\(nextID)".utf8))
                : RequestHeader(method: BenchAPI.echo.fullName, requestID: nextID,
                                deadlineUnixMs: unixMilliseconds() + 5000, traceID: "bench-\(nextID)",
                                caller: "bench").serializedBytes()
            let payload = BusBenchmarks.request.serializedBytes()
            pending.insert(nextID)
            nextID += 1
            _ = zmq_send(client, header, header.count, ZMQ_SNDMORE)
            _ = zmq_send(client, payload, payload.count, 0)
        }
        let start = monotonicNanoseconds()
        var sent = 0
        while sent < 64 { send(); sent += 1 }
        for _ in 0..<calls {
            let headerLength = zmq_recv(client, &headerBuffer, headerBuffer.count, 0)
            let payloadLength = zmq_recv(client, &payloadBuffer, payloadBuffer.count, 0)
            if fastHeaders, let id = FastHeaders.okReplyID(headerBuffer[0..<kept(headerLength, headerBuffer.count)]) {
                pending.remove(id)
                _ = try? EchoReply(serializedBytes: Array(payloadBuffer[0..<kept(payloadLength, payloadBuffer.count)]))
            } else if let header = try? ReplyHeader(serializedBytes: Array(headerBuffer[0..<kept(headerLength, headerBuffer.count)])) {
                pending.remove(header.requestID)
                _ = try? EchoReply(serializedBytes: Array(payloadBuffer[0..<kept(payloadLength, payloadBuffer.count)]))
            }
            if sent < calls { send(); sent += 1 }
        }
        let rate = Double(calls) / (Double(monotonicNanoseconds() - start) / 1e9)
        thread.join()
        RawBaselines.closeQuietly(client)
        RawBaselines.closeQuietly(server)
        return rate
    }

    /// A raw DEALER sending real bus requests (64 in flight) to the bus server.
    static func rawClient(context: UnsafeMutableRawPointer, endpoint: String, header: [UInt8], payload: [UInt8]) -> Double {
        let client = zmq_socket(context, ZMQ_DEALER)!
        zmq_connect(client, endpoint)
        let rate = pipeline(client: client, header: header, payload: payload, replyFrames: 2)
        RawBaselines.closeQuietly(client)
        return rate
    }

    private static func pipeline(client: UnsafeMutableRawPointer, header: [UInt8], payload: [UInt8], replyFrames: Int) -> Double {
        var buffer = [UInt8](repeating: 0, count: 512)
        func send() {
            _ = zmq_send(client, header, header.count, ZMQ_SNDMORE)
            _ = zmq_send(client, payload, payload.count, 0)
        }
        let start = monotonicNanoseconds()
        var sent = 0
        while sent < 64 { send(); sent += 1 }
        for _ in 0..<calls {
            for _ in 0..<replyFrames { _ = zmq_recv(client, &buffer, buffer.count, 0) }
            if sent < calls { send(); sent += 1 }
        }
        return Double(calls) / (Double(monotonicNanoseconds() - start) / 1e9)
    }

    /// The bus client against a raw ROUTER that reads each request id and answers at once.
    static func busClientRawServer(rawContext: UnsafeMutableRawPointer) async throws -> Double {
        let server = zmq_socket(rawContext, ZMQ_ROUTER)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = RawBaselines.lastEndpoint(server)
        let reply = BusBenchmarks.reply.serializedBytes()
        let thread = Thread { [server = UncheckedPointer(server)] in
            var identity = [UInt8](repeating: 0, count: 256), frame = [UInt8](repeating: 0, count: 512)
            for _ in 0..<calls {
                let idLength = zmq_recv(server.pointer, &identity, identity.count, 0)
                let headerLength = zmq_recv(server.pointer, &frame, frame.count, 0)
                let id = (try? RequestHeader(serializedBytes: Array(frame[0..<kept(headerLength, frame.count)])))?.requestID ?? 0
                var payload = [UInt8](repeating: 0, count: 512)
                _ = zmq_recv(server.pointer, &payload, payload.count, 0)
                let header = ReplyHeader(requestID: id, status: Status(code: .ok)).serializedBytes()
                _ = zmq_send(server.pointer, identity, kept(idLength, identity.count), ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, header, header.count, ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, reply, reply.count, 0)
            }
        }
        let context = ZMQContext()
        let client = try RPCClient(context: context, configuration: .init(endpoint: endpoint, caller: "bench"))
        let rate = try await BusBenchmarks.busThroughput(client: client, calls: calls, inFlight: 64, onClientThread: true)
        thread.join()
        client.close()
        RawBaselines.closeQuietly(server)
        return rate
    }
}

/// Protobuf wire encoding by hand for the two envelope headers, to measure what a fast path for
/// them would leave (`codec_loops_fast_headers`): same bytes on the wire as protobuf-c writes
/// (fields may come in any order), no C structs or arena.
enum FastHeaders {
    static func varint(_ value: UInt64, into bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    static func string(_ field: UInt64, _ utf8: [UInt8], into bytes: inout [UInt8]) {
        guard !utf8.isEmpty else { return }
        varint(field << 3 | 2, into: &bytes)
        varint(UInt64(utf8.count), into: &bytes)
        bytes += utf8
    }

    /// RequestHeader: method (1), request_id (2), deadline (3), trace_id (4), caller (5).
    static func request(prefix: [UInt8], id: UInt64, deadline: Int64, trace: [UInt8]) -> [UInt8] {
        var bytes = prefix
        bytes.reserveCapacity(prefix.count + 40)
        varint(2 << 3, into: &bytes); varint(id, into: &bytes)
        varint(3 << 3, into: &bytes); varint(UInt64(bitPattern: deadline), into: &bytes)
        string(4, trace, into: &bytes)
        return bytes
    }

    /// ReplyHeader with an OK status: request_id (1), status (2) empty.
    static func okReply(id: UInt64) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(16)
        varint(1 << 3, into: &bytes); varint(id, into: &bytes)
        bytes += [2 << 3 | 2, 0]
        return bytes
    }

    /// The request id of a ReplyHeader whose status is OK, or nil when anything else is there.
    static func okReplyID(_ bytes: ArraySlice<UInt8>) -> UInt64? {
        var index = bytes.startIndex
        var id: UInt64?
        while index < bytes.endIndex {
            let tag = bytes[index]
            index += 1
            switch tag {
            case 1 << 3:
                var value: UInt64 = 0, shift: UInt64 = 0
                while index < bytes.endIndex, shift < 64 {
                    let byte = bytes[index]
                    index += 1
                    value |= UInt64(byte & 0x7F) << shift
                    if byte < 0x80 { break }
                    shift += 7
                }
                id = value
            case 2 << 3 | 2:
                guard index < bytes.endIndex, bytes[index] == 0 else { return nil }   // a status with content
                index += 1
            default:
                return nil
            }
        }
        return id
    }
}
