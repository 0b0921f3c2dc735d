import Foundation
import Synchronization

/// What each logged-in user's folder holds, shared by all of that user's sessions, so the quota
/// holds however many sessions write at once. An entry is counted from disk when the user's first
/// session starts and dropped when the last ends (so statements delivered meanwhile are counted
/// next time).
final class FolderLedger: Sendable {
    private struct Entry {
        var bytes: Int64
        var entries: Int
        var sessions: Int
    }

    let quotaBytes: Int64
    let maxEntries: Int
    private let folders = Mutex<[String: Entry]>([:])

    init(quotaBytes: Int64, maxEntries: Int) {
        self.quotaBytes = quotaBytes
        self.maxEntries = maxEntries
    }

    /// A session of `user` starts; `measure` counts the folder when no session of the user is open.
    func join(_ user: String, measure: () -> (bytes: Int64, entries: Int)) {
        let known = folders.withLock { folders -> Bool in
            guard folders[user] != nil else { return false }
            folders[user]!.sessions += 1
            return true
        }
        guard !known else { return }
        let measured = measure()
        folders.withLock { folders in
            if folders[user] != nil {
                folders[user]!.sessions += 1
            } else {
                folders[user] = Entry(bytes: measured.bytes, entries: measured.entries, sessions: 1)
            }
        }
    }

    func leave(_ user: String) {
        folders.withLock { folders in
            guard var entry = folders[user] else { return }
            entry.sessions -= 1
            folders[user] = entry.sessions > 0 ? entry : nil
        }
    }

    /// Reserves `bytes` more for `user`; false (nothing reserved) when that passes the quota.
    func grow(_ user: String, by bytes: Int64) -> Bool {
        folders.withLock { folders in
            guard var entry = folders[user] else { return false }
            let (total, overflow) = entry.bytes.addingReportingOverflow(bytes)
            guard !overflow, total <= quotaBytes else { return false }
            entry.bytes = total
            folders[user] = entry
            return true
        }
    }

    /// Gives back `bytes` (a file truncated or removed).
    func shrink(_ user: String, by bytes: Int64) {
        folders.withLock { folders in
            guard var entry = folders[user] else { return }
            entry.bytes = max(0, entry.bytes - max(0, bytes))
            folders[user] = entry
        }
    }

    /// Reserves one more file or folder; false past ``maxEntries``.
    func addEntry(_ user: String) -> Bool {
        folders.withLock { folders in
            guard var entry = folders[user], entry.entries < maxEntries else { return false }
            entry.entries += 1
            folders[user] = entry
            return true
        }
    }

    func removeEntry(_ user: String) {
        folders.withLock { folders in
            guard var entry = folders[user] else { return }
            entry.entries = max(0, entry.entries - 1)
            folders[user] = entry
        }
    }
}
