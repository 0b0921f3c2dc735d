import SLSMessages

/// One part of the stack: its name, where it listens by default and which API it serves.
public struct CatalogEntry: Sendable, Hashable {
    /// Short name used in logs, event producers, data folders and slsctl, e.g. `crypto-rules`.
    public let name: String
    /// Default port of its ROUTER socket on 127.0.0.1.
    public let port: Int
    /// The proto service it implements, e.g. `sls.crypto.v1.CryptoRules` (empty: health only).
    public let api: String

    public init(name: String, port: Int, api: String) {
        self.name = name
        self.port = port
        self.api = api
    }

    /// The environment variable with which slsctl reaches it elsewhere, e.g. `SLSCTL_CRYPTO_RULES`.
    public var slsctlVariable: String {
        "SLSCTL_" + String(name.uppercased().map { $0 == "-" ? "_" : $0 })
    }

    /// `tcp://127.0.0.1:<port>`.
    public var defaultEndpoint: String { ServiceCatalog.loopback(port) }
}

/// The stack's parts and their default endpoints, written once: the executables, slsctl and
/// the tests read them here (the compose file, which is YAML, repeats the ports).
public enum ServiceCatalog {
    public static let eventBus = CatalogEntry(name: "event-bus", port: 7090, api: "")
    public static let enrollment = CatalogEntry(name: "enrollment", port: 7101, api: EnrollmentAPI.serviceName)
    public static let challengeVerification = CatalogEntry(name: "challenge-verification", port: 7102,
                                                           api: ChallengeVerificationAPI.serviceName)
    public static let reportDelivery = CatalogEntry(name: "report-delivery", port: 7103,
                                                    api: ReportDeliveryAPI.serviceName)
    public static let cryptoRules = CatalogEntry(name: "crypto-rules", port: 7104, api: CryptoRulesAPI.serviceName)

    /// Every part, the event bus first.
    public static let all = [eventBus, enrollment, challengeVerification, reportDelivery, cryptoRules]

    /// The bus port publishers connect to (XSUB).
    public static let eventsPublishPort = 7091
    /// The bus port subscribers connect to (XPUB).
    public static let eventsSubscribePort = 7092

    public static var eventsPublishEndpoint: String { loopback(eventsPublishPort) }
    public static var eventsSubscribeEndpoint: String { loopback(eventsSubscribePort) }

    /// The entry named `name`, if any.
    public static func entry(named name: String) -> CatalogEntry? {
        all.first { $0.name == name }
    }

    static func loopback(_ port: Int) -> String { "tcp://127.0.0.1:\(port)" }
}
