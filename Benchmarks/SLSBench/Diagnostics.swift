import CZeroMQ
import Foundation
import SLSBus
import SLSMessages
import ZeroMQ

/// Splits the bus's latency between its client and its server: each against a raw peer.
enum Diagnostics {
    /// What one hop costs: an OS thread resumes a waiting task; time until the task runs.
    static func resumeFromThread() async throws {
        var samples: [UInt64] = []
        for _ in 0..<3_000 {
            let started = Box()
            let resumedAt: UInt64 = await withCheckedContinuation { continuation in
                Foundation.Thread.detachNewThread {
                    usleep(50)  // let the task's thread go idle first, as between calls
                    started.value = monotonicNanoseconds()
                    continuation.resume(returning: 0)
                }
            } == 0 ? monotonicNanoseconds() : 0
            samples.append(resumedAt - started.value)
        }
        report("diag_task_resume_from_thread_p50", percentile(samples, 0.5) / 1000, "us")
    }

    final class Box: @unchecked Sendable {
        var value: UInt64 = 0
    }

    static func run() async throws {
        let context = ZMQContext()
        let server = try BusBenchmarks.makeServer(context: context)
        let rawContext = zmq_ctx_new()!
        defer { zmq_ctx_term(rawContext) }

        // A raw DEALER client speaking the envelope to our server.
        let dealer = zmq_socket(rawContext, ZMQ_DEALER)!
        zmq_connect(dealer, server.boundEndpoint)
        let header = RequestHeader(method: BenchAPI.echo.fullName, requestID: 1).serializedBytes()
        let payload = BusBenchmarks.request.serializedBytes()
        var buffer = [UInt8](repeating: 0, count: 512)
        var samples: [UInt64] = []
        for index in 0..<11_000 {
            let start = monotonicNanoseconds()
            _ = zmq_send(dealer, header, header.count, ZMQ_SNDMORE)
            _ = zmq_send(dealer, payload, payload.count, 0)
            _ = zmq_recv(dealer, &buffer, buffer.count, 0)
            _ = zmq_recv(dealer, &buffer, buffer.count, 0)
            if index >= 1000 { samples.append(monotonicNanoseconds() - start) }
        }
        report("diag_latency_p50_raw_client_bus_server", percentile(samples, 0.5) / 1000, "us")
        var linger: Int32 = 0
        zmq_setsockopt(dealer, ZMQ_LINGER, &linger, 4)
        zmq_close(dealer)

        // Our client against a raw ROUTER that answers with a canned OK reply.
        let router = zmq_socket(rawContext, ZMQ_ROUTER)!
        zmq_bind(router, "tcp://127.0.0.1:*")
        var endpointBuffer = [CChar](repeating: 0, count: 256)
        var size = endpointBuffer.count
        zmq_getsockopt(router, ZMQ_LAST_ENDPOINT, &endpointBuffer, &size)
        let endpoint = String(decoding: endpointBuffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        let calls = 11_000
        let echo = Thread { [router = UncheckedPointer(router)] in
            var identity = [UInt8](repeating: 0, count: 256)
            var frame = [UInt8](repeating: 0, count: 512)
            let replyPayload = BusBenchmarks.reply.serializedBytes()
            for _ in 0..<calls {
                let idLength = zmq_recv(router.pointer, &identity, identity.count, 0)
                let headerLength = zmq_recv(router.pointer, &frame, frame.count, 0)
                let request = (try? RequestHeader(serializedBytes: Array(frame[0..<Int(headerLength)])))?.requestID ?? 0
                _ = zmq_recv(router.pointer, &frame, frame.count, 0)
                let reply = ReplyHeader(requestID: request, status: Status(code: .ok)).serializedBytes()
                _ = zmq_send(router.pointer, identity, Int(idLength), ZMQ_SNDMORE)
                _ = zmq_send(router.pointer, reply, reply.count, ZMQ_SNDMORE)
                _ = zmq_send(router.pointer, replyPayload, replyPayload.count, 0)
            }
        }
        let client = try RPCClient(context: context, configuration: .init(endpoint: endpoint, caller: "diag"))
        let ours = try await BusBenchmarks.busLatencies(client: client, calls: calls - 1000, warmup: 1000)
        report("diag_latency_p50_bus_client_raw_server", percentile(ours, 0.5) / 1000, "us")
        echo.join()
        client.close()
        try await resumeFromThread()
        zmq_setsockopt(router, ZMQ_LINGER, &linger, 4)
        zmq_close(router)
        await server.shutdown()
    }
}
