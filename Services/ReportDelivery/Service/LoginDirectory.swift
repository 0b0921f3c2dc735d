import Foundation
import GRDB
import NetworkAddresses
import Synchronization

/// The SFTP endpoint's view of users, kept in memory and rebuilt from the database after every
/// change of keys, addresses or set-up (so sessions never wait for SQLite).
final class LoginDirectory: SFTPUserDirectory {
    private struct Snapshot {
        var logins: [String: SFTPLogin] = [:]
        /// Every address range of every user: DLV-04's check before the banner.
        var anyAddress = IPAllowlist.empty
    }

    private let snapshot = Mutex(Snapshot())
    private let folders: DeliveryFolders

    init(folders: DeliveryFolders) {
        self.folders = folders
    }

    func isRegisteredAddress(_ address: String) -> Bool {
        snapshot.withLock { $0.anyAddress.allows(address) }
    }

    func login(for userName: String) -> SFTPLogin? {
        snapshot.withLock { $0.logins[userName] }
    }

    /// Rebuilds the snapshot: users whose set-up is complete (DLV-10), their keys and addresses.
    func reload(_ db: Database) throws {
        var next = Snapshot()
        var ranges: [IPAllowlist.Range] = []
        let users = try DeliveryUserRow.filter(Column("ready_ms") != nil).fetchAll(db)
        for user in users {
            let keys = try SSHKeyRow.filter(Column("user_name") == user.userName).fetchAll(db)
            let addresses = try AddressRow.filter(Column("user_name") == user.userName).order(Column("position")).fetchAll(db)
            guard let allowlist = try? IPAllowlist(addresses.map(\.range)) else { continue }
            ranges += allowlist.ranges
            next.logins[user.userName] = SFTPLogin(userName: user.userName, keyBlobs: Set(keys.map(\.blob)),
                                                   addresses: allowlist, folder: folders.folder(of: user.userName))
        }
        next.anyAddress = IPAllowlist(ranges: ranges)
        snapshot.withLock { $0 = next }
    }
}
