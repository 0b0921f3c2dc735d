import Foundation
import SLSMessages
import Yams

/// Who may call which method, publish which events and read which events: the bus policy file.
///
/// A YAML file reviewed like code (the stack's is `compose/bus-policy.yaml`):
///
///     methods:                       # method -> identities that may call it
///       sls.crypto.v1.CryptoRules/PlaceOrder: [portal, trading-gateway]
///       sls.health.v1.Health/Check: ["*"]
///     publish:                       # topic (event type) -> identities that may publish it
///       sls.accounts.v1.*: [accounts]
///     subscribe:                     # topic -> identities that may read it
///       sls.accounts.v1.*: [crypto-rules]
///
/// Patterns are a full name, `package.Service/*` (every method of a service), `package.*`
/// (every event type of a package) or `*`. Identities are names from the public key
/// directory, or `*` for every admitted identity. Whatever no rule allows is refused.
public struct BusPolicy: Sendable {
    /// One line of a section: a pattern and who it is granted to.
    public struct Rule: Sendable, Equatable {
        public let pattern: String
        public let identities: Set<String>

        func holds(_ identity: String) -> Bool {
            identities.contains(identity) || identities.contains("*")
        }
    }

    public let methods: [Rule]
    public let publish: [Rule]
    public let subscribe: [Rule]
    /// Where the policy was read from, for messages.
    public let source: String
    /// Things worth a look that do not stop the service (unknown identities, unknown topics).
    public let warnings: [String]
    /// Every known method each named identity may call, and those every admitted identity may:
    /// worked out once at load, so a call's check is two set lookups (it runs on every request).
    private let callable: [String: Set<String>]
    private let callableByAll: Set<String>
    /// The same for event types: who may publish and read each type of ProtoRegistry, worked out
    /// at load (the bus asks per event). Other topics fall back to the rules.
    private let publishable: Topics
    private let readable: Topics

    private struct Topics {
        var byIdentity: [String: Set<String>] = [:]
        var byAll = Set<String>()
        let known: Set<String>

        init(_ rules: [Rule], known: [String]) {
            self.known = Set(known)
            for rule in rules {
                let matching = known.filter { BusPolicy.matches(rule.pattern, $0, separator: ".") }
                for identity in rule.identities {
                    if identity == "*" { byAll.formUnion(matching) } else { byIdentity[identity, default: []].formUnion(matching) }
                }
            }
        }

        /// nil when `topic` is not a known type (then the rules decide).
        func allows(_ identity: String, _ topic: String) -> Bool? {
            guard known.contains(topic) else { return nil }
            return byAll.contains(topic) || byIdentity[identity]?.contains(topic) == true
        }
    }

    /// Policy files larger than this are refused.
    public static let maxBytes = 1 << 20

