import CSSH
import Foundation

/// SFTP packets over an SSH channel, framed here rather than by libssh: libssh 0.10's SFTP server
/// reads a packet of any declared size up to 256 MiB into memory (and copies it twice) before the
/// application sees it. Here a packet over ``maxPacketBytes`` (256 KiB, OpenSSH's limit) ends the
/// session at once. Blocking: runs on the session's thread.
struct SFTPChannel {
    let channel: ssh_channel
    /// The largest request accepted, length field excluded.
    static let maxPacketBytes = 256 * 1024 + 1024

    /// Why reading stopped.
    enum End: Error {
        case closed, tooLarge, stopped
    }

    /// The next request (type byte first), waiting in slices of `pollMs` and asking `keepWaiting`
    /// between them (idle timeout, shutdown).
    func readPacket(into buffer: inout [UInt8], pollMs: Int32, keepWaiting: () -> Bool) throws(End) -> Int {
        // The length first, into the buffer the request is then read into (no allocation per request).
        if buffer.count < 4 { buffer = [UInt8](repeating: 0, count: 64) }
        try readExactly(&buffer, count: 4, pollMs: pollMs, keepWaiting: keepWaiting)
        let length = buffer[0..<4].reduce(0) { $0 << 8 | Int($1) }
        guard length >= 1 else { throw .closed }
        guard length <= Self.maxPacketBytes else { throw .tooLarge }
        if buffer.count < length { buffer = [UInt8](repeating: 0, count: Self.maxPacketBytes) }
        try readExactly(&buffer, count: length, pollMs: pollMs, keepWaiting: keepWaiting)
        return length
    }

    private func readExactly(_ buffer: inout [UInt8], count: Int, pollMs: Int32,
                             keepWaiting: () -> Bool) throws(End) {
        var done = 0
        while done < count {
            let read = buffer.withUnsafeMutableBytes { raw in
                ssh_channel_read_timeout(channel, raw.baseAddress! + done, UInt32(count - done), 0, pollMs)
            }
            if read == SSH_ERROR { throw .closed }
            if read > 0 {
                done += Int(read)
                continue
            }
            if ssh_channel_is_eof(channel) != 0 || ssh_channel_is_open(channel) == 0 { throw .closed }
            if !keepWaiting() { throw .stopped }
        }
    }

    /// Sends `packet` whole; false when the channel failed.
    func write(_ packet: [UInt8]) -> Bool {
        packet.withUnsafeBytes { write($0) }
    }

    /// Blocks until all is sent or the channel fails. libssh's write returns what fitted in the
    /// client's window, 0 when its wait for a window adjustment ended without one: that is not
    /// an error, so it waits again (a client that never opens its window is cut off by the
    /// session watchdog, and the write then fails).
    func write(_ raw: UnsafeRawBufferPointer) -> Bool {
        var sent = 0
        while sent < raw.count {
            let count = ssh_channel_write(channel, raw.baseAddress! + sent, UInt32(raw.count - sent))
            if count < 0 || ssh_channel_is_open(channel) == 0 { return false }
            sent += Int(count)
        }
        return true
    }
}
