import CSSH
import Foundation
import ReportDeliveryCore
#if canImport(Glibc)
import Glibc
#endif

/// An open file or folder listing of a session.
enum OpenHandle {
    case file(fd: Int32, path: VirtualPath)
    case directory(OpaquePointer)
}

/// SFTP version 3 requests (draft-ietf-secsh-filexfer-02), answered inside the user's folder.
extension SFTPSession {
    /// Entries one READDIR answer carries at most.
    static let listingBatch = 100

    /// Answers one request (`packet[0]` is its type). False when the session must end (a malformed
    /// request, or the channel failed).
    func handle(_ packet: [UInt8], length: Int, io: SFTPChannel, folder: UserFolder, user: String) -> Bool {
        var reader = SFTPReader(packet, count: length)
        do {
            let type = try reader.byte()
            guard type != SFTPPacketType.initialize.rawValue else { throw SFTPMalformed() }
            let id = try reader.uint32()
            do {
                return try answer(type, id: id, &reader, io: io, folder: folder, user: user)
            } catch let failure as UserFolder.Failure {
                return io.write(Self.status(id, failure.status, failure.message))
            } catch let error as VirtualPathError {
                return io.write(Self.status(id, SFTPStatus.failure, error.description))
            }
        } catch {
            logger.notice("SFTP session ended: malformed request", metadata: ["peer": "\(peer)", "user": "\(user)"])
            return false
        }
    }

    private func answer(_ type: UInt8, id: UInt32, _ reader: inout SFTPReader, io: SFTPChannel, folder: UserFolder,
                        user: String) throws -> Bool {
        switch SFTPPacketType(rawValue: type) {
        case .realpath:
            let path = try VirtualPath(try reader.text())
            var reply = SFTPWriter(.name, id: id)
            reply.uint32(1)
            reply.string(path.description)
            reply.string(path.description)
            if let info = try? folder.attributes(path) { reply.attributes(info) } else { reply.uint32(0) }
            return io.write(reply.finished())
        case .stat, .lstat:
            var reply = SFTPWriter(.attrs, id: id)
            reply.attributes(try folder.attributes(try VirtualPath(try reader.text())))
            return io.write(reply.finished())
        case .fstat:
            guard case .file(let fd, _) = try handle(&reader) else { throw Self.notA("file") }
            var info = stat()
            guard fstat(fd, &info) == 0 else { throw UserFolder.Failure.from(errno: errno, "file") }
            var reply = SFTPWriter(.attrs, id: id)
            reply.attributes(info)
            return io.write(reply.finished())
        case .opendir:
            let listing = try folder.openListing(try VirtualPath(try reader.text()))
            return io.write(try newHandle(id, .directory(listing)))
        case .readdir:
            let number = try handleNumber(&reader)
            guard case .directory(let listing) = handles[number] else { throw Self.notA("folder") }
            let batch = UserFolder.readBatch(listing, limit: Self.listingBatch)
            guard !batch.isEmpty else { return io.write(Self.status(id, SFTPStatus.eof, "")) }
            var reply = SFTPWriter(.name, id: id)
            reply.uint32(UInt32(batch.count))
            for entry in batch {
                reply.string(entry.name)
                reply.string(Self.longName(entry.name, entry.info))
                reply.attributes(entry.info)
            }
            return io.write(reply.finished())
        case .open:
            return io.write(try open(id, &reader, folder: folder, user: user))
        case .read:
            return try read(id, &reader, io: io)
        case .write:
            try write(&reader, user: user)
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .close:
            let number = try handleNumber(&reader)
            closeHandle(number)
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .remove:
            let size = try folder.remove(try VirtualPath(try reader.text()))
            ledger.shrink(user, by: size)
            ledger.removeEntry(user)
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .mkdir:
            let path = try VirtualPath(try reader.text())
            guard ledger.addEntry(user) else { throw Self.tooManyEntries(ledger.maxEntries) }
            do {
                try folder.makeDirectory(path)
            } catch {
                ledger.removeEntry(user)
                throw error
            }
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .rmdir:
            try folder.removeDirectory(try VirtualPath(try reader.text()))
            ledger.removeEntry(user)
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .rename:
            let from = try VirtualPath(try reader.text()), to = try VirtualPath(try reader.text())
            try folder.rename(from, to: to, overwrite: false)
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .setstat, .fsetstat:
            // Permissions and times are the service's: files stay 0600 and the retention clock
            // (DLV-07) cannot be turned back. Clients that set them after a transfer carry on.
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        case .readlink, .symlink:
            return io.write(Self.status(id, SFTPStatus.permissionDenied, "symbolic links are not supported"))
        case .extended:
            guard try reader.text() == "posix-rename@openssh.com" else {
                return io.write(Self.status(id, SFTPStatus.unsupported, "operation not supported"))
            }
            // OpenSSH's sftp renames with this extension: the target is replaced, as rename(2) does.
            let from = try VirtualPath(try reader.text()), to = try VirtualPath(try reader.text())
            if let replacedBytes = try folder.rename(from, to: to, overwrite: true) {
                ledger.shrink(user, by: replacedBytes)
                ledger.removeEntry(user)
            }
            return io.write(Self.status(id, SFTPStatus.ok, ""))
        default:
            return io.write(Self.status(id, SFTPStatus.unsupported, "operation not supported"))
        }
    }

