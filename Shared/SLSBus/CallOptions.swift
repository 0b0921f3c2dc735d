/// Per-call settings for ``RPCClient``.
public struct CallOptions: Sendable {
    /// How long the call may take; nil uses the client's default timeout.
    public var timeout: Duration?
    /// Correlates this call with others of the same piece of work; generated when empty.
    public var traceID: String
    /// Extra metadata, like gRPC headers.
    public var metadata: [String: String]

    public init(timeout: Duration? = nil, traceID: String = "", metadata: [String: String] = [:]) {
        self.timeout = timeout
        self.traceID = traceID
        self.metadata = metadata
    }
}
