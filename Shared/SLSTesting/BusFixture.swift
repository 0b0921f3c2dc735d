import Logging
import SLSBus
import SLSMessages
import ZeroMQ

/// A server on a free loopback port with an echo method, and helpers to reach it.
public final class BusFixture: @unchecked Sendable {
    public let context = ZMQContext()
    public let server: RPCServer
    public let logger = Logger(label: "bus-tests")
    private let authentication: ZAPHandler?

    /// - Parameter secured: makes the server a CurveZMQ server with the key of `identity` in
    ///   `keyring` and its policy (see ``TestKeyring/server(_:context:)``).
    public init(maxMessageBytes: Int = 1 << 20, endpoint: String = "tcp://127.0.0.1:*",
                secured: (keyring: TestKeyring, identity: String)? = nil,
                register: (RPCServer) -> Void = { _ in }) throws {
        let curve = try secured.map { [context] in try $0.keyring.server($0.identity, context: context) }
        authentication = curve?.authentication
        server = try RPCServer(context: context,
                               configuration: .init(endpoint: endpoint, serviceName: "test",
                                                    maxMessageBytes: maxMessageBytes, security: curve),
                               logger: logger)
        server.register(BenchAPI.echo) { request, _ in EchoReply(payload: request.payload) }
        register(server)
        try server.start()
    }

    deinit {
        authentication?.stop()
    }

    /// A loopback endpoint that was free a moment ago and has nothing listening on it now, for
    /// tests of a client whose server is not up yet. The fixture that found it is shut down and
    /// its context terminated, which waits until libzmq has really closed the listener (closing
    /// is asynchronous).
    public static func vacantEndpoint() async throws -> String {
        var probe: BusFixture? = try BusFixture()
        let endpoint = probe!.server.boundEndpoint
        await probe!.server.shutdown()
        probe = nil
        return endpoint
    }

    public func client(timeout: Duration = .seconds(2), connectTimeout: Duration = .seconds(1),
                       caller: String = "bus-tests", security: CurveClient? = nil) throws -> RPCClient {
        try RPCClient(context: context, configuration: .init(
            endpoint: server.boundEndpoint, caller: caller, defaultTimeout: timeout,
            connectTimeout: connectTimeout, security: security))
    }

    /// A raw DEALER socket, for sending frames the client library would never send.
    public func rawDealer() throws -> ZMQSocket {
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.set(.linger(milliseconds: 0))
        try socket.connect(server.boundEndpoint)
        return socket
    }
}

/// Reads one reply from a raw socket, failing after two seconds instead of hanging.
public func receiveReply(_ socket: ZMQSocket) throws -> (header: ReplyHeader, payload: [UInt8]) {
    guard try socket.waitReadable(timeoutMilliseconds: 2000), let frames = try socket.receive(wait: false) else {
        throw RPCError(.deadlineExceeded, "no reply within 2 s")
    }
    guard frames.count == 2 else { throw RPCError(.internal, "reply has \(frames.count) frames") }
    return (try ReplyHeader(serializedBytes: frames[0]), frames[1])
}

/// An XSUB/XPUB event proxy on free loopback ports, already forwarding.
public func startEventProxy(_ context: ZMQContext) throws -> ZMQProxy {
    let proxy = try ZMQProxy(context: context, publishersEndpoint: "tcp://127.0.0.1:*",
                             subscribersEndpoint: "tcp://127.0.0.1:*")
    proxy.start()
    return proxy
}
