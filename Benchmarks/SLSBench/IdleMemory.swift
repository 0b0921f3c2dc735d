import Foundation

/// Peak RSS of an idle service process (the release build next to this benchmark).
enum IdleMemory {
    static func run() throws {
        let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let data = FileManager.default.temporaryDirectory.appendingPathComponent("sls-bench-\(UUID())")
        defer { try? FileManager.default.removeItem(at: data) }
        let port = Int.random(in: 20_000...32_000)  // below the ephemeral port range
        let process = Process()
        process.executableURL = binaries.appendingPathComponent("sls-enrollment")
        process.arguments = ["--listen", "tcp://127.0.0.1:\(port)", "--data-dir", data.path,
                             "--events-publish", "tcp://127.0.0.1:\(port + 1)", "--log-level", "warning"]
        try process.run()
        // Idle: started, database open, heartbeats going, no calls.
        Foundation.Thread.sleep(forTimeInterval: 3)
        let peak = peakResidentMegabytes(pid: process.processIdentifier)
        process.terminate()
        process.waitUntilExit()
        report("idle_service_peak_rss", peak ?? -1, "MB")
    }
}