    /// Reads and checks the policy file at `path`.
    ///
    /// - Parameter knownIdentities: identities with a public key; rules naming others are
    ///   reported in ``warnings`` (nil: not checked).
    public static func load(path: String, knownIdentities: Set<String>? = nil) throws(BusSecurityError) -> BusPolicy {
        guard let attributes = try? FileManager.default.attributesOfItem(atPath: path),
              let size = attributes[.size] as? Int else {
            throw BusSecurityError("policy file \(path) cannot be read")
        }
        guard size <= maxBytes else { throw BusSecurityError("policy file \(path) is larger than \(maxBytes) bytes") }
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw BusSecurityError("policy file \(path) cannot be read as UTF-8 text")
        }
        return try BusPolicy(yaml: text, source: path, knownIdentities: knownIdentities)
    }

    /// Parses and checks a policy given as YAML text.
    public init(yaml: String, source: String = "policy", knownIdentities: Set<String>? = nil) throws(BusSecurityError) {
        let document: [String: [String: [String]]]
        do {
            document = try YAMLDecoder().decode([String: [String: [String]]].self, from: yaml)
        } catch {
            throw BusSecurityError("policy \(source) is not a map of sections (methods, publish, subscribe), each "
                                   + "a map from a pattern to a list of identities: \(String(describing: error).prefix(300))")
        }
        let sections = ["methods", "publish", "subscribe"]
        if let unknown = document.keys.first(where: { !sections.contains($0) }) {
            throw BusSecurityError("policy \(source): unknown section '\(unknown.prefix(64))'; the sections are "
                                   + sections.joined(separator: ", "))
        }
        var warnings: [String] = []
        func rules(_ section: String, isMethod: Bool) throws(BusSecurityError) -> [Rule] {
            var rules: [Rule] = []
            for (pattern, identities) in (document[section] ?? [:]).sorted(by: { $0.key < $1.key }) {
                let place = "policy \(source), \(section) '\(pattern.prefix(128))'"
                try Self.checkPattern(pattern, isMethod: isMethod, place: place, warnings: &warnings)
                for identity in identities where identity != "*" {
                    guard IdentityName.isValid(identity) else {
                        throw BusSecurityError("\(place): '\(identity.prefix(64))' is not an identity name")
                    }
                    if let known = knownIdentities, !known.contains(identity) {
                        warnings.append("\(place) names '\(identity)', which has no public key")
                    }
                }
                rules.append(Rule(pattern: pattern, identities: Set(identities)))
            }
            return rules
        }
        methods = try rules("methods", isMethod: true)
        publish = try rules("publish", isMethod: false)
        subscribe = try rules("subscribe", isMethod: false)
        self.source = source
        self.warnings = warnings
        let known = ProtoRegistry.methods.map { $0.fullName }
        var callable: [String: Set<String>] = [:]
        var callableByAll = Set<String>()
        for rule in methods {
            let matching = known.filter { Self.matches(rule.pattern, $0, separator: "/") }
            for identity in rule.identities {
                if identity == "*" { callableByAll.formUnion(matching) } else { callable[identity, default: []].formUnion(matching) }
            }
        }
        self.callable = callable
        self.callableByAll = callableByAll
        let types = ProtoRegistry.messages.map { $0.protoName }
        publishable = Topics(publish, known: types)
        readable = Topics(subscribe, known: types)
        try checkNoSubscriptionLeaks()
    }

    // MARK: - Decisions

    /// Whether `identity` may call `method` (`package.Service/Method`).
    public func mayCall(_ identity: String, _ method: String) -> Bool {
        callableByAll.contains(method) || callable[identity]?.contains(method) == true
    }

    /// Whether `identity` may publish events of type `topic`.
    public func mayPublish(_ identity: String, topic: String) -> Bool {
        publishable.allows(identity, topic)
            ?? publish.contains { $0.holds(identity) && Self.matches($0.pattern, topic, separator: ".") }
    }

    /// Whether `identity` may read events of type `topic`.
    public func mayRead(_ identity: String, topic: String) -> Bool {
        readable.allows(identity, topic)
            ?? subscribe.contains { $0.holds(identity) && Self.matches($0.pattern, topic, separator: ".") }
    }

    /// Whether `identity` may subscribe to `prefix`: every event type the prefix can match must
    /// be readable by it, and the prefix must be one of a bounded set (a granted pattern, or a
    /// prefix of a known message type), so subscribers cannot fill the bus with subscriptions.
    public func maySubscribe(_ identity: String, prefix: String) -> Bool {
        let covered = subscribe.contains { rule in
            guard rule.holds(identity) else { return false }
            switch rule.pattern {
            case "*": return true
            case let pattern where pattern.hasSuffix(".*"): return prefix.hasPrefix(pattern.dropLast())
            case let pattern: return prefix == pattern
            }
        }
        guard covered else { return false }
        return subscribe.contains { $0.pattern == prefix || $0.pattern.dropLast() == prefix }
            || ProtoRegistry.messages.contains { $0.protoName.hasPrefix(prefix) }
    }

    // MARK: - Checks

    static func matches(_ pattern: String, _ name: String, separator: Character) -> Bool {
        if pattern == "*" { return true }
        if pattern.hasSuffix("\(separator)*") { return name.hasPrefix(pattern.dropLast()) }
        return pattern == name
    }

    private static func checkPattern(_ pattern: String, isMethod: Bool, place: String,
                                     warnings: inout [String]) throws(BusSecurityError) {
        let allowed = { (byte: UInt8) in
            (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte) || (0x30...0x39).contains(byte)
                || byte == 0x2E || byte == 0x5F || byte == 0x2F || byte == 0x2A
        }
        guard !pattern.isEmpty, pattern.utf8.count <= 256, pattern.utf8.allSatisfy(allowed),
              pattern == "*" || !pattern.dropLast().contains("*") else {
            throw BusSecurityError("\(place): a pattern is a full name, 'package.Service/*', 'package.*' or '*'")
        }
        if isMethod {
            guard pattern == "*" || pattern.contains("/") else {
                throw BusSecurityError("\(place): a method is 'package.Service/Method' or 'package.Service/*'")
            }
            // A typo here would silently refuse calls: every method pattern must name real methods.
            guard ProtoRegistry.methods.contains(where: { matches(pattern, $0.fullName, separator: "/") }) else {
                throw BusSecurityError("\(place) names no known method (see `slsctl list`)")
            }
        } else {
            guard !pattern.contains("/"), pattern == "*" || !pattern.hasSuffix("*") || pattern.hasSuffix(".*") else {
                throw BusSecurityError("\(place): a topic is an event type ('package.Message') or 'package.*'")
            }
            if !ProtoRegistry.messages.contains(where: { matches(pattern, $0.protoName, separator: ".") }) {
                warnings.append("\(place) names no known message type")
            }
        }
    }

    /// ZeroMQ topics match by prefix: reading `sls.x.v1.Order` also delivers `sls.x.v1.OrderSecret`.
    /// Refuse a policy in which that would hand a reader a type it may not read.
    private func checkNoSubscriptionLeaks() throws(BusSecurityError) {
        if let leak = firstSubscriptionLeak() {
            throw BusSecurityError("policy \(source), subscribe '\(leak.pattern)': topics match by prefix, so "
                                   + "'\(leak.identity)' would also receive \(leak.type), which it may not read")
        }
    }

    private func firstSubscriptionLeak() -> (pattern: String, identity: String, type: String)? {
        let types = ProtoRegistry.messages.map { $0.protoName }
        for rule in subscribe where !rule.pattern.hasSuffix("*") {
            for type in types where type != rule.pattern && type.hasPrefix(rule.pattern) {
                if let identity = rule.identities.sorted().first(where: { !mayRead($0, topic: type) }) {
                    return (rule.pattern, identity, type)
                }
            }
        }
        return nil
    }
}
