import ArgumentParser
import ChallengeVerificationCore
import Crypto
import EnrollmentCore
import Foundation
import SLSBus
import SLSClientOptions
import SLSMessages
import ZeroMQ

/// sls-device's bus settings are `SLS_DEVICE_*` variables.
enum DeviceEnvironment: ClientEnvironment {
    static let prefix = "SLS_DEVICE"
}

/// A command-line IB Key app: a simulated phone whose state lives in a file.
@main
struct DeviceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sls-device",
        abstract: "A simulated IB Key phone (Android or iOS) for walkthroughs and end-to-end tests.",
        discussion: """
            The phone's state (device id, platform, private keys, the Android PIN's salted hash, its users) \
            lives in the --state file (mode 0600). It reaches enrollment as the mobile gateway does: with the \
            key of --key-file (env SLS_DEVICE_KEY_FILE), whose identity the bus policy lets activate \
            (mobile-gateway). `respond` turns a login's 6-digit challenge into the 8-digit OCRA response with \
            the key the phone agreed with challenge verification. `approve` and `decline` fetch pending push \
            requests with a signed poll and answer with a signed decision (number matching).
            """,
        subcommands: [Activate.self, Migrate.self, AddUser.self, AddUserByPassword.self, ConfirmUser.self, Users.self, Respond.self,
                      Approve.self, Decline.self])
}

/// What every command takes: the phone's state file and how to reach enrollment.
struct PhoneOptions: ParsableArguments {
    @Option(help: "The phone's state file (created by the first activate).")
    var state: String

    @Option(help: "Enrollment's endpoint (env SLS_DEVICE_ENROLLMENT).")
    var enrollment = ProcessInfo.processInfo.environment["SLS_DEVICE_ENROLLMENT"] ?? ServiceCatalog.enrollment.defaultEndpoint

    @OptionGroup var connection: ConnectionOptions<DeviceEnvironment>

    @Option(help: "Challenge verification's endpoint (env SLS_DEVICE_CHALLENGE).")
    var challengeVerification = ProcessInfo.processInfo.environment["SLS_DEVICE_CHALLENGE"]
        ?? ServiceCatalog.challengeVerification.defaultEndpoint

    /// challenge verification's key-agreement public key, fetched once and kept in the state.
    func serverAgreementKey(_ state: inout DeviceState) async throws -> Data {
        if let key = state.serverAgreementKey { return key }
        let client = try challengeClient()
        defer { client.close() }
        let key = try await calling {
            try await client.call(ChallengeVerificationAPI.getAgreementKey, AgreementKeyRequest()).publicKey
        }
        state.serverAgreementKey = key
        return key
    }

    func challengeClient() throws -> RPCClient {
        try RPCClient(context: ZMQContext(), configuration: .init(
            endpoint: challengeVerification, caller: "sls-device",
            security: try connection.client(of: ServiceCatalog.challengeVerification.name)))
    }

    func client() throws -> RPCClient {
        try RPCClient(context: ZMQContext(), configuration: .init(
            endpoint: enrollment, caller: "sls-device", security: try connection.client(of: ServiceCatalog.enrollment.name)))
    }
}

/// Where the activation string comes from.
struct StringSource: ParsableArguments {
    @Option(help: "A PNG of the QR code (read with zbarimg).")
    var qr: String?

    @Option(help: "The activation string as typed (Session ID on Android, Activation Code on iOS).")
    var string: String?
}

/// Runs a call, printing refusals as the app would (status, rule, message) and exiting 1.
func calling<T>(_ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let error as RPCError {
        FileHandle.standardError.write(Data("\(error.commandLine)\n".utf8))
        throw ExitCode(1)
    }
}

