import CSSH
import Foundation
import ReportDeliveryCore
#if canImport(Glibc)
import Glibc
#endif

/// An open file or folder listing of a session.
enum OpenHandle {
    case file(fd: Int32, path: VirtualPath, size: Int64)
    case directory(entries: [(name: String, info: stat)], position: Int)
}

/// SFTP version 3 requests (draft-ietf-secsh-filexfer-02), answered inside the user's folder.
extension SFTPSession {
    /// Entries one folder listing returns at most.
    static let maxListing = 10_000

    func handle(_ message: sftp_client_message) {
        guard let folder else { return reply(message, SFTPStatus.permissionDenied, "not logged in") }
        do {
            switch Int32(message.pointee.type) {
            case SSH_FXP_REALPATH:
                let path = try path(of: message)
                var attributes = sftp_attributes_struct()
                if let info = try? folder.attributes(path) { attributes = Self.attributes(info) }
                sftp_reply_name(message, path.description, &attributes)
            case SSH_FXP_STAT, SSH_FXP_LSTAT:
                var attributes = Self.attributes(try folder.attributes(try path(of: message)))
                sftp_reply_attr(message, &attributes)
            case SSH_FXP_FSTAT:
                try replyFileAttributes(message)
            case SSH_FXP_OPENDIR:
                let path = try path(of: message)
                let entries = try folder.list(path, limit: Self.maxListing)
                try replyHandle(message, .directory(entries: entries, position: 0))
            case SSH_FXP_READDIR:
                try readDirectory(message)
            case SSH_FXP_OPEN:
                try open(message, in: folder)
            case SSH_FXP_READ:
                try read(message)
            case SSH_FXP_WRITE:
                try write(message)
            case SSH_FXP_CLOSE:
                let number = try handleNumber(of: message)
                if case .file(let fd, _, _) = handles.removeValue(forKey: number) { Glibc.close(fd) }
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_REMOVE:
                try folder.remove(try path(of: message))
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_MKDIR:
                try folder.makeDirectory(try path(of: message))
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_RMDIR:
                try folder.removeDirectory(try path(of: message))
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_RENAME:
                guard let target = message.pointee.data, let text = ssh_string_to_char(target) else {
                    return reply(message, SFTPStatus.badMessage, "rename without a new name")
                }
                defer { ssh_string_free_char(text) }
                try folder.rename(try path(of: message), to: try VirtualPath(String(cString: text)), overwrite: false)
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_EXTENDED:
                let name = message.pointee.submessage.map { String(cString: $0) } ?? ""
                guard name == "posix-rename@openssh.com", let target = message.pointee.data,
                      let text = ssh_string_to_char(target) else {
                    return reply(message, SFTPStatus.unsupported, "operation not supported")
                }
                defer { ssh_string_free_char(text) }
                // OpenSSH's sftp renames with this extension: the target is replaced, as rename(2) does.
                try folder.rename(try path(of: message), to: try VirtualPath(String(cString: text)), overwrite: true)
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_SETSTAT, SSH_FXP_FSETSTAT:
                // Permissions and times are the service's: files stay 0600 and the retention clock
                // (DLV-07) cannot be turned back. Clients that set them after a transfer carry on.
                reply(message, SFTPStatus.ok, "")
            case SSH_FXP_READLINK, SSH_FXP_SYMLINK:
                reply(message, SFTPStatus.permissionDenied, "symbolic links are not supported")
            default:
                reply(message, SFTPStatus.unsupported, "operation not supported")
            }
        } catch let failure as UserFolder.Failure {
            reply(message, failure.status, failure.message)
        } catch let error as VirtualPathError {
            reply(message, SFTPStatus.failure, error.description)
        } catch {
            reply(message, SFTPStatus.failure, "request failed")
        }
    }

    private func reply(_ message: sftp_client_message, _ status: Int32, _ text: String) {
        sftp_reply_status(message, UInt32(status), text)
    }

    private func path(of message: sftp_client_message) throws -> VirtualPath {
        guard let name = message.pointee.filename else { throw UserFolder.Failure(status: SFTPStatus.badMessage, message: "no path") }
        return try VirtualPath(String(cString: name))
    }

