import ChallengeVerificationCore
import Foundation
import SLSBus
import SLSMessages
import SLSTesting
import Testing
import ZeroMQ

/// A login as it runs: the account arrives on the bus, the phone activates IB Key with enrollment,
/// challenge verification learns the phone from enrollment's event, and a login by password then
/// challenge/response completes with the phone's answer from sls-device.
@Suite("challenge verification as a running service", .serialized)
struct ChallengeStackTests {
    @Test func testCHL01_CHL03_passwordThenChallengeResponseWithThePhoneSimulator() async throws {
        let stack = try Stack()
        defer { stack.stopAll() }
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        try stack.startService("challenge-verification", port: stack.ports.challenge,
                               extra: ["--argon2-memory-kib", "1024", "--argon2-passes", "1"])
        #expect(try stack.waitUntilServing(["enrollment", "challenge-verification"]))
        let context = ZMQContext()
        let accounts = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                          producer: "accounts", security: try stack.client("accounts", of: "event-bus"))
        defer { accounts.close() }
        let portal = try RPCClient(context: context, configuration: .init(
            endpoint: stack.endpoint(stack.ports.challenge), caller: "portal",
            security: try stack.client("portal", of: "challenge-verification")))
        defer { portal.close() }

        // The account reaches both services; the password is set through the portal.
        var passwordSet = false
        for _ in 0..<100 where !passwordSet {
            try accounts.publish(AccountOpened(accountID: "C1", userName: "carol"))
            try await Task.sleep(for: .milliseconds(50))
            passwordSet = (try? await portal.call(ChallengeVerificationAPI.setPassword,
                                                  SetPasswordRequest(userName: "carol", newPassword: "c4rol-pass"))) != nil
        }
        #expect(passwordSet)

        // IB Key on a simulated iPhone.
        let png = stack.dataDirectory.appendingPathComponent("carol.png").path
        var started = try stack.slsctl(as: "portal", "start-activation", "carol", "--png", png)
        for _ in 0..<50 where started.status != 0 {
            usleep(50_000)
            started = try stack.slsctl(as: "portal", "start-activation", "carol", "--png", png)
        }
        let phone = stack.dataDirectory.appendingPathComponent("carol-phone.json").path
        let activated = try stack.device("activate", "--state", phone, "--qr", png, "--platform", "ios")
        #expect(activated.status == 0, "\(activated.stderr)")

