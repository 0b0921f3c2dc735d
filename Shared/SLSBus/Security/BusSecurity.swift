import Logging
import Synchronization
import ZeroMQ

/// What a process needs to take part in a secured bus: who it is, its key pair, and the public
/// keys of everyone it admits or connects to.
///
/// Its identity is the name its public key has in the public key directory: the same name the
/// other side's ZAP handler will bind to its connections, whatever its requests claim.
public struct BusSecurity: Sendable {
    public let identity: String
    public let keyPair: CurveKeyPair
    public let keys: PublicKeyDirectory

    /// Loads the key pair file and the public key directory, and checks they agree.
    public init(keyFile: String, publicKeys: String) throws(BusSecurityError) {
        let (identity, keyPair) = try CurveKeyFile.loadKeyPair(at: keyFile)
        try self.init(identity: identity, keyPair: keyPair, keys: PublicKeyDirectory(path: publicKeys))
    }

    /// From keys already in memory; `keys` must hold `keyPair`'s public key under `identity`.
    public init(identity: String, keyPair: CurveKeyPair, keys: PublicKeyDirectory) throws(BusSecurityError) {
        guard let listed = keys.identity(of: keyPair.publicKey) else {
            throw BusSecurityError("the public key of '\(identity)' is not in \(keys.path): others could not admit "
                                   + "or reach it; add its \(identity).pub there")
        }
        guard listed == identity else {
            throw BusSecurityError("the key file says '\(identity)' but \(keys.path) lists its public key as '\(listed)'")
        }
        self.identity = identity
        self.keyPair = keyPair
        self.keys = keys
    }

    /// What a client needs to connect to the server named `server` (its public key from the directory).
    public func client(of server: String) throws(BusSecurityError) -> CurveClient {
        CurveClient(keyPair: keyPair, serverKey: try keys.publicKey(of: server), serverName: server)
    }

    /// Starts the ZAP handler of `context`, admitting every key of the directory, and logs
    /// refusals (the first, then every power of two: a flood of attempts cannot flood the log).
    public func startAuthentication(context: ZMQContext, logger: Logger) throws -> ZAPHandler {
        let refusals = Atomic<UInt64>(0)
        return try ZAPHandler(context: context, allowlist: keys.allowlist) { decision in
            if decision.admitted {
                logger.debug("admitted", metadata: ["identity": "\(decision.identity ?? "")",
                                                    "address": "\(decision.address)"])
                return
            }
            let count = refusals.add(1, ordering: .relaxed).newValue
            if count & (count - 1) == 0 {
                logger.warning("refused a connection", metadata: [
                    "reason": "\(decision.reason)", "address": "\(decision.address)",
                    "client_key": "\(decision.clientKey ?? "none")", "refused_so_far": "\(count)"])
            }
        }
    }
}

/// A client's CurveZMQ settings for one server.
public struct CurveClient: Sendable {
    public let keyPair: CurveKeyPair
    /// The server's public key.
    public let serverKey: String
    /// The server's identity, for messages.
    public let serverName: String

    public init(keyPair: CurveKeyPair, serverKey: String, serverName: String) {
        self.keyPair = keyPair
        self.serverKey = serverKey
        self.serverName = serverName
    }

    var socketOption: ZMQSocketOption { .curveClient(keyPair, serverKey: serverKey) }
}

/// A server's CurveZMQ settings: its key pair, the running ZAP handler that admits clients,
/// and the policy saying what each admitted identity may do.
public struct CurveServer: Sendable {
    public let keyPair: CurveKeyPair
    public let policy: BusPolicy
    /// Held so a secured server cannot exist without a handler (libzmq admits all without one).
    public let authentication: ZAPHandler

    public init(keyPair: CurveKeyPair, policy: BusPolicy, authentication: ZAPHandler) {
        self.keyPair = keyPair
        self.policy = policy
        self.authentication = authentication
    }
}
