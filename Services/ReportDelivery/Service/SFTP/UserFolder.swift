import Foundation
import ReportDeliveryCore
#if canImport(Glibc)
import Glibc
#endif

/// DLV-06: one user's folder, and file operations that cannot leave it.
///
/// Paths are normalised by ``VirtualPath`` (no `..` above the folder), then opened one part at a
/// time from the folder's own descriptor with `O_NOFOLLOW`: a symbolic link anywhere on the way
/// is refused (ELOOP), so links placed in the folder never lead outside it. Blocking: call on a
/// session thread.
struct UserFolder {
    /// The folder on disk.
    let path: String

    /// An error with its SFTP status code and a message for the client.
    struct Failure: Error {
        let status: UInt32
        let message: String

        static func from(errno code: Int32, _ what: String) -> Failure {
            switch code {
            case ENOENT: Failure(status: SFTPStatus.noSuchFile, message: "\(what): no such file or folder")
            case ELOOP, EMLINK: Failure(status: SFTPStatus.permissionDenied,
                                        message: "\(what): symbolic links are not followed")
            case EACCES, EPERM: Failure(status: SFTPStatus.permissionDenied, message: "\(what): permission denied")
            case EEXIST: Failure(status: SFTPStatus.failure, message: "\(what): already exists")
            case ENOTDIR: Failure(status: SFTPStatus.noSuchFile, message: "\(what): not a folder")
            case EISDIR: Failure(status: SFTPStatus.failure, message: "\(what): is a folder")
            case ENOTEMPTY: Failure(status: SFTPStatus.failure, message: "\(what): folder not empty")
            case ENOSPC, EDQUOT: Failure(status: SFTPStatus.failure, message: "\(what): no space left")
            default: Failure(status: SFTPStatus.failure, message: "\(what): failed (errno \(code))")
            }
        }
    }

    /// Opens the folder that holds `path`'s last part; the caller closes the descriptor.
    func openParent(of path: VirtualPath) throws(Failure) -> Int32 {
        try openDirectory(path.parent)
    }

    /// Opens the folder `path` itself, part by part without following links.
    func openDirectory(_ path: VirtualPath) throws(Failure) -> Int32 {
        var fd = open(self.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw .from(errno: errno, "your folder") }
        for part in path.components {
            let next = openat(fd, part, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW)
            let code = errno
            close(fd)
            guard next >= 0 else { throw .from(errno: code, VirtualPath(components: path.components).description) }
            fd = next
        }
        return fd
    }

    /// Opens the file at `path` with `flags` (O_RDONLY, O_WRONLY|O_CREAT, ...); never through a link.
    func openFile(_ path: VirtualPath, flags: Int32) throws(Failure) -> Int32 {
        guard !path.isRoot else { throw Failure(status: SFTPStatus.failure, message: "/: is a folder") }
        let parent = try openParent(of: path)
        defer { close(parent) }
        let fd = openat(parent, path.name, flags | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw .from(errno: errno, path.description) }
        var info = stat()
        if fstat(fd, &info) != 0 || (info.st_mode & S_IFMT) != S_IFREG {
            close(fd)
            throw Failure(status: SFTPStatus.failure, message: "\(path): not a regular file")
        }
        return fd
    }

