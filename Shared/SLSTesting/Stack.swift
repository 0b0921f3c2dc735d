import Foundation
import SLSBus
import ZeroMQ

/// The real executables, started on free loopback ports with a temporary data folder and, unless
/// told otherwise, bus security on: a keyring made for the test and the stack's own policy file.
public final class Stack: @unchecked Sendable {
    /// Identities with keys in a test keyring besides the stack's parts.
    public static let clientIdentities = ["operations", "portal", "trading-gateway", "accounts", "venue-gateway",
                                          "sms-gateway", "mobile-gateway", "push-gateway", "reporting", "mail-gateway"]
    /// The stack's policy file.
    public static let policyFile = root.appendingPathComponent("compose/bus-policy.yaml")

    public struct Ports: Sendable {
        public let health: Int, publishers: Int, subscribers: Int
        public let enrollment: Int, challenge: Int, delivery: Int, crypto: Int
        /// Report delivery's SFTP endpoint.
        public let sftp: Int
    }

    /// The repository (this file is Shared/SLSTesting/Stack.swift).
    public static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()
    /// Executables are built next to the test bundle.
    public static let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()

    public let ports: Ports
    public let dataDirectory: URL
    /// Whether the stack runs without keys (`--insecure`).
    public let insecure: Bool
    /// `secret/<identity>.key` and `public/<identity>.pub` of every part and client identity.
    public var keyring: URL { dataDirectory.appendingPathComponent("keyring") }
    /// The identity whose key slsctl uses unless a call says otherwise.
    public var slsctlIdentity = "operations"
    public private(set) var processes: [String: Process] = [:]
    private var logs: [String: URL] = [:]

    /// - Parameter insecure: run every part with `--insecure` (no keys at all).
    public init(insecure: Bool = false) throws {
        self.insecure = insecure
        // Below Linux's ephemeral range (32768-60999), which `tcp://...:*` binds and outgoing
        // connections draw from, so a test port cannot collide with one of those.
        var base = Int.random(in: 20_000...32_000)
        // Skip a block where something already listens (another test's stack still shutting down).
        for _ in 0..<20 where !(base..<base + 8).allSatisfy(Self.isFree) {
            base = Int.random(in: 20_000...32_000)
        }
        ports = Ports(health: base, publishers: base + 1, subscribers: base + 2, enrollment: base + 3,
                      challenge: base + 4, delivery: base + 5, crypto: base + 6, sftp: base + 7)
        dataDirectory = FileManager.default.temporaryDirectory.appendingPathComponent("sls-e2e-\(UUID())")
        try FileManager.default.createDirectory(at: dataDirectory, withIntermediateDirectories: true)
        if !insecure {
            for identity in ServiceCatalog.all.map(\.name) + Self.clientIdentities {
                try CurveKeyFile.save(try CurveKeyPair.generate(), identity: identity, inKeyring: keyring.path)
            }
        }
    }

    /// The key pair file of `identity`.
    public func keyFile(of identity: String) -> String {
        keyring.appendingPathComponent("secret/\(identity).key").path
    }

    /// The bus security of `identity`, for clients in the test process; nil when insecure.
    public func security(of identity: String) throws -> BusSecurity? {
        insecure ? nil : try BusSecurity(keyFile: keyFile(of: identity),
                                         publicKeys: keyring.appendingPathComponent("public").path)
    }

    /// Client settings of `identity` for the server named `server`; nil when insecure.
    public func client(_ identity: String, of server: String) throws -> CurveClient? {
        try security(of: identity)?.client(of: server)
    }

