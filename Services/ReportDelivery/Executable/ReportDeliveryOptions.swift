import ArgumentParser
import Foundation
import ReportDeliveryCore
import ReportDeliveryService
import SLSRuntime

/// Report delivery's settings: flags first, then `SLS_DELIVERY_*` environment variables, then
/// DOMAIN.md's values.
struct ReportDeliveryOptions: ParsableArguments {
    enum Settings {
        static let sftpPort = Setting(
            flag: "sftp-port", variable: "SLS_DELIVERY_SFTP_PORT", default: 32, range: 0...65_535,
            summary: "TCP port of the SFTP endpoint, DLV-01 (32 as in the articles; under 1024 needs root or CAP_NET_BIND_SERVICE; 0 picks a free port).")
        static let sftpHost = Setting(
            flag: "sftp-host", variable: "SLS_DELIVERY_SFTP_HOST", default: "0.0.0.0",
            summary: "Address the SFTP endpoint listens on (an IP address; 127.0.0.1 for local use only).")
        static let maxSessions = Setting(
            flag: "sftp-max-sessions", variable: "SLS_DELIVERY_SFTP_MAX_SESSIONS", default: 100, range: 1...10_000,
            summary: "SFTP sessions served at once; further connections are closed and logged.")
        static let maxSessionsPerAddress = Setting(
            flag: "sftp-max-sessions-per-address", variable: "SLS_DELIVERY_SFTP_MAX_SESSIONS_PER_ADDRESS", default: 20,
            range: 1...10_000, summary: "SFTP sessions from one address at once.")
        static let loginGraceSeconds = Setting(
            flag: "sftp-login-grace-seconds", variable: "SLS_DELIVERY_SFTP_LOGIN_GRACE_SECONDS", default: 30,
            range: 1...600, summary: "Seconds a connection has to log in and start SFTP.")
        static let idleTimeoutSeconds = Setting(
            flag: "sftp-idle-timeout-seconds", variable: "SLS_DELIVERY_SFTP_IDLE_TIMEOUT_SECONDS", default: 600,
            range: 1...86_400, summary: "Seconds an SFTP session may stay without a request.")
        static let retentionDays = Setting(
            flag: "retention-days", variable: "SLS_DELIVERY_RETENTION_DAYS", default: 100, range: 1...3650,
            summary: "Days a file is kept after delivery before it is purged, DLV-07.")
        static let purgeIntervalSeconds = Setting(
            flag: "purge-interval-seconds", variable: "SLS_DELIVERY_PURGE_INTERVAL_SECONDS", default: 3600,
            range: 1...86_400, summary: "How often the retention sweep runs (it also runs at start-up).")
        static let folderQuotaBytes = Setting(
            flag: "folder-quota-bytes", variable: "SLS_DELIVERY_FOLDER_QUOTA_BYTES", default: 1 << 30,
            range: 1 << 20...1 << 40, summary: "Bytes a user's folder may hold; uploads past it fail.")
        static let heldKeyFile = Setting(
            flag: "held-statement-key-file", variable: "SLS_DELIVERY_HELD_STATEMENT_KEY_FILE", default: "",
            summary: "256-bit key (64 hex characters, mode 0600) sealing statements held for want of a PGP key; empty: <data-dir>/held-statements.key, made on first start.")
        static let minimumIPv4Prefix = Setting(
            flag: "min-ipv4-prefix", variable: "SLS_DELIVERY_MIN_IPV4_PREFIX", default: 16, range: 0...32,
            summary: "Widest IPv4 range a user may register, as a prefix length (DLV-04).")
        static let minimumIPv6Prefix = Setting(
            flag: "min-ipv6-prefix", variable: "SLS_DELIVERY_MIN_IPV6_PREFIX", default: 48, range: 0...128,
            summary: "Widest IPv6 range a user may register, as a prefix length (DLV-04).")
        static let maxUnauthenticated = Setting(
            flag: "sftp-max-unauthenticated", variable: "SLS_DELIVERY_SFTP_MAX_UNAUTHENTICATED", default: 30,
            range: 1...10_000, summary: "SFTP connections not logged in yet, at once.")
        static let maxFolderEntries = Setting(
            flag: "folder-max-entries", variable: "SLS_DELIVERY_FOLDER_MAX_ENTRIES", default: 10_000,
            range: 10...10_000_000, summary: "Files and folders a user's folder may hold.")
        static let templates = Setting(
            flag: "templates", variable: "SLS_DELIVERY_TEMPLATES", default: "",
            summary: "Folder of Message Center templates (<language>.json, DLV-09); empty: the bundled en, zh-Hant and pt.")
    }
    private typealias S = Settings

