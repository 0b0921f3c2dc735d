import Foundation

/// SFTP version 3 (draft-ietf-secsh-filexfer-02) packet types, as OpenSSH, FileZilla, WinSCP and
/// psftp speak it.
enum SFTPPacketType: UInt8 {
    case initialize = 1, version = 2, open = 3, close = 4, read = 5, write = 6, lstat = 7, fstat = 8
    case setstat = 9, fsetstat = 10, opendir = 11, readdir = 12, remove = 13, mkdir = 14, rmdir = 15
    case realpath = 16, stat = 17, rename = 18, readlink = 19, symlink = 20
    case status = 101, handle = 102, data = 103, name = 104, attrs = 105
    case extended = 200, extendedReply = 201
}

/// SFTP version 3 status codes, the ones clients understand.
enum SFTPStatus {
    static let ok: UInt32 = 0
    static let eof: UInt32 = 1
    static let noSuchFile: UInt32 = 2
    static let permissionDenied: UInt32 = 3
    static let failure: UInt32 = 4
    static let badMessage: UInt32 = 5
    static let unsupported: UInt32 = 8
}

/// `open` flags (pflags).
enum SFTPOpenFlags {
    static let read: UInt32 = 0x01
    static let write: UInt32 = 0x02
    static let append: UInt32 = 0x04
    static let create: UInt32 = 0x08
    static let truncate: UInt32 = 0x10
    static let exclusive: UInt32 = 0x20
}

/// A malformed request: the session ends (a client that sends one is broken or hostile).
struct SFTPMalformed: Error {}

/// Reads the fields of one request payload; every read is bounds-checked.
struct SFTPReader {
    private let packet: [UInt8]
    /// Where the request ends in `packet` (the buffer is reused, so it may hold more).
    private let end: Int
    private var offset = 0

    /// Reads the first `count` bytes of `packet`, without copying them.
    init(_ packet: [UInt8], count: Int) {
        self.packet = packet
        end = min(count, packet.count)
    }

    /// The bytes of a range returned by ``stringRange()``.
    func bytes(in range: Range<Int>) -> ArraySlice<UInt8> { packet[range] }

    mutating func byte() throws(SFTPMalformed) -> UInt8 {
        guard offset < end else { throw SFTPMalformed() }
        defer { offset += 1 }
        return packet[offset]
    }

    mutating func uint32() throws(SFTPMalformed) -> UInt32 {
        guard end - offset >= 4 else { throw SFTPMalformed() }
        defer { offset += 4 }
        return packet[offset..<offset + 4].reduce(0) { $0 << 8 | UInt32($1) }
    }

    mutating func uint64() throws(SFTPMalformed) -> UInt64 {
        guard end - offset >= 8 else { throw SFTPMalformed() }
        defer { offset += 8 }
        return packet[offset..<offset + 8].reduce(0) { $0 << 8 | UInt64($1) }
    }

    /// A length-prefixed string, as a range of the packet (no copy).
    mutating func stringRange() throws(SFTPMalformed) -> Range<Int> {
        let length = Int(try uint32())
        guard length <= end - offset else { throw SFTPMalformed() }
        defer { offset += length }
        return offset..<offset + length
    }

    /// A length-prefixed string as text (paths: the protocol says UTF-8; invalid bytes are replaced).
    mutating func text() throws(SFTPMalformed) -> String {
        String(decoding: packet[try stringRange()], as: UTF8.self)
    }

    /// An attributes block; only its presence matters (the service keeps its own modes and times).
    mutating func skipAttributes() throws(SFTPMalformed) {
        let flags = try uint32()
        if flags & 0x1 != 0 { _ = try uint64() }                       // size
        if flags & 0x2 != 0 { _ = try uint32(); _ = try uint32() }     // uid, gid
        if flags & 0x4 != 0 { _ = try uint32() }                       // permissions
        if flags & 0x8 != 0 { _ = try uint32(); _ = try uint32() }     // atime, mtime
        if flags & 0x8000_0000 != 0 {
            let count = try uint32()
            guard count <= 64 else { throw SFTPMalformed() }
            for _ in 0..<count { _ = try stringRange(); _ = try stringRange() }
        }
    }
}

/// Builds one reply packet: the 4-byte length is filled in by ``finished()``.
struct SFTPWriter {
    private(set) var bytes: [UInt8]

    init(_ type: SFTPPacketType, id: UInt32?) {
        bytes = [0, 0, 0, 0, type.rawValue]
        bytes.reserveCapacity(64)
        if let id { uint32(id) }
    }

    mutating func uint32(_ value: UInt32) {
        bytes += [UInt8(value >> 24), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF), UInt8(value & 0xFF)]
    }

    mutating func uint64(_ value: UInt64) {
        uint32(UInt32(value >> 32))
        uint32(UInt32(value & 0xFFFF_FFFF))
    }

    mutating func string(_ text: String) {
        let utf8 = Array(text.utf8)
        uint32(UInt32(utf8.count))
        bytes += utf8
    }

    /// Size, permissions, access and modification times of `info`.
    mutating func attributes(_ info: stat) {
        uint32(0x1 | 0x4 | 0x8)
        uint64(UInt64(max(0, info.st_size)))
        uint32(UInt32(info.st_mode))
        uint32(UInt32(truncatingIfNeeded: max(0, info.st_atim.tv_sec)))
        uint32(UInt32(truncatingIfNeeded: max(0, info.st_mtim.tv_sec)))
    }

    /// The packet with its length.
    func finished() -> [UInt8] {
        var packet = bytes
        let length = UInt32(packet.count - 4)
        packet[0] = UInt8(length >> 24)
        packet[1] = UInt8(length >> 16 & 0xFF)
        packet[2] = UInt8(length >> 8 & 0xFF)
        packet[3] = UInt8(length & 0xFF)
        return packet
    }
}