    /// The VERSION answer to INIT: version 3 and the one extension served.
    static func versionReply() -> [UInt8] {
        var reply = SFTPWriter(.version, id: 3)
        reply.string("posix-rename@openssh.com")
        reply.string("1")
        return reply.finished()
    }

    static func status(_ id: UInt32, _ code: UInt32, _ message: String) -> [UInt8] {
        var reply = SFTPWriter(.status, id: id)
        reply.uint32(code)
        reply.string(message)
        reply.string("en")
        return reply.finished()
    }

    private static func notA(_ kind: String) -> UserFolder.Failure {
        UserFolder.Failure(status: SFTPStatus.failure, message: "not a \(kind) handle")
    }

    private static func tooManyEntries(_ limit: Int) -> UserFolder.Failure {
        UserFolder.Failure(status: SFTPStatus.failure, message: "your folder is limited to \(limit) files and folders")
    }

    private func handleNumber(_ reader: inout SFTPReader) throws -> UInt32 {
        let range = try reader.stringRange()
        guard range.count == 4 else { throw Self.notA("valid") }
        let number = reader.bytes(in: range).reduce(0) { $0 << 8 | UInt32($1) }
        guard handles[number] != nil else { throw Self.notA("valid") }
        return number
    }

    private func handle(_ reader: inout SFTPReader) throws -> OpenHandle {
        handles[try handleNumber(&reader)]!
    }