    /// Whether nothing listens on `port` on loopback now.
    public static func isFree(_ port: Int) -> Bool {
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
            }
        }
    }

    deinit {
        stopAll()
        try? FileManager.default.removeItem(at: dataDirectory)
    }

    public func endpoint(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }

    /// Environment for slsctl and the services: every endpoint of this stack.
    public var environment: [String: String] {
        var env = ProcessInfo.processInfo.environment
        for entry in ServiceCatalog.all {
            env[entry.slsctlVariable] = endpoint(port(of: entry))
        }
        env["SLS_EVENTS_PUBLISH"] = endpoint(ports.publishers)
        env["SLS_EVENTS_SUBSCRIBE"] = endpoint(ports.subscribers)
        // Enrollment reaches challenge verification for its key-agreement key (DSC+ seeds).
        env["SLS_ENROLLMENT_CHALLENGE_VERIFICATION"] = endpoint(ports.challenge)
        env["SLS_DELIVERY_SFTP_PORT"] = String(ports.sftp)
        env["SLS_DELIVERY_SFTP_HOST"] = "127.0.0.1"
        env["SLS_HEARTBEAT_SECONDS"] = "0.2"
        env["SLS_LOG_LEVEL"] = "info"
        if insecure {
            env["SLS_INSECURE"] = "1"
            env["SLSCTL_INSECURE"] = "1"
        } else {
            env["SLS_PUBLIC_KEYS"] = keyring.appendingPathComponent("public").path
            env["SLS_POLICY"] = Self.policyFile.path
            env["SLSCTL_PUBLIC_KEYS"] = keyring.appendingPathComponent("public").path
            env["SLSCTL_KEY_FILE"] = keyFile(of: slsctlIdentity)
        }
        return env
    }

    public func startEventBus() throws {
        try start("sls-event-bus", arguments: ["--listen", endpoint(ports.health),
                                               "--events-publish", endpoint(ports.publishers),
                                               "--events-subscribe", endpoint(ports.subscribers)])
    }

    public func startService(_ name: String, port: Int, extra: [String] = []) throws {
        try start("sls-\(name)", arguments: ["--listen", endpoint(port),
                                             "--data-dir", dataDirectory.appendingPathComponent(name).path] + extra)
    }

    /// This stack's port for a part of the catalog.
    public func port(of entry: CatalogEntry) -> Int {
        switch entry.name {
        case ServiceCatalog.enrollment.name: ports.enrollment
        case ServiceCatalog.challengeVerification.name: ports.challenge
        case ServiceCatalog.reportDelivery.name: ports.delivery
        case ServiceCatalog.cryptoRules.name: ports.crypto
        default: ports.health
        }
    }

    /// The event bus and every service of the catalog.
    public func startAll() throws {
        try startEventBus()
        for entry in ServiceCatalog.all where entry != ServiceCatalog.eventBus {
            try startService(entry.name, port: port(of: entry))
        }
    }

    public func start(_ executable: String, arguments: [String]) throws {
        let process = Process()
        process.executableURL = Self.binaries.appendingPathComponent(executable)
        process.arguments = arguments
        var environment = environment
        // Each part has its own key: sls-crypto-rules is crypto-rules.
        let identity = executable.hasPrefix("sls-") ? String(executable.dropFirst(4)) : executable
        if !insecure && FileManager.default.fileExists(atPath: keyFile(of: identity)) {
            environment["SLS_KEY_FILE"] = keyFile(of: identity)
        }
        process.environment = environment
        let log = dataDirectory.appendingPathComponent("\(executable).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
        processes[executable] = process
        logs[executable] = log
    }

    public func log(of executable: String) -> String {
        logs[executable].flatMap { try? String(contentsOf: $0, encoding: .utf8) } ?? ""
    }

    /// Sends `signal` and waits (bounded) for the process to end; returns its exit status.
    @discardableResult
    public func stop(_ executable: String, signal: Int32 = SIGTERM) -> Int32? {
        guard let process = processes.removeValue(forKey: executable) else { return nil }
        kill(process.processIdentifier, signal)
        for _ in 0..<200 where process.isRunning { usleep(25_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
            return nil
        }
        return process.terminationStatus
    }

    public func stopAll() {
        for name in Array(processes.keys) { stop(name) }
    }

    /// Runs a command to completion (bounded by `timeout`); returns status and output.
    public func run(_ executable: URL, _ arguments: [String], timeout: TimeInterval = 30,
                    overriding overrides: [String: String] = [:]) throws
        -> (status: Int32, stdout: String, stderr: String) {
        let result = try StockTools.outcome(executable: executable, arguments,
                                            environment: environment.merging(overrides) { $1 }, timeout: timeout)
        return (result.status, result.stdout, result.stderr)
    }

    public func slsctl(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(Self.binaries.appendingPathComponent("slsctl"), arguments)
    }

    /// Runs sls-device (the simulated phone) through the mobile gateway's key.
    public func device(_ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        var overrides = ["SLS_DEVICE_ENROLLMENT": endpoint(ports.enrollment),
                         "SLS_DEVICE_CHALLENGE": endpoint(ports.challenge)]
        if insecure {
            overrides["SLS_DEVICE_INSECURE"] = "1"
        } else {
            overrides["SLS_DEVICE_KEY_FILE"] = keyFile(of: "mobile-gateway")
            overrides["SLS_DEVICE_PUBLIC_KEYS"] = keyring.appendingPathComponent("public").path
        }
        return try run(Self.binaries.appendingPathComponent("sls-device"), arguments, overriding: overrides)
    }

    /// Runs slsctl with the key of `identity`.
    public func slsctl(as identity: String, _ arguments: String...) throws -> (status: Int32, stdout: String, stderr: String) {
        try run(Self.binaries.appendingPathComponent("slsctl"), arguments,
                overriding: ["SLSCTL_KEY_FILE": keyFile(of: identity)])
    }

    /// Polls `slsctl health` until every named service serves (bounded); false at once
    /// when a started process has exited (its log says why).
    public func waitUntilServing(_ services: [String] = []) throws -> Bool {
        for _ in 0..<100 {
            if let exited = processes.first(where: { !$0.value.isRunning }) {
                print("\(exited.key) exited with \(exited.value.terminationStatus):\n\(log(of: exited.key))")
                return false
            }
            if try run(Self.binaries.appendingPathComponent("slsctl"), ["health", "--timeout", "0.5"] + services).status == 0 {
                return true
            }
            usleep(100_000)
        }
        return false
    }
}