struct Activate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Activates IB Key with a scanned or typed string (ENR-05); a new phone state is created if none exists.",
        discussion: "A string that replaces an existing IB Key (ENR-09) moves the user to this phone.")

    @OptionGroup var phone: PhoneOptions
    @OptionGroup var source: StringSource

    @Option(help: "android or ios (a new phone only).")
    var platform = "android"

    @Option(help: "Android: the PIN to set, 4 to 6 letters, digits or special characters.")
    var pin: String?

    func run() async throws {
        guard ["android", "ios"].contains(platform) else { throw ValidationError("--platform is android or ios") }
        var state = try DeviceState.load(phone.state) ?? .new(platform: platform, pin: platform == "android" ? pin : nil)
        let string = try Scanner.string(qr: source.qr, typed: source.string)
        // Android: the PIN's hash goes into its OCRA answers, sealed for challenge verification alone.
        var sealedPIN = Data()
        if state.platform == "android", let pin {
            let serverKey = try await phone.serverAgreementKey(&state)
            sealedPIN = Data(try OCRAKeyAgreement.sealPINHash(pin: pin, privateKey: try state.agreement,
                                                              peerPublicKey: serverKey, deviceID: state.deviceID))
        }
        let client = try phone.client()
        defer { client.close() }
        let result = try await calling {
            try await client.call(EnrollmentAPI.activate, ActivateRequest(
                activationString: string, platform: state.platform == "android" ? .android : .ios,
                pin: state.platform == "android" ? (pin ?? "") : "", deviceID: state.deviceID,
                devicePublicKey: try state.signing.publicKey.x963Representation, pushToken: state.pushToken,
                deviceAgreementKey: try state.agreement.publicKey.x963Representation, sealedPinHash: sealedPIN))
        }
        if state.platform == "android", let pin { state.setPIN(pin) }
        if !state.users.contains(result.userName) { state.users.append(result.userName) }
        try state.save(phone.state)
        print("IB Key activated for \(result.userName) on \(state.deviceID) (\(state.platform))")
    }
}

struct AddUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-user",
        abstract: "Adds another user to this phone with a fresh string from that user's portal (ENR-08).",
        discussion: "Android confirms with the phone's PIN; the phone proves it holds its device key by signing.")

    @OptionGroup var phone: PhoneOptions
    @OptionGroup var source: StringSource

    @Option(help: "Android: the phone's PIN.")
    var pin: String?

    func run() async throws {
        guard var state = try DeviceState.load(phone.state) else {
            throw DeviceError("no phone state at \(phone.state): activate IB Key for a first user")
        }
        guard state.checks(pin: pin) else { throw DeviceError("wrong PIN: this phone's PIN confirms adding a user") }
        let typed = try Scanner.string(qr: source.qr, typed: source.string)
        let code: ActivationCode
        do {
            code = try ActivationCode(typed: typed, length: EnrollmentSettings().activationCodeLength)
        } catch {
            throw DeviceError("activation string: \(error)")
        }
        let signature = try state.signing.signature(for: DeviceKeys.addUserMessage(code: code, deviceID: state.deviceID))
        let client = try phone.client()
        defer { client.close() }
        let result = try await calling {
            try await client.call(EnrollmentAPI.addUser, AddUserRequest(
                activationString: typed, deviceID: state.deviceID, signature: signature.rawRepresentation))
        }
        if !state.users.contains(result.userName) { state.users.append(result.userName) }
        try state.save(phone.state)
        print("IB Key added for \(result.userName) on \(state.deviceID); users: \(state.users.joined(separator: ", "))")
    }
}

struct Users: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lists the users this phone holds IB Key for.")

    @Option(help: "The phone's state file.")
    var state: String

    func run() throws {
        guard let state = try DeviceState.load(state) else { throw DeviceError("no phone state at \(self.state)") }
        print("device \(state.deviceID) (\(state.platform))")
        for user in state.users { print("  \(user)") }
    }
}

