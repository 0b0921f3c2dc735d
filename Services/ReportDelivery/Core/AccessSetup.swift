/// DLV-10: when a user's set-up by the reporting team is complete, so that the user is notified
/// and may log in.
public struct AccessSetup: Sendable, Equatable {
    public var publicKeyCount: Int
    public var addressCount: Int

    public init(publicKeyCount: Int, addressCount: Int) {
        self.publicKeyCount = publicKeyCount
        self.addressCount = addressCount
    }

    /// What is still missing, in words for the reporting team; empty when complete. The PGP key
    /// is not required to log in: statements wait for it (DLV-08).
    public var missing: [String] {
        var missing: [String] = []
        if publicKeyCount == 0 { missing.append("an SSH public key (DLV-01)") }
        if addressCount == 0 { missing.append("an address to connect from (DLV-04)") }
        return missing
    }

    public var isComplete: Bool { missing.isEmpty }
}
