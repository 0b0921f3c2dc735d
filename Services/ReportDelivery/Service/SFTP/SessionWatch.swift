import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// What the endpoint's watchdog knows of one session, shared between the session's thread and the
/// accept thread. libssh's blocking calls can wait for ever on a client that stops halfway
/// through a packet or stops reading; the watchdog ends such a session by shutting its socket
/// down, which makes every blocked call on it return.
final class SessionWatch: Sendable {
    let fd: Int32
    let peer: String
    private let startedNs: UInt64
    private let lastActivityNs: Atomic<UInt64>
    private let loggedIn = Atomic<Bool>(false)
    /// Whether the socket was cut, and whether the session has let go of its descriptor (closing it
    /// frees the number for another file; a cut after that would hit whatever got it).
    private let socket = Mutex<(cut: Bool, released: Bool)>((false, false))

    init(fd: Int32, peer: String) {
        self.fd = fd
        self.peer = peer
        startedNs = Self.now()
        lastActivityNs = Atomic(startedNs)
    }

    static func now() -> UInt64 { DispatchTime.now().uptimeNanoseconds }

    var isLoggedIn: Bool { loggedIn.load(ordering: .relaxed) }

    /// The session finished a request (or logged in).
    func touch() { lastActivityNs.store(Self.now(), ordering: .relaxed) }

    func markLoggedIn() {
        loggedIn.store(true, ordering: .relaxed)
        touch()
    }

    /// Whether the session is past its time: the login grace before login, the idle timeout after.
    /// `now` may be older than the session's last activity (the session touched its watch after
    /// the watchdog read the clock): that is never overdue.
    func isOverdue(loginGraceNs: UInt64, idleNs: UInt64, at now: UInt64) -> Bool {
        let since = isLoggedIn ? lastActivityNs.load(ordering: .relaxed) : startedNs
        return now > since && now - since > (isLoggedIn ? idleNs : loginGraceNs)
    }

    /// Shuts the socket down once (the session's thread closes it), unless the session has
    /// already released it.
    func cutOff() {
        socket.withLock { state in
            guard !state.cut, !state.released else { return }
            state.cut = true
            shutdown(fd, Int32(SHUT_RDWR))
        }
    }

    /// The session is about to close its socket: the watchdog must not touch the descriptor after this.
    func release() {
        socket.withLock { $0.released = true }
    }
}
