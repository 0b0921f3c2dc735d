import CZeroMQ
import Foundation
import Logging
import SLSBus
import SLSMessages
import ZeroMQ

/// The bus measured against raw libzmq in the same run (issue: platform, item 10).
enum BusBenchmarks {
    static let requestBytes = 64
    static let replyBytes = 16
    /// EchoRequest with a 62-byte payload encodes to 64 bytes; EchoReply with 14 to 16.
    static let request = EchoRequest(payload: Data(repeating: 1, count: 62))
    static let reply = EchoReply(payload: Data(repeating: 7, count: 14))

    static func makeServer(context: ZMQContext, busyPoll: Duration = .microseconds(100)) throws -> RPCServer {
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let server = try RPCServer(context: context, configuration: .init(endpoint: "tcp://127.0.0.1:*",
                                                                         serviceName: "bench", busyPoll: busyPoll),
                                   logger: logger)
        if ProcessInfo.processInfo.environment["SLS_BENCH_TASK_HANDLER"] == "1" {
            server.register(BenchAPI.echo) { _, _ in reply }
        } else {
            server.register(BenchAPI.echo, synchronous: { _, _ in reply })
        }
        try server.start()
        return server
    }

    static func run() async throws {
        precondition(request.serializedBytes().count == requestBytes && reply.serializedBytes().count == replyBytes)
        let context = ZMQContext()
        let server = try makeServer(context: context)
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint,
                                                                          caller: "bench"))
        let rawContext = zmq_ctx_new()!
        defer { zmq_ctx_term(rawContext) }

        // Short alternating rounds, baseline then ours; each round's ratio compares neighbours
        // in time, so the machine's slow swings cancel out. Medians are reported.
        // (a) Latency, one call in flight.
        var rawP50: [Double] = [], rawP99: [Double] = [], busP50: [Double] = [], busP99: [Double] = []
        var p50Ratios: [Double] = [], p99Ratios: [Double] = []
        for _ in 0..<7 {
            let raw = RawBaselines.requestReplyLatencies(context: rawContext, calls: 3_000, warmup: 300,
                                                         requestBytes: requestBytes, replyBytes: replyBytes)
            let ours = try await busLatencies(client: client, calls: 3_000, warmup: 300)
            rawP50.append(percentile(raw, 0.50)); rawP99.append(percentile(raw, 0.99))
            busP50.append(percentile(ours, 0.50)); busP99.append(percentile(ours, 0.99))
            p50Ratios.append(busP50.last! / rawP50.last!)
            p99Ratios.append(busP99.last! / rawP99.last!)
        }
        // The same with busy polling off on both sides: what a CPU-frugal setting costs.
        let quietServer = try makeServer(context: context, busyPoll: .zero)
        let quietClient = try RPCClient(context: context, configuration: .init(
            endpoint: quietServer.boundEndpoint, caller: "bench", busyPoll: .zero))
        var quietRatios: [Double] = []
        for _ in 0..<5 {
            let raw = RawBaselines.requestReplyLatencies(context: rawContext, calls: 3_000, warmup: 300,
                                                         requestBytes: requestBytes, replyBytes: replyBytes)
            let quiet = try await busLatencies(client: quietClient, calls: 3_000, warmup: 300)
            quietRatios.append(percentile(quiet, 0.50) / percentile(raw, 0.50))
        }
        quietClient.close()
        await quietServer.shutdown()
        report("unary_latency_p50_raw_reqrep", median(rawP50) / 1000, "us")
        report("unary_latency_p99_raw_reqrep", median(rawP99) / 1000, "us")
        report("unary_latency_p50_bus", median(busP50) / 1000, "us")
        report("unary_latency_p99_bus", median(busP99) / 1000, "us")
        ratio("unary_latency_p50", median(p50Ratios))
        ratio("unary_latency_p99", median(p99Ratios))
        ratio("unary_latency_p50_without_busy_poll", median(quietRatios))

        // (b) Throughput, 64 calls in flight.
        var rawRates: [Double] = [], busRates: [Double] = [], rateRatios: [Double] = []
        for _ in 0..<7 {
            rawRates.append(RawBaselines.pipelinedThroughput(context: rawContext, messages: 40_000, inFlight: 64,
                                                             requestBytes: requestBytes, replyBytes: replyBytes))
            busRates.append(try await busThroughput(client: client, calls: 40_000, inFlight: 64, onClientThread: true))
            rateRatios.append(busRates.last! / rawRates.last!)
        }
        report("unary_throughput_raw_dealer_router_64", median(rawRates), "calls/s")
        report("unary_throughput_bus_64", median(busRates), "calls/s")
        ratio("unary_throughput_64", median(rateRatios))
        client.close()
        await server.shutdown()

        // (c) The same with CurveZMQ: raw DEALER/ROUTER with CURVE against the bus with CURVE,
        // its ZAP handler and the method policy.
        let secure = try CurveBenchmarks.Side(secure: true)
        var rawCurveRates: [Double] = [], busCurveRates: [Double] = [], curveRatios: [Double] = []
        for _ in 0..<5 {
            rawCurveRates.append(RawBaselines.pipelinedThroughput(context: rawContext, messages: 30_000, inFlight: 64,
                                                                  requestBytes: requestBytes, replyBytes: replyBytes,
                                                                  curve: true))
            busCurveRates.append(try await busThroughput(client: secure.client, calls: 30_000, inFlight: 64,
                                                         onClientThread: true))
            curveRatios.append(busCurveRates.last! / rawCurveRates.last!)
        }
        report("unary_throughput_raw_dealer_router_curve_64", median(rawCurveRates), "calls/s")
        report("unary_throughput_bus_curve_64", median(busCurveRates), "calls/s")
        ratio("unary_throughput_curve_64", median(curveRatios))
        await secure.close()
    }

    static func busLatencies(client: RPCClient, calls: Int, warmup: Int) async throws -> [UInt64] {
        var samples: [UInt64] = []
        samples.reserveCapacity(calls)
        for index in 0..<(calls + warmup) {
            let start = monotonicNanoseconds()
            _ = try await client.call(BenchAPI.echo, request)
            if index >= warmup { samples.append(monotonicNanoseconds() - start) }
        }
        return samples
    }

    /// Calls per second with `inFlight` tasks each calling in a loop.
    static func busThroughput(client: RPCClient, calls: Int, inFlight: Int, onClientThread: Bool = false) async throws -> Double {
        let start = monotonicNanoseconds()
        try await withTaskExecutorPreference(onClientThread ? client.executor : nil) {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<inFlight {
                let share = calls / inFlight + (worker < calls % inFlight ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { _ = try await client.call(BenchAPI.echo, request) }
                }
            }
            try await group.waitForAll()
        }
        }
        return Double(calls) / (Double(monotonicNanoseconds() - start) / 1e9)
    }
}
