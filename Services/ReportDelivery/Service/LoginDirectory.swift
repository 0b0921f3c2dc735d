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
        /// The reload each user's entry came from (see the per-user `reload`).
        var appliedReload: [String: UInt64] = [:]
    }

    private let snapshot = Mutex(Snapshot())
    /// Numbers the reloads of one user in the order they began.
    private let reloads = Atomic<UInt64>(0)
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

    /// Builds the snapshot of every user whose set-up is complete (DLV-10): at start-up.
    func reload(_ db: Database) throws {
        var logins: [String: SFTPLogin] = [:]
        for user in try DeliveryUserRow.filter(Column("ready_ms") != nil).fetchAll(db) {
            logins[user.userName] = try login(of: user, db)
        }
        snapshot.withLock { current in
            current.logins = logins
            current.anyAddress = Self.union(of: logins)
        }
    }

    /// Refreshes one user after a change of theirs (a key, addresses, the set-up completed).
    ///
    /// Reloads run on the read pool and can finish out of order: one that began earlier (and may
    /// have read older rows) never replaces one that began later, or a removed key or replaced
    /// address could stay valid.
    func reload(_ userName: String, _ db: Database) throws {
        // Taken before the first read, so a later number has read at least as late a commit.
        let ticket = reloads.add(1, ordering: .sequentiallyConsistent).newValue
        let user = try DeliveryUserRow.fetchOne(db, key: userName)
        let login = try user.flatMap { $0.readyMs == nil ? nil : try self.login(of: $0, db) }
        snapshot.withLock { current in
            guard ticket > current.appliedReload[userName, default: 0] else { return }
            current.appliedReload[userName] = ticket
            current.logins[userName] = login
            current.anyAddress = Self.union(of: current.logins)
        }
    }

    private func login(of user: DeliveryUserRow, _ db: Database) throws -> SFTPLogin? {
        let keys = try SSHKeyRow.filter(Column("user_name") == user.userName).fetchAll(db)
        let addresses = try AddressRow.filter(Column("user_name") == user.userName).order(Column("position")).fetchAll(db)
        guard let allowlist = try? IPAllowlist(addresses.map(\.range)) else { return nil }
        return SFTPLogin(userName: user.userName, keyBlobs: Set(keys.map(\.blob)), addresses: allowlist,
                         folder: folders.folder(of: user.userName))
    }

    /// The union of every login's addresses (from memory: no database).
    private static func union(of logins: [String: SFTPLogin]) -> IPAllowlist {
        IPAllowlist(ranges: logins.values.flatMap(\.addresses.ranges))
    }
}
