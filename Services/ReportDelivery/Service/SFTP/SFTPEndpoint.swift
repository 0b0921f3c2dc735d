import CSSH
import Foundation
import Logging
import SLSRuntime
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
    /// Sessions in progress, per address (the limits), and their watches (the watchdog).
    private let sessions = Mutex<[String: Int]>([:])
    private let watches = Mutex<[ObjectIdentifier: SessionWatch]>([:])
    private let ledger: FolderLedger
    private let maxHandles: Int
    /// Refused connections are logged at most a few times a minute per address.
    private let refusalLog = Mutex(RateLimiter(capacity: 5, refillPerSecond: 5.0 / 60, maxKeys: 10_000))
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
        ledger = FolderLedger(quotaBytes: configuration.folderQuotaBytes, maxEntries: configuration.maxFolderEntries)
        maxHandles = Self.handlesPerSession(configuration, logger: logger)
    }

    /// Raises the descriptor limit to its hard maximum and fits the handles per session in it,
    /// with 256 left for the database, GnuPG and the bus.
    private static func handlesPerSession(_ configuration: SFTPEndpointConfiguration, logger: Logger) -> Int {
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max
            setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
            getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        }
        let available = Int(min(limit.rlim_cur, 1 << 30)) - 256
        let fitting = max(4, available / max(1, configuration.maxSessions) - 2)
        let handles = min(configuration.maxHandlesPerSession, fitting)
        if handles < configuration.maxHandlesPerSession {
            logger.warning("open files per SFTP session lowered to fit the descriptor limit",
                           metadata: ["handles": "\(handles)", "limit": "\(limit.rlim_cur)",
                                      "sessions": "\(configuration.maxSessions)"])
        }
        return handles
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

    /// Stops accepting and ends every session (their sockets are shut down); returns when all
    /// have ended, or after 5 seconds at most.
    public func stop() async {
        stopping.set()
        for watch in watches.withLock({ Array($0.values) }) { watch.cutOff() }
        let deadline = ContinuousClock.now + .seconds(5)
        while sessions.withLock({ !$0.isEmpty }) || !acceptStopped.load(ordering: .relaxed) {
            guard ContinuousClock.now < deadline else {
                logger.warning("SFTP sessions still ending at shutdown", metadata: ["sessions": "\(sessionCount)"])
                return
            }
            try? await Task.sleep(for: .milliseconds(50))
        }
    }

    /// Sessions in progress.
    public var sessionCount: Int { sessions.withLock { $0.values.reduce(0, +) } }

    private let acceptStopped = Atomic<Bool>(false)

    /// Blocking: polls the listening socket and hands each admitted connection to a new thread.
    private func acceptLoop() {
        defer { acceptStopped.store(true, ordering: .relaxed) }
        var poller = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
        while !stopping.isSet {
            enforceDeadlines()
            guard poll(&poller, 1, 250) > 0 else { continue }
            var address = sockaddr_storage()
            var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
            let fd = withUnsafeMutablePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { accept(listener, $0, &length) }
            }
            guard fd >= 0 else {
                // Out of descriptors (EMFILE) or memory: back off instead of spinning on the ready socket.
                if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { usleep(100_000) }
                continue
            }
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
                if ssh_get_fd(session) != fd { Glibc.close(fd) }
                ssh_free(session)
                release(peer)
                continue
            }
            let watch = SessionWatch(fd: fd, peer: peer)
            let worker = SFTPSession(session: session, watch: watch, directory: directory, configuration: configuration,
                                     ledger: ledger, maxHandles: maxHandles, stopping: stopping, logger: logger)
            let key = ObjectIdentifier(watch)
            watches.withLock { $0[key] = watch }
            let thread = Thread { [self] in
                worker.run()
                watches.withLock { _ = $0.removeValue(forKey: key) }
                release(peer)
            }
            thread.name = "sftp-session"
            thread.stackSize = 1 << 20
            thread.start()
        }
    }

    /// The watchdog: ends sessions past their login grace or idle time (or all, when stopping).
    private func enforceDeadlines() {
        let now = SessionWatch.now()
        let grace = UInt64(configuration.loginGraceSeconds) * 1_000_000_000
        let idle = UInt64(configuration.idleTimeoutSeconds) * 1_000_000_000
        for watch in watches.withLock({ Array($0.values) })
        where stopping.isSet || watch.isOverdue(loginGraceNs: grace, idleNs: idle, at: now) {
            watch.cutOff()
        }
    }

    /// DLV-04 before anything is sent: the address must be registered by some user; then the
    /// session limits (overall, per address, not yet logged in).
    private func admit(fd: Int32, peer: String) -> Bool {
        guard directory.isRegisteredAddress(peer) else {
            logRefusal(peer, "SFTP connection closed before the banner: address not registered (DLV-04)")
            return false
        }
        let unauthenticated = watches.withLock { $0.values.count { !$0.isLoggedIn } }
        return sessions.withLock { counts in
            let total = counts.values.reduce(0, +)
            guard total < configuration.maxSessions, counts[peer, default: 0] < configuration.maxSessionsPerAddress,
                  unauthenticated < configuration.maxUnauthenticated else {
                logRefusal(peer, "SFTP connection refused: too many sessions")
                return false
            }
            counts[peer, default: 0] += 1
            return true
        }
    }

    /// Logs a refused connection, a few a minute per address at most (a flood must not fill the log).
    private func logRefusal(_ peer: String, _ message: Logger.Message) {
        let nowMs = Int64(SessionWatch.now() / 1_000_000)
        guard refusalLog.withLock({ $0.take(1, for: peer, nowMs: nowMs) }) else { return }
        logger.notice(message, metadata: ["peer": "\(peer)"])
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
