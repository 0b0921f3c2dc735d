// `make bench`: figures as `BENCH <name> <value> <unit>`, comparisons as `RATIO <name> <value>`
// (ours divided by a baseline measured in the same run).
import CZeroMQ
import Foundation

let only = CommandLine.arguments.dropFirst().first

if only == nil || only == "bus" {
    try await BusBenchmarks.run()
}
if only == nil || only == "crypto" {
    try await CryptoBenchmarks.run()
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
