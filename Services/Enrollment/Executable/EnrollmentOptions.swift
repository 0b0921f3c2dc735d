import ArgumentParser
import EnrollmentCore
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
    }
    private typealias S = Settings

    @Option(name: .customLong(S.activationLifetimeSeconds.flag), help: S.activationLifetimeSeconds.help)
    var activationLifetimeSeconds = S.activationLifetimeSeconds.initial

    @Option(name: .customLong(S.activationLinkBase.flag), help: S.activationLinkBase.help)
    var activationLinkBase = S.activationLinkBase.initial

    /// The settings these options describe; fails with a message naming the bad option.
    func settings() throws -> EnrollmentSettings {
        try S.activationLifetimeSeconds.check(activationLifetimeSeconds)
        try S.activationLinkBase.check(activationLinkBase)
        guard activationLinkBase.hasPrefix("https://"), activationLinkBase.utf8.count <= 512 else {
            throw ValidationError("--activation-link-base must be an https:// link of at most 512 bytes")
        }
        var settings = EnrollmentSettings()
        settings.activationLifetime = activationLifetimeSeconds
        return settings
    }
}
