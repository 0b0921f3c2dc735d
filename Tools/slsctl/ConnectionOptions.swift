import ArgumentParser
import Foundation
import SLSBus
import ZeroMQ

/// How slsctl authenticates itself on the bus: its key pair and the public keys of the services.
struct ConnectionOptions: ParsableArguments {
    @Option(help: "slsctl's CurveZMQ key pair file, mode 0600 (env SLSCTL_KEY_FILE).")
    var keyFile = ProcessInfo.processInfo.environment["SLSCTL_KEY_FILE"] ?? ""

    @Option(help: "Folder of <identity>.pub files holding the services' public keys (env SLSCTL_PUBLIC_KEYS).")
    var publicKeys = ProcessInfo.processInfo.environment["SLSCTL_PUBLIC_KEYS"] ?? ""

    @Flag(name: .customLong("insecure"), help: "Connect without keys, to a stack started with --insecure (env SLSCTL_INSECURE=1).")
    var insecureFlag = false

    /// `--insecure`, or `SLSCTL_INSECURE` set to 1, true or yes.
    var insecure: Bool {
        insecureFlag || ["1", "true", "yes"].contains((ProcessInfo.processInfo.environment["SLSCTL_INSECURE"] ?? "").lowercased())
    }

    /// slsctl's keys, or nil with --insecure. Fails with what to pass when they are missing.
    func security() throws -> BusSecurity? {
        if insecure { return nil }
        guard !keyFile.isEmpty, !publicKeys.isEmpty else {
            throw SlsctlError("""
                no key: the stack is secured with CurveZMQ, so slsctl needs --key-file (env SLSCTL_KEY_FILE) \
                and --public-keys (env SLSCTL_PUBLIC_KEYS); `make run` prints both for its development keyring. \
                For a stack started with --insecure, pass --insecure
                """)
        }
        do {
            return try BusSecurity(keyFile: keyFile, publicKeys: publicKeys)
        } catch {
            throw SlsctlError(error.description)
        }
    }

    /// The client settings for the server named `name`.
    func client(of name: String) throws -> CurveClient? {
        do {
            return try security()?.client(of: name)
        } catch let error as BusSecurityError {
            throw SlsctlError(error.description)
        }
    }
}
