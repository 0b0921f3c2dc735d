/// Report delivery's rules that DOMAIN.md leaves as settings, with its values as defaults.
public struct DeliverySettings: Sendable {
    /// DLV-07: days a file is kept after delivery.
    public var retention = RetentionRule.standard
    /// DLV-08: deliver a statement unencrypted when the user has no PGP key. Off: it is held.
    public var allowPlainDelivery = false
    /// SSH public keys one user may register.
    public var maxPublicKeysPerUser = 10
    /// Messages kept in one user's Message Center (the oldest go first).
    public var maxMessagesPerUser = 500
    /// Statements one user may have waiting for a PGP key.
    public var maxHeldPerUser = 100
    /// DLV-04: the widest ranges a user may register (IPv4 /16, IPv6 /48 by default).
    public var minimumIPv4Prefix = 16
    public var minimumIPv6Prefix = 48
    /// ACC-05: SFTP users must be broker users the account service announced (AccountOpened).
    public var requireKnownAccount = true

    public init() {}
}
