import ArgumentParser
import Foundation
import SLSBus
import ZeroMQ

/// Where a command-line client reads its settings from: `<prefix>_KEY_FILE` and so on.
public protocol ClientEnvironment: Sendable {
    /// e.g. `SLSCTL`.
    static var prefix: String { get }
}

/// How a command-line client (slsctl, sls-device) authenticates itself on the bus: its key pair
/// and the public keys of the services, from flags or `<prefix>_KEY_FILE`, `<prefix>_PUBLIC_KEYS`,
/// `<prefix>_INSECURE`.
public struct ConnectionOptions<Environment: ClientEnvironment>: ParsableArguments {
    @Option(help: ArgumentHelp("The client's CurveZMQ key pair file, mode 0600 (env \(Environment.prefix)_KEY_FILE)."))
    public var keyFile = ProcessInfo.processInfo.environment["\(Environment.prefix)_KEY_FILE"] ?? ""

    @Option(help: ArgumentHelp("Folder of <identity>.pub files holding the services' public keys "
                               + "(env \(Environment.prefix)_PUBLIC_KEYS)."))
    public var publicKeys = ProcessInfo.processInfo.environment["\(Environment.prefix)_PUBLIC_KEYS"] ?? ""

    @Flag(name: .customLong("insecure"),
          help: ArgumentHelp("Connect without keys, to a stack started with --insecure (env \(Environment.prefix)_INSECURE=1)."))
    var insecureFlag = false

    public init() {}

    /// `--insecure`, or `<prefix>_INSECURE` set to 1, true or yes.
    public var insecure: Bool {
        insecureFlag || ["1", "true", "yes"].contains(
            (ProcessInfo.processInfo.environment["\(Environment.prefix)_INSECURE"] ?? "").lowercased())
    }

    /// The client's keys, or nil with --insecure. Fails with what to pass when they are missing.
    public func security() throws -> BusSecurity? {
        if insecure { return nil }
        guard !keyFile.isEmpty, !publicKeys.isEmpty else {
            throw ClientError("""
                no key: the stack is secured with CurveZMQ, so this client needs --key-file (env \
                \(Environment.prefix)_KEY_FILE) and --public-keys (env \(Environment.prefix)_PUBLIC_KEYS); \
                `make run` prints both for its development keyring. For a stack started with --insecure, pass --insecure
                """)
        }
        do {
            return try BusSecurity(keyFile: keyFile, publicKeys: publicKeys)
        } catch {
            throw ClientError(error.description)
        }
    }

    /// The client settings for the server named `name`.
    public func client(of name: String) throws -> CurveClient? {
        do {
            return try security()?.client(of: name)
        } catch let error as BusSecurityError {
            throw ClientError(error.description)
        }
    }
}

/// A usage or input problem of a command-line client, reported in one line.
public struct ClientError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

extension RPCError {
    /// The line command-line clients print for a refused call: `ERROR <CODE> [<rule>]: <message>`.
    public var commandLine: String {
        "ERROR \(code.description)\(ruleID.isEmpty ? "" : " [\(ruleID)]"): \(message)"
    }
}
