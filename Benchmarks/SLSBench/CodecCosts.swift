import SLSMessages

/// `sls-bench codec`: nanoseconds per encode and decode of the bus's envelope and the bench
/// payload, one thread, no sockets: what the codec alone costs per call.
enum CodecCosts {
    static func run() {
        let header = RequestHeader(method: BenchAPI.echo.fullName, requestID: 123_456, deadlineUnixMs: 1_800_000_000_000,
                                   traceID: "0123456789abcdef-123456", caller: "bench")
        let replyHeader = ReplyHeader(requestID: 123_456, status: Status(code: .ok))
        let headerBytes = header.serializedBytes(), replyHeaderBytes = replyHeader.serializedBytes()
        let payloadBytes = BusBenchmarks.request.serializedBytes(), replyBytes = BusBenchmarks.reply.serializedBytes()
        measure("request_header_encode") { header.serializedBytes().count }
        measure("request_header_decode") { (try? RequestHeader(serializedBytes: headerBytes))?.method.utf8.count ?? 0 }
        measure("reply_header_encode") { replyHeader.serializedBytes().count }
        measure("reply_header_decode") { Int((try? ReplyHeader(serializedBytes: replyHeaderBytes))?.requestID ?? 0) }
        measure("echo_request_encode") { BusBenchmarks.request.serializedBytes().count }
        measure("echo_request_decode") { (try? EchoRequest(serializedBytes: payloadBytes))?.payload.count ?? 0 }
        measure("echo_reply_encode") { BusBenchmarks.reply.serializedBytes().count }
        measure("echo_reply_decode") { (try? EchoReply(serializedBytes: replyBytes))?.payload.count ?? 0 }
    }

    static func measure(_ name: String, _ body: () -> Int) {
        var sink = 0
        for _ in 0..<20_000 { sink &+= body() }
        var best = Double.infinity
        // The best of many short rounds: on a shared machine, the rounds nobody interrupted.
        for _ in 0..<30 {
            let start = monotonicNanoseconds()
            for _ in 0..<20_000 { sink &+= body() }
            best = min(best, Double(monotonicNanoseconds() - start) / 20_000)
        }
        report("codec_\(name)", best, "ns")
        if sink == 42 { print("") }
    }
}