struct Respond: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Shows the 8-digit response to a login's 6-digit challenge (CHL-03), as the app's Authenticate screen does.",
        discussion: """
            The OCRA key is never sent: the phone derives it from its own key-agreement key and challenge \
            verification's public one (fetched once and kept), as the service does from its side.
            """)

    @OptionGroup var phone: PhoneOptions

    @Option(help: "The 6-digit challenge the login screen shows.")
    var challenge: String

    @Option(help: "Android: the phone's PIN, which unlocks the response.")
    var pin: String?

    @Option(help: "A new push registration token to send with the refresh (ENR-12); default: the phone's current one.")
    var pushToken: String?

    func run() async throws {
        guard var state = try DeviceState.load(phone.state) else { throw DeviceError("no phone state at \(phone.state)") }
        let android = state.platform == "android"
        guard !android || pin != nil else { throw DeviceError("an Android phone answers with its PIN: pass --pin") }
        guard state.checks(pin: pin) else { throw DeviceError("wrong PIN") }
        let serverKey = try await phone.serverAgreementKey(&state)
        try state.save(phone.state)
        let key = try OCRAKeyAgreement.key(privateKey: try state.agreement, peerPublicKey: serverKey, deviceID: state.deviceID)
        do {
            let suite = try OCRASuite(OCRAKeyAgreement.suite(android: android))
            print(try OCRA.response(suite: suite, key: key, input: OCRAInput(question: challenge, pin: android ? pin : nil)))
        } catch {
            throw DeviceError("\(error)")
        }
        // ENR-12: authenticating by challenge/response refreshes the push registration (the articles'
        // remedy for notifications that stopped arriving). Best effort: the response is shown either way.
        if let newToken = pushToken { state.pushToken = newToken }
        let signed = unixMilliseconds()
        let message = PushRules.refreshMessage(deviceID: state.deviceID, pushToken: state.pushToken, signedUnixMs: signed)
        let client = try phone.challengeClient()
        defer { client.close() }
        if let signature = try? state.signing.signature(for: message).rawRepresentation,
           (try? await client.call(ChallengeVerificationAPI.refreshPush, RefreshPushRequest(
               deviceID: state.deviceID, pushToken: state.pushToken, signedUnixMs: signed, signature: signature))) != nil {
            try state.save(phone.state)
        } else {
            FileHandle.standardError.write(Data("note: the push registration could not be refreshed\n".utf8))
        }
    }
}

/// Fetches this phone's pending push requests (a poll signed with the device key) and answers one.
func answerPush(_ phone: PhoneOptions, approve: Bool, number: UInt32?) async throws {
    guard let state = try DeviceState.load(phone.state) else { throw DeviceError("no phone state at \(phone.state)") }
    let signing = try state.signing
    let client = try phone.challengeClient()
    defer { client.close() }
    let polled = unixMilliseconds()
    let poll = PollPushRequest(deviceID: state.deviceID, signedUnixMs: polled, signature: try signing.signature(
        for: PushRules.pollMessage(deviceID: state.deviceID, signedUnixMs: polled)).rawRepresentation)
    let pending = try await calling { try await client.call(ChallengeVerificationAPI.pollPush, poll) }
    guard let request = pending.requests.first else { throw DeviceError("no pending push request for this phone") }
    print("login by \(request.userName) from \(request.clientAddress); numbers: "
          + request.choices.map(String.init).joined(separator: " "))
    let chosen = number ?? 0
    if approve && !request.choices.contains(chosen) {
        throw DeviceError("pick the number the login screen shows: one of " + request.choices.map(String.init).joined(separator: ", "))
    }
    let signed = unixMilliseconds()
    let message = PushRules.answerMessage(loginID: request.loginID, deviceID: state.deviceID, approve: approve,
                                          number: chosen, signedUnixMs: signed)
    let reply = try await calling {
        try await client.call(ChallengeVerificationAPI.answerPush, AnswerPushRequest(
            loginID: request.loginID, deviceID: state.deviceID, approve: approve, number: chosen, signedUnixMs: signed,
            signature: try signing.signature(for: message).rawRepresentation))
    }
    print(approve ? "approved: the login is \(reply.outcome)" : "declined as not me: the login is \(reply.outcome)")
}

struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Approves the pending push request with the number the login screen shows (CHL-02).")

    @OptionGroup var phone: PhoneOptions

    @Option(help: "The number shown on the login screen.")
    var number: UInt32

    @Option(help: "Android: the phone's PIN, which confirms the approval.")
    var pin: String?

    func run() async throws {
        guard let state = try DeviceState.load(phone.state), state.checks(pin: pin) else {
            throw DeviceError("wrong PIN (or no phone state): the phone's PIN confirms an approval")
        }
        try await answerPush(phone, approve: true, number: number)
    }
}

