import CZeroMQ

/// How a connection's security handshake ended, as libzmq's socket monitor reports it.
public enum HandshakeOutcome: Sendable, Equatable, CustomStringConvertible {
    case succeeded
    /// The server's authentication handler refused this client (ZAP status, e.g. 400).
    case refusedByServer(status: Int)
    /// The two ends do not speak the same security mechanism (e.g. a client without a key
    /// connecting to a CurveZMQ server), or another protocol error (`code`).
    case mechanismMismatch
    case protocolError(code: UInt32)
    /// The peer closed during the handshake without saying why: with CurveZMQ, typically
    /// because the client used the wrong server public key (the server cannot read it).
    case closedDuringHandshake

    public var description: String {
        switch self {
        case .succeeded: "handshake succeeded"
        case .refusedByServer(let status):
            "the server refused this client's key (ZAP status \(status)): the key is not on its allowlist"
        case .mechanismMismatch:
            "the server and this client use different security (one CurveZMQ, the other none)"
        case .protocolError(let code): "handshake protocol error 0x\(String(code, radix: 16))"
        case .closedDuringHandshake:
            "the server closed the connection during the handshake: is the server's public key the right one?"
        }
    }
}

/// Watches one socket's handshakes (libzmq's `zmq_socket_monitor`), so a client can say *why*
/// it has no connection instead of only timing out.
///
/// Read it from the thread that uses the monitored socket's owner (``latestFailure()`` does not block).
public final class HandshakeMonitor: @unchecked Sendable {
    private let socket: ZMQSocket
    private var lastFailure: HandshakeOutcome?

    /// Starts monitoring `monitored`; call before it connects so no handshake is missed.
    public init(context: ZMQContext, monitoring monitored: ZMQSocket) throws {
        let endpoint = "inproc://handshake-monitor-\(UInt64.random(in: .min ... .max))"
        let events = ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
            | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL
        guard let handle = monitored.handle, zmq_socket_monitor(handle, endpoint, events) == 0 else {
            throw ZMQError.last("zmq_socket_monitor")
        }
        socket = try ZMQSocket(context: context, type: .pair)
        try socket.set(.linger(milliseconds: 0))
        try socket.connect(endpoint)
    }

    deinit {
        socket.close()
    }

    /// Reads the events that arrived and returns the last failure since the last success
    /// (nil when the latest handshake succeeded or none has ended yet).
    public func latestFailure() -> HandshakeOutcome? {
        while let frames = try? socket.receive(wait: false) {
            guard let outcome = Self.outcome(frames) else { continue }
            switch outcome {
            case .succeeded: lastFailure = nil
            // A retry that only sees the peer hang up says less than a reason already given.
            case .closedDuringHandshake where lastFailure != nil: break
            default: lastFailure = outcome
            }
        }
        return lastFailure
    }

    /// Stops reading events.
    public func close() {
        socket.close()
    }

    private static func outcome(_ frames: [[UInt8]]) -> HandshakeOutcome? {
        guard let first = frames.first, first.count >= 6 else { return nil }
        let event = first.withUnsafeBytes { Int32($0.loadUnaligned(as: UInt16.self)) }
        let value = first.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: 2, as: UInt32.self) }
        switch event {
        case ZMQ_EVENT_HANDSHAKE_SUCCEEDED: return .succeeded
        case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH: return .refusedByServer(status: Int(value))
        case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
            return Int32(bitPattern: value) == ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH
                ? .mechanismMismatch : .protocolError(code: value)
        case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL: return .closedDuringHandshake
        default: return nil
        }
    }
}
