import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Where report delivery keeps files: one folder per user (DLV-06), a staging folder on the same
/// file system for statements being written, the host keys. Everything is 0700 / 0600.
///
/// A statement is written to staging, flushed to disk, then renamed into the user's folder and
/// the folder flushed, so a user never sees a half-written file and a statement acknowledged as
/// delivered survives a crash (DLV-08, durability). Blocking: call off the socket thread.
public struct DeliveryFolders: Sendable {
    public let root: String

    public init(root: String) throws {
        self.root = root
        for folder in [root, usersFolder, stagingFolder] {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o700])
            chmod(folder, 0o700)
        }
        // Leftovers of writes a crash interrupted: never delivered, never acknowledged.
        for leftover in (try? FileManager.default.contentsOfDirectory(atPath: stagingFolder)) ?? [] {
            unlink(stagingFolder + "/" + leftover)
        }
    }

    public var usersFolder: String { root + "/users" }
    var stagingFolder: String { root + "/staging" }
    public var hostKeysFolder: String { root + "/host-keys" }

    /// The folder of `userName` (already checked by ``DeliveryNames``).
    public func folder(of userName: String) -> String { usersFolder + "/" + userName }

    /// Makes the user's folder when it is missing.
    func ensureFolder(of userName: String) throws {
        let path = folder(of: userName)
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            throw DeliveryFileError("cannot make the folder of \(userName) (errno \(errno))")
        }
    }

    /// Writes `bytes` as `fileName` in the user's folder, atomically and durably (see above).
    func write(_ bytes: Data, as fileName: String, for userName: String) throws {
        try ensureFolder(of: userName)
        let staged = stagingFolder + "/" + UUID().uuidString
        let fd = open(staged, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw DeliveryFileError("cannot write to staging (errno \(errno))") }
        var ok = bytes.withUnsafeBytes { raw -> Bool in
            var written = 0
            while written < raw.count {
                let count = Glibc.write(fd, raw.baseAddress! + written, raw.count - written)
                guard count > 0 else { return false }
                written += count
            }
            return true
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        let target = folder(of: userName) + "/" + fileName
        guard ok, rename(staged, target) == 0 else {
            unlink(staged)
            throw DeliveryFileError("cannot place \(fileName) in the folder of \(userName) (errno \(errno))")
        }
        syncFolder(folder(of: userName))
    }

    /// Removes `fileName` from the user's folder; false when it was not there.
    @discardableResult
    func remove(_ fileName: String, of userName: String) -> Bool {
        let removed = unlink(folder(of: userName) + "/" + fileName) == 0
        if removed { syncFolder(folder(of: userName)) }
        return removed
    }

    /// Regular files under `userName`'s folder with their modification times (ms), at most `limit`.
    func files(of userName: String, limit: Int = 100_000) -> [(path: String, modifiedMs: Int64)] {
        var found: [(String, Int64)] = []
        var pending = [""]
        let base = folder(of: userName)
        while let relative = pending.popLast(), found.count < limit {
            guard let names = try? FileManager.default.contentsOfDirectory(atPath: base + relative) else { continue }
            for name in names {
                let path = relative + "/" + name
                var info = stat()
                guard lstat(base + path, &info) == 0 else { continue }
                switch info.st_mode & S_IFMT {
                case S_IFREG:
                    let (seconds, overflow) = Int64(info.st_mtim.tv_sec).multipliedReportingOverflow(by: 1000)
                    found.append((String(path.dropFirst()), overflow ? .max : seconds))
                case S_IFDIR: pending.append(path)
                default: continue
                }
            }
        }
        return found
    }

    private func syncFolder(_ path: String) {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { return }
        fsync(fd)
        close(fd)
    }
}

public struct DeliveryFileError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
