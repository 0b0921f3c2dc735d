// `make bench`: figures as `BENCH <name> <value> <unit>`, comparisons as `RATIO <name> <value>`
// (ours divided by a baseline measured in the same run).
import CZeroMQ
import Foundation
import SLSBus
import SLSMessages
import ZeroMQ

let only = CommandLine.arguments.dropFirst().first

if only == nil || only == "bus" {
    try await BusBenchmarks.run()
}
if only == nil || only == "curve" {
    try await CurveBenchmarks.run()
}
if only == nil || only == "crypto" {
    try await CryptoBenchmarks.run()
}
if only == nil || only == "enrollment" {
    try await EnrollmentBenchmarks.run()
}
if only == nil || only == "challenge" {
    try ChallengeBenchmarks.run()
    try await LoginBenchmarks.run()
}
if only == nil || only == "memory" {
    try IdleMemory.run()
}
if only == "client-throughput" {
    // The bus client alone, against a raw server (see ThroughputBreakdown), for perf.
    let rawContext = zmq_ctx_new()!
    report("breakdown_bus_client_raw_server_64", try await ThroughputBreakdown.busClientRawServer(rawContext: rawContext),
           "calls/s")
}
if only == "server-throughput" {
    // The bus server alone, against a raw pipelining client, for perf.
    let context = ZMQContext()
    let server = try BusBenchmarks.makeServer(context: context)
    let rawContext = zmq_ctx_new()!
    let header = RequestHeader(method: BenchAPI.echo.fullName, requestID: 1, traceID: "bench-1", caller: "bench").serializedBytes()
    report("breakdown_raw_client_bus_server_64", ThroughputBreakdown.rawClient(
        context: rawContext, endpoint: server.boundEndpoint, header: header,
        payload: BusBenchmarks.request.serializedBytes()), "calls/s")
    await server.shutdown()
}
if only == "breakdown" {
    try await ThroughputBreakdown.run()
}
if only == nil || only == "design" {
    try await WireLevelDesign.run(calls: ThroughputBreakdown.calls)
}
if only == "design-client" {
    // One run of the prototype with 64 tasks, for perf or callgrind (as bus-throughput):
    // `sls-bench design-client [CALLS] [--protobuf-c]`.
    let calls = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 200_000
    let nativePayload = !CommandLine.arguments.contains("--protobuf-c")
    try blockingMainThread {
        let rawContext = zmq_ctx_new()!
        report("design_tasks_64", try await WireLevelClient.throughput(
            context: rawContext, calls: calls, nativePayload: nativePayload), "calls/s")
        zmq_ctx_term(rawContext)
    }
}
if only == nil || only == "budget" {
    WorkBudget.run()
}
if only == "codec" {
    CodecCosts.run()
}
if only == "diagnostics" {
    try await Diagnostics.run()
}
if only == "crypto-check" {
    try CryptoBenchmarks.checkInProcess()
}
if only == "bus-throughput" {
    // `sls-bench bus-throughput [CALLS] [--on-client-thread]`: for `perf stat` or callgrind, run with
    // two counts and divide the difference by the difference in calls (start-up cancels out).
    // SLS_BENCH_BUSY_POLL_US=0 turns busy polling off on both sides, so CPU time counts work only.
    // The main thread waits without suspending (valgrind stops when Swift's async main parks it).
    let calls = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 200_000
    let onClientThread = CommandLine.arguments.contains("--on-client-thread")
    try blockingMainThread {
        let busyPoll = Duration.microseconds(Int(ProcessInfo.processInfo.environment["SLS_BENCH_BUSY_POLL_US"] ?? "") ?? 100)
        let context = ZMQContext()
        let server = try BusBenchmarks.makeServer(context: context, busyPoll: busyPoll)
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench",
                                                                          busyPoll: busyPoll))
        report("unary_throughput_bus_64", try await BusBenchmarks.busThroughput(
            client: client, calls: calls, inFlight: 64, onClientThread: onClientThread), "calls/s")
        client.close()
        await server.shutdown()
    }
}
if only == "raw-throughput" {
    // The raw DEALER/ROUTER baseline alone, for `perf stat` (see bus-throughput).
    let calls = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 200_000
    let rawContext = zmq_ctx_new()!
    report("unary_throughput_raw_64", RawBaselines.pipelinedThroughput(
        context: rawContext, messages: calls, inFlight: 64, requestBytes: BusBenchmarks.requestBytes,
        replyBytes: BusBenchmarks.replyBytes), "calls/s")
    zmq_ctx_term(rawContext)
}
if only == "check-throughput" {
    // `sls-bench check-throughput [CALLS]`: CheckOrder calls only, for callgrind (as bus-throughput).
    let calls = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 100_000
    try blockingMainThread { try await CryptoBenchmarks.checkOverTheBus(profileCalls: calls) }
}
if only == "crypto-bus" {
    try await CryptoBenchmarks.checkOverTheBus()
}
