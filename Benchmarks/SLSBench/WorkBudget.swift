import CZeroMQ
import Foundation

/// `sls-bench budget`: raw one-frame pipelining (64 in flight) with a fixed amount of CPU work added
/// per message on each side, against plain raw in alternating rounds: how much work per call a
/// design may do on each side and still keep a given share of raw throughput on this machine.
enum WorkBudget {
    static func spin(_ nanoseconds: UInt64) {
        guard nanoseconds > 0 else { return }
        let until = monotonicNanoseconds() + nanoseconds
        while monotonicNanoseconds() < until {}
    }

    static func run() {
        let context = zmq_ctx_new()!
        defer { zmq_ctx_term(context) }
        for work: UInt64 in [0, 250, 500, 750, 1000, 1500] {
            var ratios: [Double] = []
            for _ in 0..<5 {
                let raw = RawBaselines.pipelinedThroughput(context: context, messages: 40_000, inFlight: 64,
                                                           requestBytes: 64, replyBytes: 16)
                let loaded = pipelined(context: context, messages: 40_000, work: work)
                ratios.append(loaded / raw)
            }
            ratio("budget_\(work)ns_each_side", median(ratios))
        }
    }

    static func pipelined(context: UnsafeMutableRawPointer, messages: Int, work: UInt64) -> Double {
        let server = zmq_socket(context, ZMQ_ROUTER)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let endpoint = RawBaselines.lastEndpoint(server)
        let thread = Thread { [server = UncheckedPointer(server)] in
            var identity = [UInt8](repeating: 0, count: 256), body = [UInt8](repeating: 0, count: 256)
            let reply = [UInt8](repeating: 7, count: 16)
            for _ in 0..<messages {
                let idLength = zmq_recv(server.pointer, &identity, identity.count, 0)
                _ = zmq_recv(server.pointer, &body, body.count, 0)
                spin(work)
                _ = zmq_send(server.pointer, identity, Int(idLength), ZMQ_SNDMORE)
                _ = zmq_send(server.pointer, reply, reply.count, 0)
            }
        }
        let client = zmq_socket(context, ZMQ_DEALER)!
        zmq_connect(client, endpoint)
        let request = [UInt8](repeating: 1, count: 64)
        var buffer = [UInt8](repeating: 0, count: 256)
        let start = monotonicNanoseconds()
        var sent = 0
        while sent < 64 { _ = zmq_send(client, request, request.count, 0); sent += 1 }
        for _ in 0..<messages {
            _ = zmq_recv(client, &buffer, buffer.count, 0)
            spin(work)
            if sent < messages { _ = zmq_send(client, request, request.count, 0); sent += 1 }
        }
        let elapsed = monotonicNanoseconds() - start
        thread.join()
        RawBaselines.closeQuietly(client)
        RawBaselines.closeQuietly(server)
        return Double(messages) / (Double(elapsed) / 1e9)
    }
}
