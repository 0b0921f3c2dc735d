import CSSH
import Foundation
import Logging
import ServiceLifecycle
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// The SFTP endpoint inside report delivery (DLV-01): libssh's server and SFTP server API, so
/// stock clients (OpenSSH `sftp`, FileZilla, WinSCP, psftp) work unchanged; users are virtual.
///
/// One thread accepts connections; each connection runs on a thread of its own (blocking libssh
/// calls), never on the RPC socket thread. A connection from an address no user registered is
/// closed before the SSH banner and logged (DLV-04). Sessions are bounded in number, overall and
/// per address, and in time (login grace, idle timeout).
public final class SFTPEndpoint: Service, Sendable {
    private let configuration: SFTPEndpointConfiguration
    private let directory: any SFTPUserDirectory
    private let logger: Logger
    private let listener: Int32
    private let bind: SSHBind
    private let stopping = StopSignal()
    private let sessions = Mutex<[String: Int]>([:])
    /// The port actually bound (useful when the setting is 0 in tests).
    public let port: Int
    /// The host keys' fingerprints, for the log and GetInfo.
    public let hostKeys: HostKeys

    /// Binds the port at once, so a port that cannot be bound stops the service at start-up with
    /// an error naming the setting.
    public init(configuration: SFTPEndpointConfiguration, hostKeys: HostKeys, directory: any SFTPUserDirectory,
                logger: Logger) throws {
        self.configuration = configuration
        self.directory = directory
        self.logger = logger
        self.hostKeys = hostKeys
        (listener, port) = try Self.listen(host: configuration.host, port: configuration.port,
                                           setting: configuration.portSettingName)
        bind = try SSHBind(hostKeys: hostKeys)
    }

    deinit {
        Glibc.close(listener)
    }

    /// Accepts connections until graceful shutdown (see ``start()`` and ``stop()``).
    public func run() async throws {
        start()
        try? await gracefulShutdown()
        await stop()
    }

    /// Starts the accept thread; returns at once.
    public func start() {
        let thread = Thread { [self] in acceptLoop() }
        thread.name = "sftp-accept"
        thread.start()
        logger.info("SFTP endpoint listening", metadata: [
            "address": "\(configuration.host):\(port)",
            "host_keys": "\(hostKeys.keys.map { "\($0.keyType) \($0.fingerprint)" }.joined(separator: ", "))"])
    }

