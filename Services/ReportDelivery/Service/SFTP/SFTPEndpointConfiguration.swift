/// How the SFTP endpoint listens and how long it waits.
public struct SFTPEndpointConfiguration: Sendable {
    /// Address to listen on: `0.0.0.0` in the compose stack, `127.0.0.1` in tests.
    public var host = "0.0.0.0"
    /// DLV-01: 32 in the compose stack, as in the articles.
    public var port = 32
    /// Sessions served at once; further connections are closed at once and logged.
    public var maxSessions = 100
    /// Sessions from one address at once.
    public var maxSessionsPerAddress = 20
    /// Connections not logged in yet, at once (so they cannot take every session's place).
    public var maxUnauthenticated = 30
    /// Seconds from connection to a started SFTP subsystem (key exchange and login).
    public var loginGraceSeconds = 30
    /// Seconds a session may stay without a request before it is closed.
    public var idleTimeoutSeconds = 600
    /// Failed public-key attempts before the connection is closed.
    public var maxAuthAttempts = 6
    /// Bytes one user's folder may hold; writes past it fail.
    public var folderQuotaBytes: Int64 = 1 << 30
    /// Files and folders one user's folder may hold.
    public var maxFolderEntries = 10_000
    /// Open files and folders one session may hold (lowered at start when the process may not
    /// open enough descriptors for every session).
    public var maxHandlesPerSession = 64
    /// The name of the setting that chooses the port, for the error when it cannot be bound.
    public var portSettingName = "--sftp-port"

    public init() {}
}