    private func handleNumber(of message: sftp_client_message) throws -> UInt32 {
        guard let handle = message.pointee.handle, ssh_string_len(handle) == 4,
              let bytes = ssh_string_data(handle) else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "invalid handle")
        }
        let raw = bytes.assumingMemoryBound(to: UInt8.self)
        let number = (0..<4).reduce(UInt32(0)) { $0 << 8 | UInt32(raw[$1]) }
        guard handles[number] != nil else { throw UserFolder.Failure(status: SFTPStatus.failure, message: "invalid handle") }
        return number
    }

    private func replyHandle(_ message: sftp_client_message, _ handle: OpenHandle) throws {
        guard handles.count < Self.maxHandles else {
            if case .file(let fd, _, _) = handle { Glibc.close(fd) }
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "at most \(Self.maxHandles) open files per session")
        }
        let number = nextHandle
        nextHandle &+= 1
        handles[number] = handle
        var bigEndian = number.bigEndian
        guard let string = ssh_string_new(4) else { return }
        defer { ssh_string_free(string) }
        ssh_string_fill(string, &bigEndian, 4)
        sftp_reply_handle(message, string)
    }

    private func replyFileAttributes(_ message: sftp_client_message) throws {
        guard case .file(let fd, _, _) = handles[try handleNumber(of: message)] else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "not a file handle")
        }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw UserFolder.Failure.from(errno: errno, "file") }
        var attributes = Self.attributes(info)
        sftp_reply_attr(message, &attributes)
    }

    private func readDirectory(_ message: sftp_client_message) throws {
        let number = try handleNumber(of: message)
        guard case .directory(let entries, let position) = handles[number] else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "not a folder handle")
        }
        guard position < entries.count else { return reply(message, SFTPStatus.eof, "") }
        let batch = entries[position..<min(position + 100, entries.count)]
        for entry in batch {
            var attributes = Self.attributes(entry.info)
            sftp_reply_names_add(message, entry.name, Self.longName(entry.name, entry.info), &attributes)
        }
        sftp_reply_names(message)
        handles[number] = .directory(entries: entries, position: position + batch.count)
    }

    private func open(_ message: sftp_client_message, in folder: UserFolder) throws {
        let requested = Int32(bitPattern: message.pointee.flags)
        let reading = requested & SSH_FXF_READ != 0
        let writing = requested & (SSH_FXF_WRITE | SSH_FXF_APPEND) != 0
        var flags: Int32 = reading && writing ? O_RDWR : (writing ? O_WRONLY : O_RDONLY)
        if requested & SSH_FXF_CREAT != 0 { flags |= O_CREAT }
        if requested & SSH_FXF_TRUNC != 0 { flags |= O_TRUNC }
        if requested & SSH_FXF_EXCL != 0 { flags |= O_EXCL }
        let path = try path(of: message)
        if requested & SSH_FXF_TRUNC != 0, let old = try? folder.attributes(path) { folderBytes -= Int64(old.st_size) }
        let fd = try folder.openFile(path, flags: flags)
        var info = stat()
        fstat(fd, &info)
        try replyHandle(message, .file(fd: fd, path: path, size: Int64(info.st_size)))
    }

    private func read(_ message: sftp_client_message) throws {
        guard case .file(let fd, _, _) = handles[try handleNumber(of: message)] else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "not a file handle")
        }
        guard message.pointee.offset <= UInt64(Int64.max) else { return reply(message, SFTPStatus.eof, "") }
        let length = min(Int(message.pointee.len), Self.maxReadLength)
        let count = readBuffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, length, off_t(message.pointee.offset)) }
        if count < 0 { throw UserFolder.Failure.from(errno: errno, "read") }
        if count == 0 { return reply(message, SFTPStatus.eof, "") }
        readBuffer.withUnsafeBytes { _ = sftp_reply_data(message, $0.baseAddress, Int32(count)) }
    }

    private func write(_ message: sftp_client_message) throws {
        let number = try handleNumber(of: message)
        guard case .file(let fd, let path, let size) = handles[number], let data = message.pointee.data else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "not a file handle")
        }
        let length = Int64(ssh_string_len(data))
        guard message.pointee.offset <= UInt64(Int64.max - length) else {
            throw UserFolder.Failure(status: SFTPStatus.failure, message: "offset too large")
        }
        let end = Int64(message.pointee.offset) + length
        let growth = max(0, end - size)
        guard folderBytes + growth <= configuration.folderQuotaBytes else {
            throw UserFolder.Failure(status: SFTPStatus.failure,
                                     message: "your folder is limited to \(configuration.folderQuotaBytes) bytes")
        }
        var written = 0
        while Int64(written) < length {
            let count = pwrite(fd, ssh_string_data(data)! + written, Int(length) - written,
                               off_t(Int64(message.pointee.offset) + Int64(written)))
            guard count > 0 else { throw UserFolder.Failure.from(errno: errno, path.description) }
            written += count
        }
        folderBytes += growth
        handles[number] = .file(fd: fd, path: path, size: max(size, end))
        reply(message, SFTPStatus.ok, "")
    }

    func closeAllHandles() {
        for case .file(let fd, _, _) in handles.values { Glibc.close(fd) }
        handles.removeAll()
    }

    static func attributes(_ info: stat) -> sftp_attributes_struct {
        var attributes = sftp_attributes_struct()
        attributes.flags = UInt32(SSH_FILEXFER_ATTR_SIZE | SSH_FILEXFER_ATTR_PERMISSIONS | SSH_FILEXFER_ATTR_ACMODTIME)
        attributes.size = UInt64(max(0, info.st_size))
        attributes.permissions = UInt32(info.st_mode)
        attributes.atime = UInt32(truncatingIfNeeded: info.st_atim.tv_sec)
        attributes.mtime = UInt32(truncatingIfNeeded: info.st_mtim.tv_sec)
        return attributes
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
            + "\(String(format: "%02d:%02d", parts.tm_hour, parts.tm_min))"
        return "\(type)\(permissions)    1 user     user     \(String(info.st_size).leftPadded(to: 10)) \(formatted) \(name)"
    }
}

private extension String {
    func leftPadded(to width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
