import ArgumentParser
import ChallengeVerificationCore
import PasswordHashing
import ChallengeVerificationService
import SLSRuntime

/// challenge-verification's settings: flags, then `SLS_CHALLENGE_*` variables, then DOMAIN.md's values.
struct ChallengeOptions: ParsableArguments {
    enum Settings {
        static let argon2Passes = Setting(flag: "argon2-passes", variable: "SLS_CHALLENGE_ARGON2_PASSES", default: 2,
                                          range: 1...64, summary: "Argon2id passes over memory (ACC-02; OWASP minimum 2).")
        static let argon2MemoryKiB = Setting(flag: "argon2-memory-kib", variable: "SLS_CHALLENGE_ARGON2_MEMORY_KIB",
                                             default: 19_456, range: 8...4_194_304,
                                             summary: "Argon2id memory per hash in KiB (ACC-02; OWASP minimum 19 MiB).")
        static let hashingWidth = Setting(flag: "hashing-width", variable: "SLS_CHALLENGE_HASHING_WIDTH", default: 2,
                                          range: 1...256, summary: "Password hashes computed at once (the cores).")
        static let challengeSeconds = Setting(flag: "challenge-seconds", variable: "SLS_CHALLENGE_CHALLENGE_SECONDS",
                                              default: 180.0, range: 1...3600, summary: "Lifetime of a challenge, CHL-08.")
        static let lockAfterFailures = Setting(flag: "lock-after-failures", variable: "SLS_CHALLENGE_LOCK_AFTER_FAILURES",
                                               default: 5, range: 1...1000, summary: "Consecutive wrong responses that lock a factor, CHL-09.")
        static let lockMinutes = Setting(flag: "lock-minutes", variable: "SLS_CHALLENGE_LOCK_MINUTES", default: 15.0,
                                         range: 0.01...100_000, summary: "How long a lock lasts, CHL-09.")
        static let permanentLockAfter = Setting(flag: "permanent-lock-after", variable: "SLS_CHALLENGE_PERMANENT_LOCK_AFTER",
                                                default: 0, range: 0...1000,
                                                summary: "Temporary locks in a row after which a lock is permanent; 0: never.")
        static let maxCodesPerLogin = Setting(flag: "max-codes-per-login", variable: "SLS_CHALLENGE_MAX_CODES_PER_LOGIN",
                                              default: 3, range: 1...100, summary: "SMS and voice codes sent for one login, CHL-06.")
        static let maxCodesPerUserPerHour = Setting(
            flag: "max-codes-per-user-per-hour", variable: "SLS_CHALLENGE_MAX_CODES_PER_USER_PER_HOUR", default: 10,
            range: 1...10_000, summary: "SMS and voice codes sent to one user per hour, CHL-06.")
        static let agreementKeyFile = Setting(flag: "agreement-key-file", variable: "SLS_CHALLENGE_AGREEMENT_KEY_FILE",
                                              default: "",
                                              summary: "This service's P-256 key-agreement key (phones derive their OCRA key with it); empty: <data-dir>/agreement.key, made on first start.")
    }
    private typealias S = Settings

    @Option(name: .customLong(S.argon2Passes.flag), help: S.argon2Passes.help) var argon2Passes = S.argon2Passes.initial
    @Option(name: .customLong(S.argon2MemoryKiB.flag), help: S.argon2MemoryKiB.help) var argon2MemoryKiB = S.argon2MemoryKiB.initial
    @Option(name: .customLong(S.hashingWidth.flag), help: S.hashingWidth.help) var hashingWidth = S.hashingWidth.initial
    @Option(name: .customLong(S.challengeSeconds.flag), help: S.challengeSeconds.help) var challengeSeconds = S.challengeSeconds.initial
    @Option(name: .customLong(S.lockAfterFailures.flag), help: S.lockAfterFailures.help) var lockAfterFailures = S.lockAfterFailures.initial
    @Option(name: .customLong(S.lockMinutes.flag), help: S.lockMinutes.help) var lockMinutes = S.lockMinutes.initial
    @Option(name: .customLong(S.permanentLockAfter.flag), help: S.permanentLockAfter.help) var permanentLockAfter = S.permanentLockAfter.initial
    @Option(name: .customLong(S.maxCodesPerLogin.flag), help: S.maxCodesPerLogin.help) var maxCodesPerLogin = S.maxCodesPerLogin.initial
    @Option(name: .customLong(S.maxCodesPerUserPerHour.flag), help: S.maxCodesPerUserPerHour.help)
    var maxCodesPerUserPerHour = S.maxCodesPerUserPerHour.initial
    @Option(name: .customLong(S.agreementKeyFile.flag), help: S.agreementKeyFile.help) var agreementKeyFile = S.agreementKeyFile.initial

    func settings() throws -> ChallengeVerificationService.Settings {
        try S.argon2Passes.check(argon2Passes)
        try S.argon2MemoryKiB.check(argon2MemoryKiB)
        try S.hashingWidth.check(hashingWidth)
        try S.challengeSeconds.check(challengeSeconds)
        try S.lockAfterFailures.check(lockAfterFailures)
        try S.lockMinutes.check(lockMinutes)
        try S.permanentLockAfter.check(permanentLockAfter)
        try S.maxCodesPerLogin.check(maxCodesPerLogin)
        try S.maxCodesPerUserPerHour.check(maxCodesPerUserPerHour)
        var settings = ChallengeVerificationService.Settings()
        settings.hasher = PasswordHasher(passes: argon2Passes, memoryBytes: argon2MemoryKiB * 1024)
        settings.hashingWidth = hashingWidth
        settings.challenges.challengeLifetime = challengeSeconds
        settings.lockout.maxFailures = lockAfterFailures
        settings.lockout.lockDuration = lockMinutes * 60
        settings.lockout.permanentAfterLocks = permanentLockAfter
        settings.maxSendsPerLogin = maxCodesPerLogin
        settings.maxSendsPerUserPerHour = maxCodesPerUserPerHour
        return settings
    }
}
