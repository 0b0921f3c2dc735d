import Foundation

/// Runs the stock tools users have (OpenSSH's ssh-keygen and sftp, PuTTY's puttygen, GnuPG) the
/// way they do.
public enum StockTools {
    public struct Failure: Error, CustomStringConvertible {
        public let description: String
        public init(description: String) { self.description = description }
    }

    /// A finished run: exit status and both outputs.
    public struct Outcome: Sendable {
        public let status: Int32
        public let stdout: String
        public let stderr: String
        /// Standard output as bytes, for tools that write binary.
        public let output: Data
    }

    /// Runs `tool` (found on the PATH) with `arguments` and `environment` added, bounded by
    /// `timeout` seconds.
    public static func outcome(_ tool: String, _ arguments: [String], environment: [String: String] = [:],
                               timeout: TimeInterval = 60) throws -> Outcome {
        try outcome(executable: URL(fileURLWithPath: "/usr/bin/env"), [tool] + arguments, environment: environment,
                    timeout: timeout)
    }

    /// Runs `executable`: standard input empty, both outputs read while it runs (a chatty tool
    /// cannot block on a full pipe), stopped after `timeout` seconds. The one process runner of
    /// the test kit (``Stack``, ``Zbar`` and the tests use it).
    public static func outcome(executable: URL, _ arguments: [String], environment: [String: String] = [:],
                               timeout: TimeInterval = 60) throws -> Outcome {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let output = Pipe(), errors = Pipe()
        process.standardOutput = output
        process.standardError = errors
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let deadline = Date().addingTimeInterval(timeout)
        nonisolated(unsafe) var out = Data(), err = Data()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) { out = output.fileHandleForReading.readDataToEndOfFile() }
        DispatchQueue.global().async(group: group) { err = errors.fileHandleForReading.readDataToEndOfFile() }
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
        group.wait()
        return Outcome(status: process.terminationStatus, stdout: String(decoding: out, as: UTF8.self),
                       stderr: String(decoding: err, as: UTF8.self), output: out)
    }

    /// Runs `tool` with `arguments`; returns standard output, throws with standard error on failure.
    @discardableResult
    public static func run(_ tool: String, _ arguments: [String]) throws -> String {
        let result = try outcome(tool, arguments)
        guard result.status == 0 else {
            throw Failure(description: "\(tool) \(arguments.joined(separator: " ")): \(result.stderr)")
        }
        return result.stdout
    }

    /// A fresh folder for key files.
    public static func scratch() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("dlv-keys-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// `ssh-keygen -t type [-b bits]` without a passphrase; returns the private key path.
    public static func sshKeygen(_ type: String, bits: Int? = nil, format: String? = nil, in folder: URL) throws -> String {
        let path = folder.appendingPathComponent("\(type)-\(bits ?? 0)-\(format ?? "openssh")").path
        var arguments = ["-q", "-t", type, "-N", "", "-C", "dlv-test", "-f", path]
        if let bits { arguments += ["-b", "\(bits)"] }
        if let format { arguments += ["-m", format] }
        try run("ssh-keygen", arguments)
        return path
    }

    /// What `ssh-keygen -l -E sha256` prints as the fingerprint of the key at `path`.
    public static func fingerprint(of path: String) throws -> String {
        String(try run("ssh-keygen", ["-l", "-E", "sha256", "-f", path]).split(separator: " ")[1])
    }
}