        // The password step lists the phone once enrollment's event has arrived.
        var login: LoginStarted?
        for _ in 0..<100 where login?.factors.isEmpty != false {
            login = try await portal.call(ChallengeVerificationAPI.beginLogin,
                                          BeginLoginRequest(userName: "carol", password: "c4rol-pass", clientAddress: "127.0.0.1"))
            if login?.factors.isEmpty != false { try await Task.sleep(for: .milliseconds(50)) }
        }
        let started2 = try #require(login)
        let device = try #require(started2.factors.first)
        let challenge = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(
            loginID: started2.loginID, factor: .ibKeyChallenge, deviceID: device.deviceID))
        let responded = try stack.device("respond", "--state", phone, "--challenge", challenge.challenge)
        #expect(responded.status == 0, "\(responded.stderr)")
        let response = responded.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(response.count == 8)
        let verified = try await portal.call(ChallengeVerificationAPI.answerChallenge,
                                             AnswerChallengeRequest(loginID: started2.loginID, response: response))
        #expect(verified.userName == "carol")

        // CHL-02: push with number matching, approved on the phone; then a "not me" decline.
        let pushLogin = try await portal.call(ChallengeVerificationAPI.beginLogin,
                                              BeginLoginRequest(userName: "carol", password: "c4rol-pass", clientAddress: "127.0.0.1"))
        #expect(pushLogin.factors.first?.factor == .ibKeyPush)
        let pushed = try await portal.call(ChallengeVerificationAPI.sendPush, ChooseFactorRequest(
            loginID: pushLogin.loginID, factor: .ibKeyPush, deviceID: device.deviceID))
        let approved = try stack.device("approve", "--state", phone, "--number", "\(pushed.number)")
        #expect(approved.status == 0, "\(approved.stderr)")
        #expect(approved.stdout.contains("the login is verified"))
        let status = try await portal.call(ChallengeVerificationAPI.getLoginStatus, LoginStatusRequest(loginID: pushLogin.loginID))
        #expect(status.state == "verified")
        let notMe = try await portal.call(ChallengeVerificationAPI.beginLogin,
                                          BeginLoginRequest(userName: "carol", password: "c4rol-pass", clientAddress: "127.0.0.1"))
        _ = try await portal.call(ChallengeVerificationAPI.sendPush, ChooseFactorRequest(
            loginID: notMe.loginID, factor: .ibKeyPush, deviceID: device.deviceID))
        let declined = try stack.device("decline", "--state", phone)
        #expect(declined.stdout.contains("the login is refused"), "\(declined.stderr)")

        // The same on Android, whose answers carry the PIN (CHL-03): the wrong PIN's answer is refused.
        var davePassword = false
        for _ in 0..<100 where !davePassword {
            try accounts.publish(AccountOpened(accountID: "D1", userName: "dave"))
            try await Task.sleep(for: .milliseconds(50))
            davePassword = (try? await portal.call(ChallengeVerificationAPI.setPassword,
                                                   SetPasswordRequest(userName: "dave", newPassword: "d4ve-pass"))) != nil
        }
        let davePNG = stack.dataDirectory.appendingPathComponent("dave.png").path
        var daveStarted = try stack.slsctl(as: "portal", "start-activation", "dave", "--png", davePNG)
        for _ in 0..<50 where daveStarted.status != 0 {
            usleep(50_000)
            daveStarted = try stack.slsctl(as: "portal", "start-activation", "dave", "--png", davePNG)
        }
        let android = stack.dataDirectory.appendingPathComponent("dave-phone.json").path
        let daveActivated = try stack.device("activate", "--state", android, "--qr", davePNG, "--platform", "android",
                                             "--pin", "7531")
        #expect(daveActivated.status == 0, "\(daveActivated.stderr)")
        var daveLogin: LoginStarted?
        for _ in 0..<100 where daveLogin?.factors.isEmpty != false {
            daveLogin = try await portal.call(ChallengeVerificationAPI.beginLogin,
                                              BeginLoginRequest(userName: "dave", password: "d4ve-pass"))
            if daveLogin?.factors.isEmpty != false { try await Task.sleep(for: .milliseconds(50)) }
        }
        let daveStart = try #require(daveLogin)
        let daveChallenge = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(
            loginID: daveStart.loginID, factor: .ibKeyChallenge, deviceID: try #require(daveStart.factors.first).deviceID))
        let daveResponse = try stack.device("respond", "--state", android, "--challenge", daveChallenge.challenge, "--pin", "7531")
        #expect(daveResponse.status == 0, "\(daveResponse.stderr)")
        let daveVerified = try await portal.call(ChallengeVerificationAPI.answerChallenge, AnswerChallengeRequest(
            loginID: daveStart.loginID, response: daveResponse.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(daveVerified.userName == "dave")

        // CHL-05: a DSC+ card. Enrollment seals its seed to challenge verification's key (fetched over
        // the bus) and the card's response logs carol in.
        let operations = try RPCClient(context: context, configuration: .init(
            endpoint: stack.endpoint(stack.ports.enrollment), caller: "operations",
            security: try stack.client("operations", of: "enrollment")))
        defer { operations.close() }
        let seedHex = "3132333435363738393031323334353637383930"
        _ = try await operations.call(EnrollmentAPI.importCards, ImportCardsRequest(
            inventory: Data("DSC0042,\(seedHex),OCRA-1:HOTP-SHA1-8:QN06\n".utf8)))
        var assigned = false
        for _ in 0..<100 where !assigned {
            try accounts.publish(AccountBalanceUpdated(accountID: "C1", totalEquity: "750000", cash: "1"))
            try await Task.sleep(for: .milliseconds(50))
            assigned = (try? await operations.call(EnrollmentAPI.assignCard,
                                                   AssignCardRequest(userName: "carol", cardSerial: "DSC0042"))) != nil
        }
        #expect(assigned)
        var cardLogin: LoginStarted?
        for _ in 0..<100 where cardLogin?.factors.contains(where: { $0.factor == .dscPlusCard }) != true {
            cardLogin = try await portal.call(ChallengeVerificationAPI.beginLogin,
                                              BeginLoginRequest(userName: "carol", password: "c4rol-pass"))
            try await Task.sleep(for: .milliseconds(30))
        }
        let cardStart = try #require(cardLogin)
        let cardChallenge = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(
            loginID: cardStart.loginID, factor: .dscPlusCard, deviceID: "DSC0042"))
        let cardResponse = try OCRA.response(suite: OCRASuite("OCRA-1:HOTP-SHA1-8:QN06"), key: Array("12345678901234567890".utf8),
                                             input: OCRAInput(question: cardChallenge.challenge))
        let cardVerified = try await portal.call(ChallengeVerificationAPI.answerChallenge,
                                                 AnswerChallengeRequest(loginID: cardStart.loginID, response: cardResponse))
        #expect(cardVerified.factor == .dscPlusCard)

        // A wrong password and an unknown user look the same from outside.
        let wrong = await #expect(throws: RPCError.self) {
            _ = try await portal.call(ChallengeVerificationAPI.beginLogin,
                                      BeginLoginRequest(userName: "carol", password: "wrong-pass1"))
        }
        #expect(wrong?.code == .unauthenticated)
    }
}

