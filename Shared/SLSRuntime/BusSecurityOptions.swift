import ArgumentParser
import Logging
import SLSBus

/// The settings of bus security, shared by the services and the event bus.
///
/// Secure is the default: a process starts only with its key pair, the public key directory
/// and the policy, or with `--insecure`, which says so in its log at start-up.
public struct BusSecurityOptions: ParsableArguments {
    public static let keyFile = Setting(
        flag: "key-file", variable: "SLS_KEY_FILE", default: "",
        summary: "This process's CurveZMQ key pair (made by `slsctl keys create`; mode 0600).")
    public static let publicKeys = Setting(
        flag: "public-keys", variable: "SLS_PUBLIC_KEYS", default: "",
        summary: "Folder of <identity>.pub files: the clients admitted, and the servers' keys.")
    public static let policy = Setting(
        flag: "policy", variable: "SLS_POLICY", default: "",
        summary: "Bus policy file: who may call which method, publish and read which events.")

    @Option(name: .customLong(Self.keyFile.flag), help: Self.keyFile.help)
    public var keyFile = Self.keyFile.initial

    @Option(name: .customLong(Self.publicKeys.flag), help: Self.publicKeys.help)
    public var publicKeys = Self.publicKeys.initial

    @Option(name: .customLong(Self.policy.flag), help: Self.policy.help)
    public var policy = Self.policy.initial

    @Flag(name: .customLong("insecure"),
          help: "Run without encryption, authentication or authorization: for development only (env SLS_INSECURE=1).")
    var insecureFlag = false

    /// `--insecure`, or `SLS_INSECURE` set to 1, true or yes.
    public var insecure: Bool {
        insecureFlag || ["1", "true", "yes"].contains(Environment.string("SLS_INSECURE", default: "").lowercased())
    }

    public init() {}

    public func validate() throws {
        guard !insecure else { return }
        let missing = [(keyFile, Self.keyFile), (publicKeys, Self.publicKeys), (policy, Self.policy)]
            .filter { $0.0.isEmpty }.map { "--\($0.1.flag) (env \($0.1.variable))" }
        guard missing.isEmpty else {
            throw ValidationError("bus security needs \(missing.joined(separator: ", ")); `slsctl keys create` makes "
                                  + "keys and compose/bus-policy.yaml is the stack's policy. To run without any "
                                  + "security, for development only, pass --insecure (env SLS_INSECURE=1)")
        }
    }

    /// Loads the keys and the policy for the process named `identity` (its key must be bound to
    /// that name), logging the policy's warnings; nil with `--insecure`, after a warning.
    public func load(identity: String, logger: Logger) throws -> (security: BusSecurity, policy: BusPolicy)? {
        guard !insecure else {
            logger.warning("""
                running INSECURE (--insecure): no encryption, no authentication, no authorization; \
                anyone who reaches the ports can call every method and publish any event
                """)
            return nil
        }
        let security = try BusSecurity(keyFile: keyFile, publicKeys: publicKeys)
        guard security.identity == identity else {
            throw BusSecurityError("\(keyFile) is the key of '\(security.identity)', not of '\(identity)'")
        }
        let policy = try BusPolicy.load(path: self.policy, knownIdentities: Set(security.keys.keys.keys))
        for warning in policy.warnings { logger.warning("bus policy: \(warning)") }
        logger.info("bus security on", metadata: ["identity": "\(identity)", "public_key": "\(security.keyPair.publicKey)",
                                                  "admitted_keys": "\(security.keys.keys.count)",
                                                  "policy": "\(policy.source)"])
        return (security, policy)
    }
}
