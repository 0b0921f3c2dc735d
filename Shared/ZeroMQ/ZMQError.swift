import CZeroMQ

/// A failed libzmq call, with errno and libzmq's own words for it.
public struct ZMQError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The errno libzmq reported (EAGAIN, EHOSTUNREACH, ETERM, ...).
    public let code: Int32
    /// What was being done, e.g. "bind tcp://127.0.0.1:7101".
    public let operation: String

    public init(code: Int32, operation: String) {
        self.code = code
        self.operation = operation
    }

    /// The error of the last libzmq call on this thread.
    static func last(_ operation: String) -> ZMQError {
        ZMQError(code: zmq_errno(), operation: operation)
    }

    /// True when a non-blocking operation could not proceed right now.
    public var isWouldBlock: Bool { code == EAGAIN }

    public var description: String {
        "\(operation): \(String(cString: zmq_strerror(code)))"
    }
}
