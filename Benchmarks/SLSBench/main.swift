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
if only == "diagnostics" {
    try await Diagnostics.run()
}
if only == "crypto-check" {
    try CryptoBenchmarks.checkInProcess()
}
if only == "bus-throughput" {
    let context = ZMQContext()
    let server = try BusBenchmarks.makeServer(context: context)
    let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench"))
    report("unary_throughput_bus_64", try await BusBenchmarks.busThroughput(client: client, calls: 200_000, inFlight: 64),
           "calls/s")
    client.close()
    await server.shutdown()
}
if only == "crypto-bus" {
    try await CryptoBenchmarks.checkOverTheBus()
}