    /// The attributes of `path` itself (a link is reported as a link, not followed).
    func attributes(_ path: VirtualPath) throws(Failure) -> stat {
        var info = stat()
        if path.isRoot {
            let fd = try openDirectory(path)
            defer { close(fd) }
            guard fstat(fd, &info) == 0 else { throw .from(errno: errno, "/") }
            return info
        }
        let parent = try openParent(of: path)
        defer { close(parent) }
        guard fstatat(parent, path.name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { throw .from(errno: errno, path.description) }
        return info
    }

    /// Removes the file `path`; returns the bytes it held (for the quota).
    @discardableResult
    func remove(_ path: VirtualPath) throws(Failure) -> Int64 {
        guard !path.isRoot else { throw Failure(status: SFTPStatus.permissionDenied, message: "/: your folder stays") }
        let parent = try openParent(of: path)
        defer { close(parent) }
        var info = stat()
        let size = fstatat(parent, path.name, &info, AT_SYMLINK_NOFOLLOW) == 0 ? Int64(info.st_size) : 0
        guard unlinkat(parent, path.name, 0) == 0 else { throw .from(errno: errno, path.description) }
        return size
    }

    /// A listing of the folder `path`, read a batch at a time (``readBatch(_:limit:)``); close it with `closedir`.
    func openListing(_ path: VirtualPath) throws(Failure) -> OpaquePointer {
        let fd = try openDirectory(path)
        guard let directory = fdopendir(fd) else {
            close(fd)
            throw .from(errno: errno, path.description)
        }
        return directory
    }

    /// Up to `limit` further entries of a listing, with their attributes (links not followed).
    static func readBatch(_ directory: OpaquePointer, limit: Int) -> [(name: String, info: stat)] {
        var entries: [(String, stat)] = []
        while entries.count < limit, let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            var info = stat()
            guard fstatat(dirfd(directory), name, &info, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
            entries.append((name, info))
        }
        return entries
    }

    func makeDirectory(_ path: VirtualPath) throws(Failure) {
        guard !path.isRoot else { throw .from(errno: EEXIST, "/") }
        let parent = try openParent(of: path)
        defer { close(parent) }
        guard mkdirat(parent, path.name, 0o700) == 0 else { throw .from(errno: errno, path.description) }
    }

    func removeDirectory(_ path: VirtualPath) throws(Failure) {
        guard !path.isRoot else { throw Failure(status: SFTPStatus.permissionDenied, message: "/: your folder stays") }
        let parent = try openParent(of: path)
        defer { close(parent) }
        guard unlinkat(parent, path.name, AT_REMOVEDIR) == 0 else { throw .from(errno: errno, path.description) }
    }

    /// Renames `from` to `to`; with `overwrite`, an existing `to` is replaced, and the bytes of the
    /// regular file it was are returned (for the quota: that file is gone). Nil when nothing was replaced.
    @discardableResult
    func rename(_ from: VirtualPath, to: VirtualPath, overwrite: Bool) throws(Failure) -> Int64? {
        guard !from.isRoot, !to.isRoot else { throw Failure(status: SFTPStatus.permissionDenied, message: "/: cannot be renamed") }
        let source = try openParent(of: from)
        defer { close(source) }
        let target = try openParent(of: to)
        defer { close(target) }
        var replaced = stat(), renamed = stat()
        let exists = fstatat(target, to.name, &replaced, AT_SYMLINK_NOFOLLOW) == 0
        if exists && !overwrite { throw .from(errno: EEXIST, to.description) }
        guard renameat(source, from.name, target, to.name) == 0 else { throw .from(errno: errno, from.description) }
        // Renaming a file onto itself replaces nothing.
        let sameFile = fstatat(target, to.name, &renamed, AT_SYMLINK_NOFOLLOW) == 0
            && renamed.st_ino == replaced.st_ino && renamed.st_dev == replaced.st_dev
        guard exists, !sameFile, replaced.st_mode & S_IFMT == S_IFREG else { return nil }
        return Int64(replaced.st_size)
    }

    /// Bytes of regular files and the number of entries under the folder (for the quota),
    /// walking at most `limit` entries.
    func usage(limit: Int = 100_000) -> (bytes: Int64, entries: Int) {
        var total: Int64 = 0
        var seen = 0
        var pending: [VirtualPath] = [.root]
        while let next = pending.popLast(), seen < limit {
            guard let listing = try? openListing(next) else { continue }
            defer { closedir(listing) }
            for (name, info) in Self.readBatch(listing, limit: limit - seen + 2) where name != "." && name != ".." {
                seen += 1
                switch info.st_mode & S_IFMT {
                case S_IFREG: total += Int64(info.st_size)
                case S_IFDIR: pending.append(VirtualPath(components: next.components + [name]))
                default: break
                }
            }
        }
        return (total, seen)
    }
}