    private func newHandle(_ id: UInt32, _ handle: OpenHandle) throws -> [UInt8] {
        guard handles.count < maxHandles else {
            switch handle {
            case .file(let fd, _): Glibc.close(fd)
            case .directory(let listing): closedir(listing)
            }
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "at most \(maxHandles) open files per session")
        }
        let number = nextHandle
        nextHandle &+= 1
        handles[number] = handle
        var reply = SFTPWriter(.handle, id: id)
        reply.uint32(4)
        reply.uint32(number)
        return reply.finished()
    }

    private func open(_ id: UInt32, _ reader: inout SFTPReader, folder: UserFolder, user: String) throws -> [UInt8] {
        let path = try VirtualPath(try reader.text())
        let requested = try reader.uint32()
        try reader.skipAttributes()
        let reading = requested & SFTPOpenFlags.read != 0
        let writing = requested & (SFTPOpenFlags.write | SFTPOpenFlags.append) != 0
        var flags: Int32 = reading && writing ? O_RDWR : (writing ? O_WRONLY : O_RDONLY)
        if requested & SFTPOpenFlags.create != 0 { flags |= O_CREAT }
        if requested & SFTPOpenFlags.truncate != 0 { flags |= O_TRUNC }
        if requested & SFTPOpenFlags.exclusive != 0 { flags |= O_EXCL }
        let before = try? folder.attributes(path)
        let creates = before == nil && flags & O_CREAT != 0
        if creates { guard ledger.addEntry(user) else { throw Self.tooManyEntries(ledger.maxEntries) } }
        let fd: Int32
        do {
            fd = try folder.openFile(path, flags: flags)
        } catch {
            if creates { ledger.removeEntry(user) }
            throw error
        }
        // Only once the open succeeded: a truncated file gives its bytes back.
        if flags & O_TRUNC != 0, let before { ledger.shrink(user, by: Int64(before.st_size)) }
        return try newHandle(id, .file(fd: fd, path: path))
    }

    private func read(_ id: UInt32, _ reader: inout SFTPReader, io: SFTPChannel) throws -> Bool {
        guard case .file(let fd, _) = try handle(&reader) else { throw Self.notA("file") }
        let offset = try reader.uint64()
        let length = min(Int(try reader.uint32()), Self.maxReadLength)
        guard offset <= UInt64(Int64.max) else { return io.write(Self.status(id, SFTPStatus.eof, "")) }
        // DATA: length, type, id, data length, then the bytes read straight into the packet.
        let header = 13
        let count = readBuffer.withUnsafeMutableBytes { raw in pread(fd, raw.baseAddress! + header, length, off_t(offset)) }
        if count < 0 { throw UserFolder.Failure.from(errno: errno, "read") }
        if count == 0 { return io.write(Self.status(id, SFTPStatus.eof, "")) }
        readBuffer[0] = UInt8(truncatingIfNeeded: (count + 9) >> 24)
        readBuffer[1] = UInt8(truncatingIfNeeded: (count + 9) >> 16)
        readBuffer[2] = UInt8(truncatingIfNeeded: (count + 9) >> 8)
        readBuffer[3] = UInt8(truncatingIfNeeded: count + 9)
        readBuffer[4] = SFTPPacketType.data.rawValue
        readBuffer[5] = UInt8(id >> 24)
        readBuffer[6] = UInt8(id >> 16 & 0xFF)
        readBuffer[7] = UInt8(id >> 8 & 0xFF)
        readBuffer[8] = UInt8(id & 0xFF)
        readBuffer[9] = UInt8(truncatingIfNeeded: count >> 24)
        readBuffer[10] = UInt8(truncatingIfNeeded: count >> 16)
        readBuffer[11] = UInt8(truncatingIfNeeded: count >> 8)
        readBuffer[12] = UInt8(truncatingIfNeeded: count)
        return readBuffer.withUnsafeBytes { io.write(UnsafeRawBufferPointer(rebasing: $0[0..<header + count])) }
    }

    private func write(_ reader: inout SFTPReader, user: String) throws {
        guard case .file(let fd, let path) = try handle(&reader) else { throw Self.notA("file") }
        let offset = try reader.uint64()
        let range = try reader.stringRange()
        let length = Int64(range.count)
        guard offset <= UInt64(Int64.max - length) else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "offset too large")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw UserFolder.Failure.from(errno: errno, path.description) }
        // Growth against the file's size now, whoever else wrote or truncated it meanwhile.
        let growth = max(0, Int64(offset) + length - Int64(info.st_size))
        guard ledger.grow(user, by: growth) else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "your folder is limited to \(ledger.quotaBytes) bytes")
        }
        let bytes = reader.bytes(in: range)
        var written = 0
        while written < bytes.count {
            let count = bytes.withUnsafeBytes { raw in
                pwrite(fd, raw.baseAddress! + written, raw.count - written, off_t(Int64(offset) + Int64(written)))
            }
            guard count > 0 else {
                ledger.shrink(user, by: growth)
                throw UserFolder.Failure.from(errno: errno, path.description)
            }
            written += count
        }
    }

    func closeHandle(_ number: UInt32) {
        switch handles.removeValue(forKey: number) {
        case .file(let fd, _): Glibc.close(fd)
        case .directory(let listing): closedir(listing)
        case nil: break
        }
    }

    func closeAllHandles() {
        for number in Array(handles.keys) { closeHandle(number) }
    }

    /// The `ls -l` line OpenSSH's `sftp ls -l` shows.
    static func longName(_ name: String, _ info: stat) -> String {
        let type: Character = switch info.st_mode & S_IFMT {
        case S_IFDIR: "d"
        case S_IFLNK: "l"
        default: "-"
        }
        let bits = "rwxrwxrwx"
        let permissions = String(bits.enumerated().map { index, letter in
            info.st_mode & (0o400 >> mode_t(index)) != 0 ? letter : "-"
        })
        var seconds = info.st_mtim.tv_sec
        var parts = tm()
        gmtime_r(&seconds, &parts)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let month = months[Int(max(0, min(11, parts.tm_mon)))]
        let formatted = "\(month) \(String(parts.tm_mday).leftPadded(to: 2)) "
            + String(format: "%02d:%02d", parts.tm_hour, parts.tm_min)
        return "\(type)\(permissions)    1 user     user     \(String(info.st_size).leftPadded(to: 10)) \(formatted) \(name)"
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
