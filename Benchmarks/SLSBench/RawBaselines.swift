import CZeroMQ
import ZeroMQ

#if canImport(Glibc)
import Glibc
#endif

/// Plain libzmq with preallocated buffers: the baselines the bus is measured against.
/// Written directly against the C API on purpose, so that no layer of ours is in them.
enum RawBaselines {
    /// Round trips over REQ/REP, one at a time; returns each one's duration in nanoseconds.
    static func requestReplyLatencies(context: UnsafeMutableRawPointer, calls: Int, warmup: Int,
                                      requestBytes: Int, replyBytes: Int) -> [UInt64] {
        let server = zmq_socket(context, ZMQ_REP)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = lastEndpoint(server)
        let total = calls + warmup
        let thread = Thread { [server = UncheckedPointer(server)] in
            var buffer = [UInt8](repeating: 0, count: 256)
            let reply = [UInt8](repeating: 7, count: replyBytes)
            for _ in 0..<total {
                _ = zmq_recv(server.pointer, &buffer, buffer.count, 0)
                _ = zmq_send(server.pointer, reply, reply.count, 0)
            }
        }
        let client = zmq_socket(context, ZMQ_REQ)!
        zmq_connect(client, endpoint)
        let request = [UInt8](repeating: 1, count: requestBytes)
        var buffer = [UInt8](repeating: 0, count: 256)
        var samples: [UInt64] = []
        samples.reserveCapacity(calls)
        for index in 0..<total {
            let start = monotonicNanoseconds()
            _ = zmq_send(client, request, request.count, 0)
            _ = zmq_recv(client, &buffer, buffer.count, 0)
            if index >= warmup { samples.append(monotonicNanoseconds() - start) }
        }
        thread.join()
        closeQuietly(client)
        closeQuietly(server)
        return samples
    }

    /// Messages per second over DEALER/ROUTER with `inFlight` requests outstanding at all times;
    /// with `curve`, both sockets speak CurveZMQ (no ZAP handler: encryption alone).
    static func pipelinedThroughput(context: UnsafeMutableRawPointer, messages: Int, inFlight: Int,
                                    requestBytes: Int, replyBytes: Int, curve: Bool = false) -> Double {
        let server = zmq_socket(context, ZMQ_ROUTER)!
        // A CURVE figure must come from CURVE: no quiet fallback to plaintext.
        let serverKeys = curve ? try! CurveKeyPair.generate() : nil
        let clientKeys = curve ? try! CurveKeyPair.generate() : nil
        if let serverKeys {
            var one: Int32 = 1
            zmq_setsockopt(server, ZMQ_CURVE_SERVER, &one, 4)
            zmq_setsockopt(server, ZMQ_CURVE_SECRETKEY, serverKeys.secretKey, 40)
        }
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = lastEndpoint(server)
        let thread = Thread { [server = UncheckedPointer(server)] in
            var identity = [UInt8](repeating: 0, count: 256)
            var body = [UInt8](repeating: 0, count: 256)
            let reply = [UInt8](repeating: 7, count: replyBytes)
            for _ in 0..<messages {
                let idLength = zmq_recv(server.pointer, &identity, identity.count, 0)
                _ = zmq_recv(server.pointer, &body, body.count, 0)
                _ = zmq_send(server.pointer, identity, Int(idLength), ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, reply, reply.count, 0)
            }
        }
        let client = zmq_socket(context, ZMQ_DEALER)!
        if let serverKeys, let clientKeys {
            zmq_setsockopt(client, ZMQ_CURVE_SERVERKEY, serverKeys.publicKey, 40)
            zmq_setsockopt(client, ZMQ_CURVE_PUBLICKEY, clientKeys.publicKey, 40)
            zmq_setsockopt(client, ZMQ_CURVE_SECRETKEY, clientKeys.secretKey, 40)
        }
        zmq_connect(client, endpoint)
        let request = [UInt8](repeating: 1, count: requestBytes)
        var buffer = [UInt8](repeating: 0, count: 256)
        let start = monotonicNanoseconds()
        var sent = 0
        while sent < min(inFlight, messages) {
            _ = zmq_send(client, request, request.count, 0)
            sent += 1
        }
        for _ in 0..<messages {
            _ = zmq_recv(client, &buffer, buffer.count, 0)
            if sent < messages {
                _ = zmq_send(client, request, request.count, 0)
                sent += 1
            }
        }
        let elapsed = monotonicNanoseconds() - start
        thread.join()
        closeQuietly(client)
        closeQuietly(server)
        return Double(messages) / (Double(elapsed) / 1e9)
    }

    static func lastEndpoint(_ socket: UnsafeMutableRawPointer) -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        var size = buffer.count
        zmq_getsockopt(socket, ZMQ_LAST_ENDPOINT, &buffer, &size)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    static func closeQuietly(_ socket: UnsafeMutableRawPointer) {
        var linger: Int32 = 0
        zmq_setsockopt(socket, ZMQ_LINGER, &linger, 4)
        zmq_close(socket)
    }
}

/// A libzmq socket handle handed to the baseline's server thread (used there only).
struct UncheckedPointer: @unchecked Sendable {
    let pointer: UnsafeMutableRawPointer
    init(_ pointer: UnsafeMutableRawPointer) { self.pointer = pointer }
}