/// The rest of the login rules on the running stack: a push that never arrives, SMS with a resend
/// read off the bus as the SMS gateway, step-up, a locked factor, an address outside the list, and
/// the audit as operations sees it.
@Suite("challenge verification rules on the running stack", .serialized)
struct ChallengeRulesStackTests {
    @Test func testCHL04_CHL06_CHL09_CHL10_CHL11_CHL12_throughTheStack() async throws {
        let stack = try Stack()
        defer { stack.stopAll() }
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        try stack.startService("challenge-verification", port: stack.ports.challenge,
                               extra: ["--argon2-memory-kib", "1024", "--argon2-passes", "1"])
        #expect(try stack.waitUntilServing(["enrollment", "challenge-verification"]))
        let context = ZMQContext()
        let accounts = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                          producer: "accounts", security: try stack.client("accounts", of: "event-bus"))
        // The SMS gateway: the only identity that may read the codes.
        let gateway = try EventSubscriber(context: context, endpoint: stack.endpoint(stack.ports.subscribers),
                                          topics: [SmsCodeRequested.protoName],
                                          security: try stack.client("sms-gateway", of: "event-bus"), logger: .init(label: "sms"))
        defer { accounts.close(); gateway.close() }
        func client(_ identity: String) throws -> RPCClient {
            try RPCClient(context: context, configuration: .init(
                endpoint: stack.endpoint(stack.ports.challenge), caller: identity,
                security: try stack.client(identity, of: "challenge-verification")))
        }
        let portal = try client("portal"), operations = try client("operations")
        defer { portal.close(); operations.close() }

        var ready = false
        for _ in 0..<100 where !ready {
            try accounts.publish(AccountOpened(accountID: "E1", userName: "erin"))
            try accounts.publish(MobileNumberUpdated(accountID: "E1", mobileNumber: "+85298765432", verified: true))
            try await Task.sleep(for: .milliseconds(50))
            ready = (try? await portal.call(ChallengeVerificationAPI.setPassword,
                                            SetPasswordRequest(userName: "erin", newPassword: "er1n-pass"))) != nil
        }
        let png = stack.dataDirectory.appendingPathComponent("erin.png").path
        var started = try stack.slsctl(as: "portal", "start-activation", "erin", "--png", png)
        for _ in 0..<50 where started.status != 0 {
            usleep(50_000)
            started = try stack.slsctl(as: "portal", "start-activation", "erin", "--png", png)
        }
        let phone = stack.dataDirectory.appendingPathComponent("erin-phone.json").path
        #expect(try stack.device("activate", "--state", phone, "--qr", png, "--platform", "ios").status == 0)
        func begin(_ purpose: LoginPurpose = .login, from address: String = "127.0.0.1") async throws -> LoginStarted {
            var login: LoginStarted?
            for _ in 0..<100 where login?.factors.contains(where: { $0.factor == .ibKeyChallenge }) != true {
                login = try await portal.call(ChallengeVerificationAPI.beginLogin, BeginLoginRequest(
                    userName: "erin", password: "er1n-pass", clientAddress: address, purpose: purpose))
                if login?.factors.contains(where: { $0.factor == .ibKeyChallenge }) != true {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            return try #require(login)
        }
        let device = try #require(try await begin().factors.first { $0.factor == .ibKeyChallenge }).deviceID
        func respond(_ login: LoginStarted) async throws -> LoginVerified {
            let challenge = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(
                loginID: login.loginID, factor: .ibKeyChallenge, deviceID: device))
            let response = try stack.device("respond", "--state", phone, "--challenge", challenge.challenge)
            return try await portal.call(ChallengeVerificationAPI.answerChallenge, AnswerChallengeRequest(
                loginID: login.loginID, response: response.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        }

        // CHL-04: the push never reaches the phone; the user switches to challenge/response.
        let pushLogin = try await begin()
        _ = try await portal.call(ChallengeVerificationAPI.sendPush, ChooseFactorRequest(
            loginID: pushLogin.loginID, factor: .ibKeyPush, deviceID: device))
        #expect(try await respond(pushLogin).userName == "erin")

        // CHL-06: an SMS code, then a resend; only the latest works; the gateway reads them off the bus.
        let smsLogin = try await begin()
        var codes = gateway.events.makeAsyncIterator()
        _ = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(loginID: smsLogin.loginID, factor: .smsCode))
        let first = try #require(try await codes.next()?.decode(SmsCodeRequested.self))
        _ = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(loginID: smsLogin.loginID, factor: .smsCode))
        let second = try #require(try await codes.next()?.decode(SmsCodeRequested.self))
        // CHL-11: only the chosen factor fires: the push login sent no SMS, so the first code is this login's.
        #expect(first.loginID == smsLogin.loginID && second.loginID == smsLogin.loginID)
        #expect(first.mobileNumber == "+85298765432")
        if first.code != second.code {
            await #expect(throws: RPCError.self) {
                _ = try await portal.call(ChallengeVerificationAPI.answerChallenge,
                                          AnswerChallengeRequest(loginID: smsLogin.loginID, response: first.code))
            }
        }
        let bySMS = try await portal.call(ChallengeVerificationAPI.answerChallenge,
                                          AnswerChallengeRequest(loginID: smsLogin.loginID, response: second.code))
        #expect(bySMS.factor == .smsCode)

