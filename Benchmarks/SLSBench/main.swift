// `make bench`: figures as `BENCH <name> <value> <unit>`, comparisons as `RATIO <name> <value>`
// (ours divided by a baseline measured in the same run).
import CZeroMQ
import Foundation
import SLSBus
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
if only == "breakdown" {
    try await ThroughputBreakdown.run()
}
if only == "diagnostics" {
    try await Diagnostics.run()
}
if only == "crypto-check" {
    try CryptoBenchmarks.checkInProcess()
}
if only == "bus-throughput" {
    // `sls-bench bus-throughput [CALLS]`: for `perf stat`, run with two counts and divide the
    // difference in instructions by the difference in calls (start-up cancels out).
    let calls = CommandLine.arguments.dropFirst(2).first.flatMap { Int($0) } ?? 200_000
    let context = ZMQContext()
    let server = try BusBenchmarks.makeServer(context: context)
    let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench"))
    let onClientThread = CommandLine.arguments.contains("--on-client-thread")
    report("unary_throughput_bus_64", try await BusBenchmarks.busThroughput(client: client, calls: calls, inFlight: 64,
                                                                            onClientThread: onClientThread),
           "calls/s")
    client.close()
    await server.shutdown()
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
if only == "crypto-bus" {
    try await CryptoBenchmarks.checkOverTheBus()
}