    /// Stops accepting and tells sessions to end; returns when all have (within about a second).
    public func stop() async {
        stopping.set()
        while sessions.withLock({ !$0.isEmpty }) || !acceptStopped.load(ordering: .relaxed) {
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    private let acceptStopped = Atomic<Bool>(false)

    /// Blocking: polls the listening socket and hands each admitted connection to a new thread.
    private func acceptLoop() {
        defer { acceptStopped.store(true, ordering: .relaxed) }
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopping.isSet {
            guard poll(&poller, 1, 250) > 0 else { continue }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            guard fd >= 0 else { continue }
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
            let peer = Self.text(of: address)
            guard admit(fd: fd, peer: peer) else {
                Glibc.close(fd)
                continue
            }
            guard let session = ssh_new() else {
                release(peer)
                Glibc.close(fd)
                continue
            }
            var timeout = CLong(configuration.loginGraceSeconds)
            ssh_options_set(session, SSH_OPTIONS_TIMEOUT, &timeout)
            guard bind.accept(fd: fd, into: session) else {
                logger.warning("SFTP connection could not be set up", metadata: ["peer": "\(peer)"])
                ssh_free(session)
                release(peer)
                continue
            }
            let worker = SFTPSession(session: session, peer: peer, directory: directory, configuration: configuration,
                                     stopping: stopping, logger: logger)
            let thread = Thread { [self] in
                worker.run()
                release(peer)
            }
            thread.name = "sftp-session"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// DLV-04 before anything is sent: the address must be registered by some user; then the
    /// session limits.
    private func admit(fd: Int32, peer: String) -> Bool {
        guard directory.isRegisteredAddress(peer) else {
            logger.notice("SFTP connection closed before the banner: address not registered (DLV-04)",
                          metadata: ["peer": "\(peer)"])
            return false
        }
        return sessions.withLock { counts in
            let total = counts.values.reduce(0, +)
            guard total < configuration.maxSessions, counts[peer, default: 0] < configuration.maxSessionsPerAddress else {
                logger.warning("SFTP connection refused: too many sessions",
                               metadata: ["peer": "\(peer)", "sessions": "\(total)"])
                return false
            }
            counts[peer, default: 0] += 1
            return true
        }
    }

    private func release(_ peer: String) {
        sessions.withLock { counts in
            counts[peer, default: 1] -= 1
            if counts[peer] == 0 { counts.removeValue(forKey: peer) }
        }
    }

    /// The connection's address as text; IPv4-mapped IPv6 addresses as IPv4.
    static func text(of address: sockaddr_storage) -> String {
        var copy = address
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        withUnsafePointer(to: &copy) { pointer in
            if address.ss_family == sa_family_t(AF_INET) {
                pointer.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { v4 in
                    var raw = v4.pointee.sin_addr
                    _ = inet_ntop(AF_INET, &raw, &buffer, socklen_t(buffer.count))
                }
            } else {
                pointer.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { v6 in
                    var raw = v6.pointee.sin6_addr
                    _ = inet_ntop(AF_INET6, &raw, &buffer, socklen_t(buffer.count))
                }
            }
        }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.hasPrefix("::ffff:") && text.contains(".") ? String(text.dropFirst(7)) : text
    }

    /// A listening TCP socket on `host:port`, with errors that say what to do.
    private static func listen(host: String, port: Int, setting: String) throws -> (Int32, Int) {
        var hints = addrinfo()
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST
        var found: UnsafeMutablePointer<addrinfo>?
        guard getaddrinfo(host, String(port), &hints, &found) == 0, let info = found else {
            throw SFTPEndpointError("the SFTP listen address \(host) is not an IP address")
        }
        defer { freeaddrinfo(found) }
        let fd = socket(info.pointee.ai_family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw SFTPEndpointError("cannot make a socket: errno \(errno)") }
        var yes: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
        guard Glibc.bind(fd, info.pointee.ai_addr, info.pointee.ai_addrlen) == 0 else {
            let code = errno
            Glibc.close(fd)
            switch code {
            case EACCES:
                throw SFTPEndpointError("cannot listen on SFTP port \(port): ports under 1024 need root or the "
                                        + "CAP_NET_BIND_SERVICE capability; grant it or choose a port of 1024 or more with \(setting)")
            case EADDRINUSE:
                throw SFTPEndpointError("cannot listen on SFTP port \(port): it is in use by another program; "
                                        + "stop it or choose another port with \(setting)")
            default:
                throw SFTPEndpointError("cannot listen on \(host):\(port) (errno \(code)); see \(setting)")
            }
        }
        guard Glibc.listen(fd, 128) == 0 else {
            Glibc.close(fd)
            throw SFTPEndpointError("cannot listen on \(host):\(port) (errno \(errno))")
        }
        var bound = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        _ = withUnsafeMutablePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        let boundPort = withUnsafePointer(to: &bound) {
            $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { Int(UInt16(bigEndian: $0.pointee.sin_port)) }
        }
        return (fd, boundPort)
    }
}

/// libssh's server object holding the host keys; hands accepted sockets to new sessions.
final class SSHBind: @unchecked Sendable {
    private let bind: ssh_bind
    private let lock = Mutex(())

    init(hostKeys: HostKeys) throws {
        guard let bind = ssh_bind_new() else { throw SFTPEndpointError("libssh: cannot make a server object") }
        self.bind = bind
        for key in hostKeys.keys {
            guard ssh_bind_options_set(bind, SSH_BIND_OPTIONS_HOSTKEY, key.path) == SSH_OK else {
                throw SFTPEndpointError("libssh refused the host key \(key.path)")
            }
        }
    }

    deinit { ssh_bind_free(bind) }

    /// Sets `session` up as the server side of the connection on `fd` (sends nothing yet).
    func accept(fd: Int32, into session: ssh_session) -> Bool {
        lock.withLock { _ in ssh_bind_accept_fd(bind, session, fd) == SSH_OK }
    }
}

public struct SFTPEndpointError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// A flag the endpoint sets once at shutdown and every session thread reads.
final class StopSignal: Sendable {
    private let flag = Atomic<Bool>(false)
    var isSet: Bool { flag.load(ordering: .relaxed) }
    func set() { flag.store(true, ordering: .relaxed) }
}