        // CHL-12: step-up asks for the password again, then a challenge.
        let stepUp = try await begin(.stepUp)
        #expect(stepUp.factors.map(\.factor) == [.ibKeyChallenge])
        #expect(try await respond(stepUp).purpose == .stepUp)

        // CHL-09: five wrong responses lock IB Key; the right one is then refused.
        let locked = try await begin()
        let lockedChallenge = try await portal.call(ChallengeVerificationAPI.chooseFactor, ChooseFactorRequest(
            loginID: locked.loginID, factor: .ibKeyChallenge, deviceID: device))
        for _ in 0..<5 {
            _ = try? await portal.call(ChallengeVerificationAPI.answerChallenge,
                                       AnswerChallengeRequest(loginID: locked.loginID, response: "00000000"))
        }
        let right = try stack.device("respond", "--state", phone, "--challenge", lockedChallenge.challenge)
        let refused = await #expect(throws: RPCError.self) {
            _ = try await portal.call(ChallengeVerificationAPI.answerChallenge, AnswerChallengeRequest(
                loginID: locked.loginID, response: right.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
        }
        #expect(refused?.ruleID == "CHL-09")

        // ACC-04, CHL-10: a login from an address outside the list is refused before any factor.
        _ = try await portal.call(ChallengeVerificationAPI.setIprestrictions, SetIPRestrictionsRequest(
            userName: "erin", enabled: true, allowed: ["198.51.100.0/24"]))
        let outside = await #expect(throws: RPCError.self) {
            _ = try await portal.call(ChallengeVerificationAPI.beginLogin, BeginLoginRequest(
                userName: "erin", password: "er1n-pass", clientAddress: "203.0.113.9"))
        }
        #expect(outside?.ruleID == "ACC-04")

        // ENR-08 the other way: gina joins erin's phone by user name, password and an SMS code.
        var ginaReady = false
        for _ in 0..<100 where !ginaReady {
            try accounts.publish(AccountOpened(accountID: "G1", userName: "gina"))
            try accounts.publish(MobileNumberUpdated(accountID: "G1", mobileNumber: "+85290001111", verified: true))
            try await Task.sleep(for: .milliseconds(50))
            ginaReady = (try? await portal.call(ChallengeVerificationAPI.setPassword,
                                                SetPasswordRequest(userName: "gina", newPassword: "g1na-pass"))) != nil
        }
        let wrongPassword = try stack.device("add-user-by-password", "--state", phone, "--user", "gina", "--password", "nope-1234")
        #expect(wrongPassword.status == 1)
        #expect(wrongPassword.stderr.contains("UNAUTHENTICATED"), "\(wrongPassword.stderr)")
        let asked = try stack.device("add-user-by-password", "--state", phone, "--user", "gina", "--password", "g1na-pass")
        #expect(asked.status == 0, "\(asked.stderr)")
        let ginaLogin = try #require(asked.stdout.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
        var ginaCode: SmsCodeRequested?
        while ginaCode?.loginID != ginaLogin, let event = await codes.next() { ginaCode = try event.decode(SmsCodeRequested.self) }
        #expect(ginaCode?.mobileNumber == "+85290001111")
        let joined = try stack.device("confirm-user", "--state", phone, "--login", ginaLogin, "--code", try #require(ginaCode).code)
        #expect(joined.status == 0, "\(joined.stderr)")
        #expect(try stack.device("users", "--state", phone).stdout.contains("gina"))

        // Every decision is in the audit, and the chain holds.
        let audit = try await operations.call(ChallengeVerificationAPI.listAudit, ListAuditRequest(userName: "erin"))
        #expect(audit.chainIntact)
        #expect(audit.entries.first?.ruleID == "ACC-04")
        #expect(audit.entries.contains { $0.outcome == "locked" })
        #expect(audit.entries.contains { $0.factor == "sms" && $0.outcome == "verified" })
    }
}
