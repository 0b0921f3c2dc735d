import Logging
import SLSMessages
import Synchronization
import ZeroMQ

/// The event bus's rules, applied to each event and subscription the proxy sees (see ``ZMQProxy/Filter``):
///
/// - an event is forwarded only when it is well formed (three frames, a valid ``EventHeader``
///   whose type is the topic frame), its header's `producer` is the identity its publisher
///   was admitted as, and the policy lets that identity publish the type;
/// - a subscription is applied only when the policy lets the subscriber read every type it can match.
///
/// Everything refused is counted and logged (the first, then every power of two per cause).
public final class EventBusAuthorizer: Sendable {
    /// Why an event was dropped.
    public enum Refusal: String, Sendable, CaseIterable {
        case malformed = "malformed event"
        case unauthenticated = "publisher not authenticated"
        case spoofedProducer = "producer is not the publisher's identity"
        case topicNotAllowed = "publisher may not publish this type"
    }

    private let policy: BusPolicy
    private let fieldLimits: FieldLimits
    private let logger: Logger
    private let forwarded = Atomic<UInt64>(0)
    private let refused = Mutex([Refusal: UInt64]())
    private let refusedSubscriptions = Atomic<UInt64>(0)

    public init(policy: BusPolicy, fieldLimits: FieldLimits = FieldLimits(), logger: Logger) {
        self.policy = policy
        self.fieldLimits = fieldLimits
        self.logger = logger
    }

    /// The proxy filter applying these rules.
    public var filter: ZMQProxy.Filter {
        ZMQProxy.Filter(forward: { [self] in admit($0) }, subscribe: { [self] in admitSubscription($0, by: $1) })
    }

    /// Events forwarded so far.
    public var forwardedEvents: UInt64 { forwarded.load(ordering: .relaxed) }
    /// Events dropped so far, by cause.
    public func droppedEvents(_ cause: Refusal) -> UInt64 { refused.withLock { $0[cause] ?? 0 } }
    /// Subscriptions refused so far.
    public var refusedSubscriptionCount: UInt64 { refusedSubscriptions.load(ordering: .relaxed) }

    /// Whether an event may pass. Runs on the proxy's thread.
    public func admit(_ message: ZMQMessage) -> Bool {
        let frames = message.frames
        guard frames.count == 3, let header = try? EventHeader(serializedBytes: frames[1]),
              (try? header.validate(FieldValidator(limits: fieldLimits, nowUnixMs: unixMilliseconds()), in: "")) != nil,
              header.type.utf8.elementsEqual(frames[0]) else {
            return drop(.malformed, identity: message.userID, type: nil, producer: nil)
        }
        guard let identity = message.userID else {
            return drop(.unauthenticated, identity: nil, type: header.type, producer: header.producer)
        }
        guard header.producer == identity else {
            return drop(.spoofedProducer, identity: identity, type: header.type, producer: header.producer)
        }
        guard policy.mayPublish(identity, topic: header.type) else {
            return drop(.topicNotAllowed, identity: identity, type: header.type, producer: header.producer)
        }
        forwarded.add(1, ordering: .relaxed)
        return true
    }

    /// Whether a subscription may be applied. Runs on the proxy's thread.
    public func admitSubscription(_ prefix: [UInt8], by identity: String?) -> Bool {
        let topic = String(decoding: prefix, as: UTF8.self)
        if let identity, prefix.count <= 256, topic.utf8.elementsEqual(prefix),
           policy.maySubscribe(identity, prefix: topic) {
            logger.debug("subscription applied", metadata: ["identity": "\(identity)", "prefix": "\(topic)"])
            return true
        }
        let count = refusedSubscriptions.add(1, ordering: .relaxed).newValue
        if count & (count - 1) == 0 {
            logger.warning("refused a subscription: the policy does not let this identity read every type it matches",
                           metadata: ["identity": "\(identity ?? "none")", "prefix": "\(topic.prefix(256))",
                                      "refused_so_far": "\(count)"])
        }
        return false
    }

    private func drop(_ cause: Refusal, identity: String?, type: String?, producer: String?) -> Bool {
        let count = refused.withLock { counts -> UInt64 in
            counts[cause, default: 0] += 1
            return counts[cause]!
        }
        if count & (count - 1) == 0 {
            logger.warning("dropped an event: \(cause.rawValue)", metadata: [
                "identity": "\(identity ?? "none")", "type": "\(type ?? "?")", "producer": "\(producer ?? "?")",
                "dropped_so_far": "\(count)"])
        }
        return false
    }
}
