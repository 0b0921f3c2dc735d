import CZeroMQ
import Synchronization

/// A ZeroMQ authentication (ZAP, RFC 27) handler admitting CurveZMQ clients whose public key
/// is on an allowlist, and binding each admitted connection to the identity named there.
///
/// libzmq asks the handler of the socket's context about every new connection to a socket
/// with ``ZMQSocketOption/curveServer(_:)``; the identity comes back on every message of that
/// connection as ``ZMQMessage/userID``. Only CURVE is admitted: a client without encryption
/// (the NULL mechanism) or with a key not on the list is refused during the handshake, before
/// any of its messages reach the socket. One handler per context; start it before binding
/// server sockets, since libzmq admits everyone while no handler is bound.
public final class ZAPHandler: @unchecked Sendable {
    /// One decision, reported to `onDecision` (the key is public; nothing secret is in here).
    public struct Decision: Sendable {
        public let admitted: Bool
        /// The identity bound to the client's key, when it was admitted.
        public let identity: String?
        /// The client's public key in Z85, when it offered one.
        public let clientKey: String?
        /// The peer's IP address.
        public let address: String
        /// The security mechanism the client asked for (CURVE, NULL, PLAIN).
        public let mechanism: String
        /// Why it was refused, in a few words.
        public let reason: String
    }

    /// The inproc endpoint libzmq sends ZAP requests to.
    static let endpoint = "inproc://zeromq.zap.01"

    private let socket: ZMQSocket
    private let control: ZMQSocket
    private let controller: ZMQSocket
    private let allowlist: [[UInt8]: String]
    private let onDecision: @Sendable (Decision) -> Void
    private let counts = Mutex((admitted: UInt64(0), refused: UInt64(0)))
    private var thread: OSThread?

    /// Binds the handler in `context` and starts answering on a thread of its own.
    ///
    /// - Parameters:
    ///   - allowlist: client public keys (Z85) and the identity each is bound to.
    ///   - onDecision: called on the handler's thread after every decision (keep it short).
    public init(context: ZMQContext, allowlist: [String: String],
                onDecision: @escaping @Sendable (Decision) -> Void = { _ in }) throws {
        var keys: [[UInt8]: String] = [:]
        for (key, identity) in allowlist {
            guard let bytes = CurveKeyPair.decode(key) else { throw CurveKeyError.notZ85(what: "public key of \(identity)") }
            keys[bytes] = identity
        }
        self.allowlist = keys
        self.onDecision = onDecision
        socket = try ZMQSocket(context: context, type: .reply)
        try socket.set(.linger(milliseconds: 0))
        try socket.bind(Self.endpoint)
        let controlEndpoint = "inproc://zap-control-\(UInt64.random(in: .min ... .max))"
        control = try ZMQSocket(context: context, type: .pair)
        try control.bind(controlEndpoint)
        controller = try ZMQSocket(context: context, type: .pair)
        try controller.connect(controlEndpoint)
        thread = OSThread(name: "zap-handler") { [self] in run() }
    }

    /// Connections admitted and refused so far.
    public var decisions: (admitted: UInt64, refused: UInt64) { counts.withLock { $0 } }

    /// Stops answering and closes the handler's sockets (call before the context ends).
    public func stop() {
        guard let thread else { return }
        try? controller.send([Array("STOP".utf8)])
        thread.join()
        self.thread = nil
        for socket in [socket, control, controller] { socket.close() }
    }

    private func run() {
        while true {
            guard let ready = try? ZMQSocket.waitReadable([socket, control], timeoutMilliseconds: -1) else { return }
            if ready[1] { return }
            guard ready[0], let request = try? socket.receive(wait: false) else { continue }
            let (reply, decision) = answer(request)
            try? socket.send(reply)
            counts.withLock { decision.admitted ? ($0.admitted += 1) : ($0.refused += 1) }
            onDecision(decision)
        }
    }

    /// The reply to one request: version, request id, status code, status text, user id, metadata.
    private func answer(_ request: [[UInt8]]) -> ([[UInt8]], Decision) {
        let text = { (index: Int) in index < request.count ? String(decoding: request[index], as: UTF8.self) : "" }
        let requestID = request.count > 1 ? request[1] : []
        let address = text(3), mechanism = text(5)
        func refuse(_ reason: String, key: String? = nil) -> ([[UInt8]], Decision) {
            ([Array("1.0".utf8), requestID, Array("400".utf8), Array(reason.utf8), [], []],
             Decision(admitted: false, identity: nil, clientKey: key, address: address, mechanism: mechanism,
                      reason: reason))
        }
        guard request.count >= 6, text(0) == "1.0" else { return refuse("malformed ZAP request") }
        guard mechanism == "CURVE", request.count == 7, request[6].count == 32 else {
            return refuse("CurveZMQ required, got \(mechanism.isEmpty ? "no mechanism" : mechanism)")
        }
        let key = z85(request[6])
        guard let identity = allowlist[request[6]] else { return refuse("unknown client key", key: key) }
        return ([Array("1.0".utf8), requestID, Array("200".utf8), Array("OK".utf8), Array(identity.utf8), []],
                Decision(admitted: true, identity: identity, clientKey: key, address: address, mechanism: mechanism,
                         reason: "OK"))
    }

    private func z85(_ bytes: [UInt8]) -> String {
        var text = [CChar](repeating: 0, count: 41)
        _ = zmq_z85_encode(&text, bytes, bytes.count)
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
