import Crypto
import Dispatch
import Foundation
import SLSBus
import SLSMessages
import SLSTesting
import Testing
import ZeroMQ

/// enrollment as it runs: the account service opens an account on the bus, the portal starts an
/// IB Key activation, a phone activates through the mobile gateway, each with its own key.
@Suite("enrollment as a running service", .serialized)
struct EnrollmentStackTests {
    @Test func testENR01_ENR04_ENR05_accountEventThenActivationThroughTheBus() async throws {
        let stack = try Stack()
        defer { stack.stopAll() }
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["enrollment"]))
        let context = ZMQContext()
        let accounts = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                          producer: "accounts", security: try stack.client("accounts", of: "event-bus"))
        defer { accounts.close() }
        func client(_ identity: String) throws -> RPCClient {
            try RPCClient(context: context, configuration: .init(
                endpoint: stack.endpoint(stack.ports.enrollment), caller: identity,
                security: try stack.client(identity, of: "enrollment")))
        }
        let portal = try client("portal"), phone = try client("mobile-gateway")
        defer { portal.close(); phone.close() }

        // ENR-01: the account arrives as an event; its user has SMS at once.
        var factors: FactorList?
        for _ in 0..<100 where factors == nil {
            try accounts.publish(AccountOpened(accountID: "E9", userName: "erin"))
            try await Task.sleep(for: .milliseconds(50))
            factors = try? await portal.call(EnrollmentAPI.listFactors, ListFactorsRequest(userName: "erin"))
        }
        #expect(factors?.factors.map(\.kind) == [.sms])

        // ENR-04, through slsctl as the portal: the QR code in the terminal and as a PNG that the
        // stock decoder reads back as the link carrying the string (ENR-11).
        let png = stack.dataDirectory.appendingPathComponent("erin.png").path
        let started = try stack.slsctl(as: "portal", "start-activation", "erin", "--png", png)
        #expect(started.status == 0, "\(started.stderr)")
        #expect(started.stdout.contains("█"))
        let string = try #require(started.stdout.split(separator: "\n")
            .first { $0.hasPrefix("activation string:") }?.split(separator: " ").last.map(String.init))
        let link = try #require(started.stdout.split(separator: "\n")
            .first { $0.hasPrefix("link:") }?.split(separator: " ").last.map(String.init))
        #expect(link.hasSuffix(string.replacingOccurrences(of: "-", with: "")))
        #expect(try Zbar.scan(Array(try Data(contentsOf: URL(fileURLWithPath: png)))) == link)

        // ENR-05: the phone types the string and sets its PIN.
        let key = P256.Signing.PrivateKey().publicKey.x963Representation
        let activated = try await phone.call(EnrollmentAPI.activate, ActivateRequest(
            activationString: string, platform: .android, pin: "4321", deviceID: "pixel-1",
            devicePublicKey: key))
        #expect(activated.userName == "erin")
        // The portal may not activate (only phones, through the mobile gateway, may).
        let denied = await #expect(throws: RPCError.self) {
            _ = try await portal.call(EnrollmentAPI.activate, ActivateRequest(activationString: string))
        }
        #expect(denied?.code == .permissionDenied)

        // And the factors, through slsctl as the portal.
        let listed = try stack.slsctl(as: "portal", "call", "enrollment", "ListFactors", #"{"userName":"erin"}"#)
        #expect(listed.status == 0, "\(listed.stderr)")
        #expect(listed.stdout.contains("IB_KEY"))
        #expect(listed.stdout.contains("SMS"))
    }

    @Test func killNineDuringTwoHundredConcurrentActivationsLosesNoAcknowledgedOne() async throws {
        let stack = try Stack()
        defer { stack.stopAll() }
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["enrollment"]))
        let context = ZMQContext()
        let accounts = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                          producer: "accounts", security: try stack.client("accounts", of: "event-bus"))
        defer { accounts.close() }
        func client(_ identity: String) throws -> RPCClient {
            try RPCClient(context: context, configuration: .init(
                endpoint: stack.endpoint(stack.ports.enrollment), caller: identity, defaultTimeout: .seconds(2),
                security: try stack.client(identity, of: "enrollment")))
        }
        let portal = try client("portal"), phone = try client("mobile-gateway")
        defer { portal.close(); phone.close() }
        let count = 200
        // The users arrive as events; each gets a string.
        var strings: [String] = []
        for index in 0..<count {
            var ticket: ActivationTicket?
            for _ in 0..<100 where ticket == nil {
                try accounts.publish(AccountOpened(accountID: "K\(index)", userName: "kill\(index)"))
                ticket = try? await portal.call(EnrollmentAPI.startActivation, StartActivationRequest(userName: "kill\(index)"))
                if ticket == nil { try await Task.sleep(for: .milliseconds(20)) }
            }
            strings.append(try #require(ticket).activationString)
        }
        let acknowledged = Acknowledged()
        let key = P256.Signing.PrivateKey().publicKey.x963Representation
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for (index, string) in strings.enumerated() {
                    group.addTask {
                        if (try? await phone.call(EnrollmentAPI.activate, ActivateRequest(
                            activationString: string, platform: .ios, deviceID: "kill-phone-\(index)",
                            devicePublicKey: key))) != nil {
                            acknowledged.append("kill\(index)")
                        }
                    }
                }
            }
        }
        for _ in 0..<2000 where acknowledged.all.count < 20 { try await Task.sleep(for: .milliseconds(1)) }
        stack.stop("sls-enrollment", signal: SIGKILL)
        await load.value
        let acked = acknowledged.all
        #expect(acked.count >= 20)
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["enrollment"]))
        for user in acked {
            let factors = try await portal.call(EnrollmentAPI.listFactors, ListFactorsRequest(userName: user))
            #expect(factors.factors.contains { $0.kind == .ibKey && $0.state == .active }, "\(user) lost its IB Key")
        }
    }

    @Test func testENR05_ENR08_ENR09_thePhoneSimulatorScansTheQRAddsAUserAndMoves() async throws {
        let stack = try Stack()
        defer { stack.stopAll() }
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        // An Android activation seals the PIN's hash with challenge verification's key.
        try stack.startService("challenge-verification", port: stack.ports.challenge,
                               extra: ["--argon2-memory-kib", "1024", "--argon2-passes", "1"])
        #expect(try stack.waitUntilServing(["enrollment", "challenge-verification"]))
        let context = ZMQContext()
        let accounts = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                          producer: "accounts", security: try stack.client("accounts", of: "event-bus"))
        defer { accounts.close() }
        func qr(_ user: String, replace: Bool = false) throws -> String {
            let png = stack.dataDirectory.appendingPathComponent("\(user)-\(UUID()).png").path
            var result = try stack.slsctl(as: "portal", "start-activation", user, "--png", png)
            for _ in 0..<100 where result.status != 0 && !replace {
                try accounts.publish(AccountOpened(accountID: "D-\(user)", userName: user))
                usleep(50_000)
                result = try stack.slsctl(as: "portal", "start-activation", user, "--png", png)
            }
            if replace { result = try stack.slsctl(as: "portal", "start-activation", user, "--png", png, "--replace-existing") }
            #expect(result.status == 0, "\(result.stderr)")
            return png
        }
        let phone = stack.dataDirectory.appendingPathComponent("phone.json").path
        // QR PNG -> zbar -> activation, Android with a PIN.
        let first = try stack.device("activate", "--state", phone, "--qr", try qr("gina"), "--platform", "android", "--pin", "2468")
        #expect(first.status == 0, "\(first.stderr)")
        #expect(first.stdout.contains("IB Key activated for gina"))
        // A bad PIN format is refused in the article's words, naming the cause.
        let other = stack.dataDirectory.appendingPathComponent("other.json").path
        let badPin = try stack.device("activate", "--state", other, "--qr", try qr("hank"), "--pin", "12")
        #expect(badPin.status == 1)
        #expect(badPin.stderr.contains("An error has occurred. Please try again."), "\(badPin.stderr)")
        #expect(badPin.stderr.contains("[ENR-05]"))
        // Two users on one phone: hank joins gina's phone, confirmed with its PIN.
        let wrongPin = try stack.device("add-user", "--state", phone, "--qr", try qr("hank"), "--pin", "9999")
        #expect(wrongPin.status != 0)
        let added = try stack.device("add-user", "--state", phone, "--qr", try qr("hank"), "--pin", "2468")
        #expect(added.status == 0, "\(added.stderr)")
        #expect(try stack.device("users", "--state", phone).stdout.contains("hank"))
        // gina moves to a new iPhone: the old phone's IB Key for gina ends, hank's stays.
        let iphone = stack.dataDirectory.appendingPathComponent("iphone.json").path
        let moved = try stack.device("migrate", "--state", iphone, "--qr", try qr("gina", replace: true), "--platform", "ios")
        #expect(moved.status == 0, "\(moved.stderr)")
        let factors = try stack.slsctl(as: "portal", "call", "enrollment", "ListFactors", #"{"userName":"gina"}"#)
        #expect(factors.stdout.components(separatedBy: "DEACTIVATED").count == 2, "\(factors.stdout)")
        #expect(factors.stdout.contains("IOS"))
    }
}
