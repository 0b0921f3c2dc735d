import CSSH
import Foundation
import Logging
import ReportDeliveryCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// One client connection: key exchange, public-key login (DLV-01, DLV-05), the `sftp` subsystem,
/// then file requests inside the user's folder (DLV-06).
///
/// Runs on its own thread from start to end and blocks there (libssh's blocking API): it is never
/// on the RPC socket thread or in Swift's task pool. Its state is confined to that thread.
final class SFTPSession: @unchecked Sendable {
    let session: ssh_session
    /// The client's address, e.g. `127.0.0.1` (checked against the user's addresses at login too).
    let peer: String
    let directory: any SFTPUserDirectory
    let configuration: SFTPEndpointConfiguration
    let logger: Logger
    let stopping: StopSignal
    /// The watchdog's view of this session.
    let watch: SessionWatch
    /// The users' folder sizes, shared by their sessions (quota).
    let ledger: FolderLedger
    /// Open files and folders this session may hold (bounded by the process's descriptors).
    let maxHandles: Int

    /// Set by a successful login.
    var login: SFTPLogin?
    var folder: UserFolder?
    private var failedAttempts = 0
    private var lastOfferedUser = ""
    var channel: ssh_channel?
    private var subsystemStarted = false
    private let serverCallbacks: UnsafeMutablePointer<ssh_server_callbacks_struct>
    private let channelCallbacks: UnsafeMutablePointer<ssh_channel_callbacks_struct>

    /// Open files and folders of the SFTP session, by handle number.
    var handles: [UInt32: OpenHandle] = [:]
    var nextHandle: UInt32 = 1
    /// Reused for every READ answer: its header and the bytes read.
    var readBuffer = [UInt8](repeating: 0, count: 13 + SFTPSession.maxReadLength)
    static let maxReadLength = 256 * 1024

    init(session: ssh_session, watch: SessionWatch, directory: any SFTPUserDirectory,
         configuration: SFTPEndpointConfiguration, ledger: FolderLedger, maxHandles: Int, stopping: StopSignal,
         logger: Logger) {
        self.session = session
        self.watch = watch
        self.peer = watch.peer
        self.ledger = ledger
        self.maxHandles = maxHandles
        self.directory = directory
        self.configuration = configuration
        self.stopping = stopping
        self.logger = logger
        serverCallbacks = .allocate(capacity: 1)
        serverCallbacks.initialize(to: ssh_server_callbacks_struct())
        channelCallbacks = .allocate(capacity: 1)
        channelCallbacks.initialize(to: ssh_channel_callbacks_struct())
    }

    deinit {
        serverCallbacks.deallocate()
        channelCallbacks.deallocate()
    }

    /// Serves the connection to its end. Blocks.
    func run() {
        defer { close() }
        installCallbacks()
        ssh_set_auth_methods(session, Int32(SSH_AUTH_METHOD_PUBLICKEY))
        guard ssh_handle_key_exchange(session) == SSH_OK else {
            logger.info("SFTP key exchange failed", metadata: ["peer": "\(peer)", "error": "\(lastError)"])
            return
        }
        guard waitForSubsystem(), let channel else { return }
        guard let login else { return }
        logger.info("SFTP session started", metadata: ["peer": "\(peer)", "user": "\(login.userName)"])
        serveFiles(on: channel)
        logger.info("SFTP session ended", metadata: ["peer": "\(peer)", "user": "\(login.userName)"])
    }

    private var lastError: String { String(cString: ssh_get_error(UnsafeMutableRawPointer(session))) }

    private func installCallbacks() {
        let me = Unmanaged.passUnretained(self).toOpaque()
        serverCallbacks.pointee.size = MemoryLayout<ssh_server_callbacks_struct>.size
        serverCallbacks.pointee.userdata = me
        serverCallbacks.pointee.auth_pubkey_function = { _, user, key, state, userdata in
            guard let userdata, let user, let key else { return Int32(SSH_AUTH_DENIED.rawValue) }
            let session = Unmanaged<SFTPSession>.fromOpaque(userdata).takeUnretainedValue()
            return session.authenticate(user: String(cString: user), key: key, signatureState: Int32(state))
        }
        serverCallbacks.pointee.channel_open_request_session_function = { _, userdata in
            guard let userdata else { return nil }
            return Unmanaged<SFTPSession>.fromOpaque(userdata).takeUnretainedValue().openChannel()
        }
        ssh_set_server_callbacks(session, serverCallbacks)
    }

