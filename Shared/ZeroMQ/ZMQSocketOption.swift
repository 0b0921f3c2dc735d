import CZeroMQ

/// The socket options the project sets, typed, so that code above this module never needs
/// libzmq's C constants (`import CZeroMQ` stays inside ZeroMQ).
public enum ZMQSocketOption: Sendable, Equatable {
    /// How long unsent messages are kept after close (`ZMQ_LINGER`); 0 drops them.
    case linger(milliseconds: Int32)
    /// Outbound messages queued per peer before libzmq drops or blocks (`ZMQ_SNDHWM`).
    case sendHighWaterMark(Int)
    /// Inbound messages queued per peer before libzmq stops reading (`ZMQ_RCVHWM`).
    case receiveHighWaterMark(Int)
    /// Largest frame accepted; a peer sending a larger one is disconnected (`ZMQ_MAXMSGSIZE`).
    case maxMessageSize(Int)
    /// Queue messages only on completed connections (`ZMQ_IMMEDIATE`).
    case immediate(Bool)
    /// First and largest wait before reconnecting (`ZMQ_RECONNECT_IVL`, `ZMQ_RECONNECT_IVL_MAX`).
    case reconnectInterval(milliseconds: Int32, maximum: Int32)
    /// ZMTP heartbeats: how often, and after how long without an answer the peer is dropped.
    case heartbeat(intervalMilliseconds: Int32, timeoutMilliseconds: Int32)
    /// Accept CurveZMQ connections only, with this server's key pair (`ZMQ_CURVE_SERVER`).
    /// Clients are admitted by the context's ZAP handler (see ``ZAPHandler``): without one,
    /// libzmq admits any client that knows the server's public key.
    case curveServer(CurveKeyPair)
    /// Connect with CurveZMQ as `keyPair` to the server whose public key is `serverKey`.
    case curveClient(CurveKeyPair, serverKey: String)
    /// XPUB only: subscriptions are not applied by libzmq but handed to the reader, which
    /// applies those it accepts with ``ZMQSocket/applySubscription(_:subscribe:)`` (`ZMQ_XPUB_MANUAL`).
    case manualSubscriptions(Bool)
}

extension ZMQSocket {
    /// Sets `option`.
    public func set(_ option: ZMQSocketOption) throws {
        switch option {
        case .linger(let milliseconds): try setOption(ZMQ_LINGER, milliseconds)
        case .sendHighWaterMark(let count): try setOption(ZMQ_SNDHWM, Int32(clamping: count))
        case .receiveHighWaterMark(let count): try setOption(ZMQ_RCVHWM, Int32(clamping: count))
        case .maxMessageSize(let bytes): try setOption(ZMQ_MAXMSGSIZE, Int64(bytes))
        case .immediate(let on): try setOption(ZMQ_IMMEDIATE, Int32(on ? 1 : 0))
        case .reconnectInterval(let first, let maximum):
            try setOption(ZMQ_RECONNECT_IVL, first)
            try setOption(ZMQ_RECONNECT_IVL_MAX, maximum)
        case .heartbeat(let interval, let timeout):
            try setOption(ZMQ_HEARTBEAT_IVL, interval)
            try setOption(ZMQ_HEARTBEAT_TIMEOUT, timeout)
        case .curveServer(let keyPair):
            try setOption(ZMQ_CURVE_SERVER, Int32(1))
            try setOption(ZMQ_CURVE_SECRETKEY, Array(keyPair.secretKey.utf8))
        case .curveClient(let keyPair, let serverKey):
            try setOption(ZMQ_CURVE_SERVERKEY, Array(serverKey.utf8))
            try setOption(ZMQ_CURVE_PUBLICKEY, Array(keyPair.publicKey.utf8))
            try setOption(ZMQ_CURVE_SECRETKEY, Array(keyPair.secretKey.utf8))
        case .manualSubscriptions(let on): try setOption(ZMQ_XPUB_MANUAL, Int32(on ? 1 : 0))
        }
    }
}
