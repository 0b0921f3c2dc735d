/// A unary method of a service, with its request and response types.
///
/// Generated per service (e.g. `CryptoRulesAPI.checkOrder`) and passed to the bus
/// client and server, so a call cannot name one method and send another's message.
public struct RPCMethod<Request: ProtoMessage, Response: ProtoMessage>: Sendable, Hashable {
    /// `package.Service/Method`, as it travels in the request header.
    public let fullName: String

    public init(_ fullName: String) {
        self.fullName = fullName
    }

    /// The service part of the name, e.g. `sls.crypto.v1.CryptoRules`.
    public var serviceName: Substring { fullName.split(separator: "/").first ?? "" }
    /// The method part of the name, e.g. `CheckOrder`.
    public var methodName: Substring { fullName.split(separator: "/").last ?? "" }
}

/// A method whose types are known only at run time (slsctl, registries).
public struct AnyRPCMethod: Sendable {
    public let fullName: String
    public let requestType: any ProtoMessage.Type
    public let responseType: any ProtoMessage.Type

    public init<Request, Response>(_ method: RPCMethod<Request, Response>) {
        fullName = method.fullName
        requestType = Request.self
        responseType = Response.self
    }

    /// The method part of the name, e.g. `CheckOrder`.
    public var methodName: Substring { fullName.split(separator: "/").last ?? "" }
}