    /// DLV-05: only a registered key of a set-up user (DLV-10), from one of the user's addresses
    /// (DLV-04), logs in. A key is first offered without a signature ("would this key do?"),
    /// then signed; both answers come from the same check.
    private func authenticate(user: String, key: ssh_key, signatureState: Int32) -> Int32 {
        let denied = Int32(SSH_AUTH_DENIED.rawValue)
        let shownUser = String(user.prefix(64))
        lastOfferedUser = shownUser
        guard login == nil, failedAttempts < configuration.maxAuthAttempts else { return denied }
        var base64: UnsafeMutablePointer<CChar>?
        guard ssh_pki_export_pubkey_base64(key, &base64) == SSH_OK, let base64 else { return denied }
        let blob = Data(base64Encoded: String(cString: base64))
        ssh_string_free_char(base64)
        guard let candidate = directory.login(for: user), let blob, candidate.keyBlobs.contains(blob),
              candidate.addresses.allows(peer) else {
            failedAttempts += 1
            // The offered key's fingerprint (public) tells support which key the user tried (DLV-05).
            let offered = blob.map { SSHPublicKey(storedBlob: $0, keyType: "", bits: 0, comment: "").fingerprint } ?? "?"
            logger.notice("SFTP login refused: not a registered key of a set-up user from one of their addresses",
                          metadata: ["peer": "\(peer)", "user": "\(shownUser)", "offered_key": "\(offered)",
                                     "attempts": "\(failedAttempts)"])
            return denied
        }
        switch signatureState {
        case Int32(SSH_PUBLICKEY_STATE_NONE.rawValue):
            return Int32(SSH_AUTH_SUCCESS.rawValue)   // the key would do: the client signs next
        case Int32(SSH_PUBLICKEY_STATE_VALID.rawValue):
            login = candidate
            folder = UserFolder(path: candidate.folder)
            watch.markLoggedIn()
            logger.info("SFTP login", metadata: ["peer": "\(peer)", "user": "\(shownUser)"])
            return Int32(SSH_AUTH_SUCCESS.rawValue)
        default:
            failedAttempts += 1
            return denied
        }
    }

    /// One session channel per connection, after login, for the `sftp` subsystem only.
    private func openChannel() -> ssh_channel? {
        guard login != nil, channel == nil, let channel = ssh_channel_new(session) else { return nil }
        self.channel = channel
        channelCallbacks.pointee.size = MemoryLayout<ssh_channel_callbacks_struct>.size
        channelCallbacks.pointee.userdata = Unmanaged.passUnretained(self).toOpaque()
        channelCallbacks.pointee.channel_subsystem_request_function = { _, _, subsystem, userdata in
            guard let userdata, let subsystem, String(cString: subsystem) == "sftp" else { return 1 }
            Unmanaged<SFTPSession>.fromOpaque(userdata).takeUnretainedValue().subsystemStarted = true
            return 0
        }
        ssh_set_channel_callbacks(channel, channelCallbacks)
        return channel
    }

