import ArgumentParser
import EnrollmentCore
import SLSBus
import SLSRuntime

/// The enrollment settings: flags first, then `SLS_ENROLLMENT_*` environment variables, then
/// DOMAIN.md's values.
struct EnrollmentOptions: ParsableArguments {
    enum Settings {
        static let activationLifetimeSeconds = Setting(
            flag: "activation-lifetime-seconds", variable: "SLS_ENROLLMENT_ACTIVATION_LIFETIME_SECONDS", default: 600.0,
            range: 1...86_400, summary: "How long an IB Key activation string may be used after it was issued, ENR-06.")
        static let activationLinkBase = Setting(
            flag: "activation-link-base", variable: "SLS_ENROLLMENT_ACTIVATION_LINK_BASE",
            default: "https://ibkey.example.com/activate?s=",
            summary: "The QR code's link: this followed by the activation string, ENR-11 (leads to the app store without the app).")
        static let attemptsPerDevicePerMinute = Setting(
            flag: "attempts-per-device-per-minute", variable: "SLS_ENROLLMENT_ATTEMPTS_PER_DEVICE_PER_MINUTE",
            default: 20, range: 1...100_000, summary: "Activation attempts one phone may make per minute (guessing strings).")
        static let attemptsPerCallerPerMinute = Setting(
            flag: "attempts-per-caller-per-minute", variable: "SLS_ENROLLMENT_ATTEMPTS_PER_CALLER_PER_MINUTE",
            default: 6000, range: 1...10_000_000,
            summary: "Activation attempts one caller identity (the mobile gateway: every phone) may make per minute.")
        static let startsPerUserPerMinute = Setting(
            flag: "starts-per-user-per-minute", variable: "SLS_ENROLLMENT_STARTS_PER_USER_PER_MINUTE",
            default: 10, range: 1...100_000, summary: "Activation strings one user may be issued per minute.")
        static let cardSeedKeyFile = Setting(
            flag: "card-seed-key-file", variable: "SLS_ENROLLMENT_CARD_SEED_KEY_FILE", default: "",
            summary: "256-bit key (64 hex characters, mode 0600) sealing DSC+ seeds at rest; empty: <data-dir>/card-seed.key, made on first start. Keep it away from the database in production.")
        static let challengeVerification = Setting(
            flag: "challenge-verification", variable: "SLS_ENROLLMENT_CHALLENGE_VERIFICATION",
            default: ServiceCatalog.challengeVerification.defaultEndpoint,
            summary: "Challenge verification's endpoint: DSC+ seeds are sealed to the key it publishes there.")
    }
    private typealias S = Settings

    @Option(name: .customLong(S.activationLifetimeSeconds.flag), help: S.activationLifetimeSeconds.help)
    var activationLifetimeSeconds = S.activationLifetimeSeconds.initial

    @Option(name: .customLong(S.activationLinkBase.flag), help: S.activationLinkBase.help)
    var activationLinkBase = S.activationLinkBase.initial

    @Option(name: .customLong(S.attemptsPerDevicePerMinute.flag), help: S.attemptsPerDevicePerMinute.help)
    var attemptsPerDevicePerMinute = S.attemptsPerDevicePerMinute.initial

    @Option(name: .customLong(S.attemptsPerCallerPerMinute.flag), help: S.attemptsPerCallerPerMinute.help)
    var attemptsPerCallerPerMinute = S.attemptsPerCallerPerMinute.initial

    @Option(name: .customLong(S.startsPerUserPerMinute.flag), help: S.startsPerUserPerMinute.help)
    var startsPerUserPerMinute = S.startsPerUserPerMinute.initial

    @Option(name: .customLong(S.challengeVerification.flag), help: S.challengeVerification.help)
    var challengeVerification = S.challengeVerification.initial

    @Option(name: .customLong(S.cardSeedKeyFile.flag), help: S.cardSeedKeyFile.help)
    var cardSeedKeyFile = S.cardSeedKeyFile.initial

    /// The settings these options describe; fails with a message naming the bad option.
    func settings() throws -> EnrollmentSettings {
        try S.activationLifetimeSeconds.check(activationLifetimeSeconds)
        try S.activationLinkBase.check(activationLinkBase)
        guard activationLinkBase.hasPrefix("https://"), activationLinkBase.utf8.count <= 512 else {
            throw ValidationError("--activation-link-base must be an https:// link of at most 512 bytes")
        }
        try S.attemptsPerDevicePerMinute.check(attemptsPerDevicePerMinute)
        try S.attemptsPerCallerPerMinute.check(attemptsPerCallerPerMinute)
        try S.startsPerUserPerMinute.check(startsPerUserPerMinute)
        var settings = EnrollmentSettings()
        settings.activationLifetime = activationLifetimeSeconds
        settings.attemptsPerDevicePerMinute = attemptsPerDevicePerMinute
        settings.attemptsPerCallerPerMinute = attemptsPerCallerPerMinute
        settings.startsPerUserPerMinute = startsPerUserPerMinute
        return settings
    }
}
