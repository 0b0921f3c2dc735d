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
        // Without keys: the figure is the service's own footprint, and a key directory would only add files.
        process.arguments = ["--listen", "tcp://127.0.0.1:\(port)", "--data-dir", data.path,
                             "--events-publish", "tcp://127.0.0.1:\(port + 1)", "--log-level", "warning", "--insecure"]
        try process.run()
        // Idle: started, database open, heartbeats going, no calls. Its CPU is measured once the
        // start-up is over: an idle service's socket threads sleep, so it should be next to none.
        Foundation.Thread.sleep(forTimeInterval: 1)
        let before = cpuSeconds(pid: process.processIdentifier)
        Foundation.Thread.sleep(forTimeInterval: 2)
        let after = cpuSeconds(pid: process.processIdentifier)
        let peak = peakResidentMegabytes(pid: process.processIdentifier)
        // Most of the resident set is mapped code (the binary, Swift's runtime and Foundation), shared
        // with every other process using it; anonymous memory is the service's own.
        let anonymous = statusMegabytes(pid: process.processIdentifier, field: "RssAnon:")
        guard process.isRunning, let peak, let anonymous, let before, let after else {
            // A service that did not stay up has no idle figures: say so instead of printing a number.
            process.waitUntilExit()
            throw IdleServiceExited(status: process.terminationStatus)
        }
        process.terminate()
        process.waitUntilExit()
        report("idle_service_peak_rss", peak, "MB")
        report("idle_service_anonymous_rss", anonymous, "MB")
        report("idle_service_cpu", (after - before) / 2 * 100, "% of a core")
    }

    struct IdleServiceExited: Error, CustomStringConvertible {
        let status: Int32
        var description: String { "sls-enrollment exited with status \(status) before its idle figures were read" }
    }

    /// User plus system CPU time of a process so far, from `/proc/PID/stat`.
    static func cpuSeconds(pid: Int32) -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // Fields after the command name, which may contain spaces: state is field 3, utime 14, stime 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return nil }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