    /// Runs the SSH exchange until the user is logged in and has started `sftp`, the login grace
    /// time is over, or the client left. Shells, commands and forwarding are refused.
    private func waitForSubsystem() -> Bool {
        guard let event = ssh_event_new() else { return false }
        defer { ssh_event_free(event) }
        ssh_event_add_session(event, session)
        defer { ssh_event_remove_session(event, session) }
        let deadline = ContinuousClock.now + .seconds(configuration.loginGraceSeconds)
        while !(login != nil && channel != nil && subsystemStarted) {
            guard !stopping.isSet, ContinuousClock.now < deadline,
                  failedAttempts < configuration.maxAuthAttempts else {
                if login == nil {
                    logger.notice("SFTP connection closed without a login",
                                  metadata: ["peer": "\(peer)", "user": "\(lastOfferedUser)", "attempts": "\(failedAttempts)"])
                }
                return false
            }
            if ssh_event_dopoll(event, 250) == SSH_ERROR { return false }
            if ssh_get_status(session) & (Int32(SSH_CLOSED) | Int32(SSH_CLOSED_ERROR)) != 0 { return false }
        }
        return true
    }

    /// Answers SFTP requests until the client leaves, stays idle too long, sends a malformed or
    /// oversized request, or the service stops. Packets are framed here (see ``SFTPChannel``).
    private func serveFiles(on channel: ssh_channel) {
        guard let login, let folder else { return }
        // Joined only by sessions that serve files, so every join has its leave (a login that
        // never starts sftp counts for nothing); the first one walks the folder.
        ledger.join(login.userName) { folder.usage() }
        defer { ledger.leave(login.userName) }
        let io = SFTPChannel(channel: channel)
        var buffer = [UInt8](repeating: 0, count: 64)
        let idleNs = UInt64(configuration.idleTimeoutSeconds) * 1_000_000_000
        let keepWaiting = { [self] in
            !stopping.isSet && !watch.isOverdue(loginGraceNs: .max, idleNs: idleNs, at: SessionWatch.now())
        }
        do {
            // INIT first: the client's version, answered with 3.
            let length = try io.readPacket(into: &buffer, pollMs: 500, keepWaiting: keepWaiting)
            guard length >= 5, buffer[0] == SFTPPacketType.initialize.rawValue, io.write(Self.versionReply()) else { return }
            while true {
                let length = try io.readPacket(into: &buffer, pollMs: 500, keepWaiting: keepWaiting)
                watch.touch()
                guard handle(buffer, length: length, io: io, folder: folder, user: login.userName) else {
                    logger.info("SFTP session ended: a reply could not be sent", metadata: ["peer": "\(peer)", "error": "\(lastError)"])
                    return
                }
                watch.touch()
            }
        } catch SFTPChannel.End.tooLarge {
            logger.notice("SFTP session ended: request larger than \(SFTPChannel.maxPacketBytes) bytes",
                          metadata: ["peer": "\(peer)", "user": "\(login.userName)"])
        } catch SFTPChannel.End.stopped where !stopping.isSet {
            logger.info("SFTP session idle too long", metadata: ["peer": "\(peer)", "user": "\(login.userName)"])
        } catch {
            // `.closed`: the client left (the usual end); libssh's error says more when it did not.
            logger.debug("SFTP channel closed", metadata: ["peer": "\(peer)", "error": "\(lastError)"])
            return
        }
    }

    private func close() {
        closeAllHandles()
        if let channel {
            // OpenSSH's client waits for an exit status before it reports a clean end.
            ssh_channel_request_send_exit_status(channel, 0)
            ssh_channel_send_eof(channel)
            ssh_channel_close(channel)
            // Let the client close its side first (up to a second), so it ends without
            // "Connection closed by remote host". Waited for on the socket: polling the channel
            // returns at once after the client's EOF, which would spin for the whole second.
            if let event = ssh_event_new() {
                ssh_event_add_session(event, session)
                let deadline = ContinuousClock.now + .seconds(1)
                while ssh_get_status(session) & (Int32(SSH_CLOSED) | Int32(SSH_CLOSED_ERROR)) == 0,
                      ContinuousClock.now < deadline, ssh_event_dopoll(event, 100) != SSH_ERROR {}
                ssh_event_remove_session(event, session)
                ssh_event_free(event)
            }
            ssh_channel_free(channel)
            self.channel = nil
        }
        // From here the descriptor closes and its number may be reused: the watchdog keeps off it.
        watch.release()
        ssh_disconnect(session)
        ssh_free(session)
    }
}
