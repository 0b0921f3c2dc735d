import Foundation
import NetworkAddresses

/// What the SFTP endpoint needs to know about users. Answers from memory: it is asked on the
/// accept thread and on session threads, before any database could be.
public protocol SFTPUserDirectory: Sendable {
    /// Whether any user registered an address range that holds `address` (DLV-04: a connection
    /// from any other address is closed before the SSH banner).
    func isRegisteredAddress(_ address: String) -> Bool
    /// `userName`'s login, or nil when there is no such user or the set-up is not complete (DLV-10).
    func login(for userName: String) -> SFTPLogin?
}

/// One user's way in: the registered public keys, the addresses, the folder.
public struct SFTPLogin: Sendable {
    public let userName: String
    /// The registered keys in SSH wire format (DLV-05: any other key is refused).
    public let keyBlobs: Set<Data>
    public let addresses: IPAllowlist
    /// The user's folder on disk.
    public let folder: String

    public init(userName: String, keyBlobs: Set<Data>, addresses: IPAllowlist, folder: String) {
        self.userName = userName
        self.keyBlobs = keyBlobs
        self.addresses = addresses
        self.folder = folder
    }
}