struct Decline: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Declines the pending push request as not me: the login is refused and reported (CHL-02).")

    @OptionGroup var phone: PhoneOptions

    func run() async throws {
        try await answerPush(phone, approve: false, number: nil)
    }
}

struct AddUserByPassword: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "add-user-by-password",
        abstract: "Adds another user to this phone by user name and password; a code then comes by SMS (ENR-08).",
        discussion: "Prints the login id to confirm with `confirm-user --login ID --code CODE`.")

    @OptionGroup var phone: PhoneOptions

    @Option(help: "The user to add.")
    var user: String

    @Option(help: "That user's password (checked by challenge verification, never kept here).")
    var password: String

    @Option(help: "Android: the phone's PIN, which confirms adding a user.")
    var pin: String?

    func run() async throws {
        guard let state = try DeviceState.load(phone.state) else {
            throw DeviceError("no phone state at \(phone.state): activate IB Key for a first user")
        }
        guard state.checks(pin: pin) else { throw DeviceError("wrong PIN: this phone's PIN confirms adding a user") }
        let signed = unixMilliseconds()
        let message = Data("sls.enrollment.v1.AddUserByPassword\n\(user)\n\(state.deviceID)\n\(signed)".utf8)
        let client = try phone.client()
        defer { client.close() }
        let sent = try await calling {
            try await client.call(EnrollmentAPI.addUserByPassword, AddUserByPasswordRequest(
                userName: user, password: password, deviceID: state.deviceID, signedUnixMs: signed,
                signature: try state.signing.signature(for: message).rawRepresentation))
        }
        print("code sent to \(sent.sentTo); login \(sent.loginID)")
    }
}

struct ConfirmUser: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confirm-user",
        abstract: "Confirms adding a user with the code that came by SMS (ENR-08).")

    @OptionGroup var phone: PhoneOptions

    @Option(help: "The login id add-user-by-password printed.")
    var login: String

    @Option(help: "The code from the SMS.")
    var code: String

    func run() async throws {
        guard var state = try DeviceState.load(phone.state) else { throw DeviceError("no phone state at \(phone.state)") }
        let client = try phone.client()
        defer { client.close() }
        let result = try await calling {
            try await client.call(EnrollmentAPI.confirmAddUser,
                                  ConfirmAddUserRequest(loginID: login, code: code, deviceID: state.deviceID))
        }
        if !state.users.contains(result.userName) { state.users.append(result.userName) }
        try state.save(phone.state)
        print("IB Key added for \(result.userName) on \(state.deviceID); users: \(state.users.joined(separator: ", "))")
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Moves a user's IB Key to this new phone (ENR-09) with a string that replaces it (slsctl start-activation --replace-existing).",
        discussion: "The old phone's IB Key for that user is deactivated: its answers are refused from then on.")

    @OptionGroup var phone: PhoneOptions
    @OptionGroup var source: StringSource

    @Option(help: "android or ios.")
    var platform = "android"

    @Option(help: "Android: the new phone's PIN.")
    var pin: String?

    func run() async throws {
        guard try DeviceState.load(phone.state) == nil else {
            throw DeviceError("\(phone.state) already holds a phone: migrate onto a new phone's state file")
        }
        let activate = try Activate.parse(["--state", phone.state, "--enrollment", phone.enrollment,
                                           "--challenge-verification", phone.challengeVerification, "--platform", platform]
                                          + (source.qr.map { ["--qr", $0] } ?? []) + (source.string.map { ["--string", $0] } ?? [])
                                          + (pin.map { ["--pin", $0] } ?? []) + (phone.connection.insecure ? ["--insecure"] : [])
                                          + (phone.connection.keyFile.isEmpty ? [] : ["--key-file", phone.connection.keyFile])
                                          + (phone.connection.publicKeys.isEmpty ? [] : ["--public-keys", phone.connection.publicKeys]))
        try await activate.run()
    }
}