    @Option(name: .customLong(S.sftpPort.flag), help: S.sftpPort.help) var sftpPort = S.sftpPort.initial
    @Option(name: .customLong(S.sftpHost.flag), help: S.sftpHost.help) var sftpHost = S.sftpHost.initial
    @Option(name: .customLong(S.maxSessions.flag), help: S.maxSessions.help) var maxSessions = S.maxSessions.initial
    @Option(name: .customLong(S.maxSessionsPerAddress.flag), help: S.maxSessionsPerAddress.help)
    var maxSessionsPerAddress = S.maxSessionsPerAddress.initial
    @Option(name: .customLong(S.loginGraceSeconds.flag), help: S.loginGraceSeconds.help)
    var loginGraceSeconds = S.loginGraceSeconds.initial
    @Option(name: .customLong(S.idleTimeoutSeconds.flag), help: S.idleTimeoutSeconds.help)
    var idleTimeoutSeconds = S.idleTimeoutSeconds.initial
    @Option(name: .customLong(S.retentionDays.flag), help: S.retentionDays.help) var retentionDays = S.retentionDays.initial
    @Option(name: .customLong(S.purgeIntervalSeconds.flag), help: S.purgeIntervalSeconds.help)
    var purgeIntervalSeconds = S.purgeIntervalSeconds.initial
    @Option(name: .customLong(S.folderQuotaBytes.flag), help: S.folderQuotaBytes.help)
    var folderQuotaBytes = S.folderQuotaBytes.initial
    @Option(name: .customLong(S.heldKeyFile.flag), help: S.heldKeyFile.help) var heldKeyFile = S.heldKeyFile.initial
    @Option(name: .customLong(S.templates.flag), help: S.templates.help) var templates = S.templates.initial
    @Option(name: .customLong(S.minimumIPv4Prefix.flag), help: S.minimumIPv4Prefix.help)
    var minimumIPv4Prefix = S.minimumIPv4Prefix.initial
    @Option(name: .customLong(S.minimumIPv6Prefix.flag), help: S.minimumIPv6Prefix.help)
    var minimumIPv6Prefix = S.minimumIPv6Prefix.initial
    @Option(name: .customLong(S.maxUnauthenticated.flag), help: S.maxUnauthenticated.help)
    var maxUnauthenticated = S.maxUnauthenticated.initial
    @Option(name: .customLong(S.maxFolderEntries.flag), help: S.maxFolderEntries.help)
    var maxFolderEntries = S.maxFolderEntries.initial

    @Flag(name: .customLong("allow-plain-delivery"),
          help: "Deliver statements unencrypted to users without a PGP key instead of holding them, DLV-08 (off; env SLS_DELIVERY_ALLOW_PLAIN_DELIVERY=1).")
    var allowPlainFlag = false

    @Flag(name: .customLong("require-known-account"), inversion: .prefixedNo,
          help: "Let the reporting team set up only user names the account service announced (AccountOpened), ACC-05 (on; env SLS_DELIVERY_REQUIRE_KNOWN_ACCOUNT=0 turns it off).")
    var requireKnownAccountFlag = !["0", "false", "no"].contains(
        Environment.string("SLS_DELIVERY_REQUIRE_KNOWN_ACCOUNT", default: "").lowercased())

    var allowPlainDelivery: Bool {
        allowPlainFlag || ["1", "true", "yes"].contains(Environment.string("SLS_DELIVERY_ALLOW_PLAIN_DELIVERY", default: "").lowercased())
    }

    func settings() throws -> DeliverySettings {
        try S.retentionDays.check(retentionDays)
        try S.folderQuotaBytes.check(folderQuotaBytes)
        var settings = DeliverySettings()
        settings.retention = RetentionRule(days: retentionDays)
        settings.allowPlainDelivery = allowPlainDelivery
        settings.requireKnownAccount = requireKnownAccountFlag
        try S.minimumIPv4Prefix.check(minimumIPv4Prefix)
        try S.minimumIPv6Prefix.check(minimumIPv6Prefix)
        settings.minimumIPv4Prefix = minimumIPv4Prefix
        settings.minimumIPv6Prefix = minimumIPv6Prefix
        return settings
    }

    func endpoint() throws -> SFTPEndpointConfiguration {
        try S.sftpPort.check(sftpPort)
        try S.maxSessions.check(maxSessions)
        try S.maxSessionsPerAddress.check(maxSessionsPerAddress)
        try S.loginGraceSeconds.check(loginGraceSeconds)
        try S.idleTimeoutSeconds.check(idleTimeoutSeconds)
        var configuration = SFTPEndpointConfiguration()
        configuration.host = sftpHost
        configuration.port = sftpPort
        configuration.maxSessions = maxSessions
        configuration.maxSessionsPerAddress = maxSessionsPerAddress
        configuration.loginGraceSeconds = loginGraceSeconds
        configuration.idleTimeoutSeconds = idleTimeoutSeconds
        configuration.folderQuotaBytes = Int64(folderQuotaBytes)
        try S.maxUnauthenticated.check(maxUnauthenticated)
        try S.maxFolderEntries.check(maxFolderEntries)
        configuration.maxUnauthenticated = maxUnauthenticated
        configuration.maxFolderEntries = maxFolderEntries
        configuration.portSettingName = "--\(S.sftpPort.flag) (\(S.sftpPort.variable))"
        return configuration
    }

    func messageTemplates() throws -> MessageTemplates {
        templates.isEmpty ? try MessageTemplates.bundled() : try MessageTemplates(folder: URL(fileURLWithPath: templates))
    }
}
