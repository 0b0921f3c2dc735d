import ChallengeVerificationCore
import PasswordHashing
import Foundation
import NetworkAddresses
import Crypto
import Testing

private let start = Date(timeIntervalSince1970: 1_800_000_000)

@Suite("Passwords (ACC-01, ACC-02)")
struct PasswordTests {
    @Test func testACC01_sixToFortyCharactersWithALetterAndADigit() {
        #expect(PasswordRules.problem(with: "abc123") == nil)
        #expect(PasswordRules.problem(with: String(repeating: "a1", count: 20)) == nil)
        #expect(PasswordRules.problem(with: "abc12")?.contains("6 to 40") == true)
        #expect(PasswordRules.problem(with: String(repeating: "a1", count: 20) + "b")?.contains("this one has 41") == true)
        #expect(PasswordRules.problem(with: "123456")?.contains("letter") == true)
        #expect(PasswordRules.problem(with: "abcdef")?.contains("digit") == true)
        #expect(PasswordRules.problem(with: "abc1234567")?.contains("abc1234567") != true)
    }

    @Test func testACC02_argon2idHashesVerifyAndAskForARehashWhenTheSettingsGrow() throws {
        let cheap = PasswordHasher(passes: 1, memoryBytes: 64 << 10)
        let encoded = try cheap.hash("correct horse 1")
        #expect(encoded.hasPrefix("$argon2id$"))
        #expect(!encoded.contains("correct horse 1"))
        #expect(cheap.verify("correct horse 1", against: encoded))
        #expect(!cheap.verify("correct horse 2", against: encoded))
        #expect(!cheap.verify("correct horse 1", against: "not a hash"))
        #expect(try cheap.hash("correct horse 1") != encoded)  // a fresh salt each time
        #expect(!cheap.needsRehash(encoded))
        #expect(PasswordHasher.owaspMinimum.needsRehash(encoded))
        #expect(PasswordHasher.owaspMinimum.isValid)
        #expect(!PasswordHasher(passes: 0, memoryBytes: 1).isValid)
    }
}

@Suite("Lockout (CHL-09)")
struct LockoutTests {
    let policy = LockoutPolicy()

    @Test func testCHL09_fourFailuresThenASuccessStartTheCountAgain() {
        var counter = FailureCounter()
        for _ in 0..<4 {
            let locked = counter.recordFailure(at: start, policy: policy)
            #expect(!locked)
        }
        counter.recordSuccess()
        for _ in 0..<4 {
            let locked = counter.recordFailure(at: start, policy: policy)
            #expect(!locked)
        }
        #expect(!counter.isLocked(at: start))
    }

    @Test func testCHL09_fiveFailuresLockForFifteenMinutes() {
        var counter = FailureCounter()
        for attempt in 1...5 {
            let locked = counter.recordFailure(at: start, policy: policy)
            #expect(locked == (attempt == 5))
        }
        #expect(counter.isLocked(at: start))
        #expect(counter.isLocked(at: start.addingTimeInterval(14 * 60 + 59)))
        #expect(!counter.isLocked(at: start.addingTimeInterval(15 * 60)))
    }

    @Test func testCHL09_repeatedLocksBecomePermanentWhenConfigured() {
        var policy = LockoutPolicy()
        policy.permanentAfterLocks = 2
        var counter = FailureCounter()
        for _ in 0..<5 { counter.recordFailure(at: start, policy: policy) }
        let later = start.addingTimeInterval(16 * 60)
        #expect(!counter.isLocked(at: later))
        for _ in 0..<5 { counter.recordFailure(at: later, policy: policy) }
        #expect(counter.isLocked(at: later.addingTimeInterval(86_400 * 365)))
        counter.unlock()
        #expect(!counter.isLocked(at: later))
    }
}

@Suite("Challenges (CHL-08)")
struct ChallengeTests {
    @Test func testCHL08_aChallengeLivesThreeMinutesACodeFive() {
        let settings = ChallengeSettings()
        let challenge = PendingChallenge(loginID: "L1", kind: .challengeResponse, issuedAt: start)
        #expect(ChallengeRules.refusal(challenge, loginID: "L1", now: start.addingTimeInterval(179), settings: settings) == nil)
        #expect(ChallengeRules.refusal(challenge, loginID: "L1", now: start.addingTimeInterval(180), settings: settings) == .expired)
        let sms = PendingChallenge(loginID: "L1", kind: .sms, issuedAt: start)
        #expect(ChallengeRules.refusal(sms, loginID: "L1", now: start.addingTimeInterval(299), settings: settings) == nil)
        #expect(ChallengeRules.refusal(sms, loginID: "L1", now: start.addingTimeInterval(300), settings: settings) == .expired)
    }

    @Test func testCHL08_boundToItsLoginAndUsableOnce() {
        var challenge = PendingChallenge(loginID: "L1", kind: .challengeResponse, issuedAt: start)
        #expect(ChallengeRules.refusal(challenge, loginID: "L2", now: start, settings: ChallengeSettings()) == .otherLogin)
        challenge.answeredAt = start
        #expect(ChallengeRules.refusal(challenge, loginID: "L1", now: start, settings: ChallengeSettings()) == .alreadyAnswered)
        var replaced = PendingChallenge(loginID: "L1", kind: .sms, issuedAt: start)
        replaced.replacedAt = start
        #expect(ChallengeRules.refusal(replaced, loginID: "L1", now: start, settings: ChallengeSettings())?.ruleID == "CHL-06")
    }

    @Test func codesAreDigitsOfTheAskedLength() {
        let code = ChallengeRules.numericCode(digits: 6)
        #expect(code.count == 6 && code.allSatisfy(\.isNumber))
        #expect(Set((0..<50).map { _ in ChallengeRules.numericCode(digits: 6) }).count > 40)
    }
}

@Suite("IP restrictions (ACC-04)")
struct IPAllowlistTests {
    @Test func testACC04_singleAddressesAndRangesOfBothFamilies() throws {
        let list = try IPAllowlist(["203.0.113.7", "198.51.100.0/24", "2001:db8::/32"])
        #expect(list.allows("203.0.113.7"))
        #expect(!list.allows("203.0.113.8"))
        #expect(list.allows("198.51.100.255"))
        #expect(!list.allows("198.51.101.0"))
        #expect(list.allows("2001:db8:ffff::1"))
        #expect(!list.allows("2001:db9::1"))
        #expect(list.allows("::ffff:203.0.113.7"))
        #expect(!list.allows("not an address"))
        #expect(!list.allows(""))
    }

    @Test func testACC04_badEntriesAreNamed() {
        for (entry, expected) in [("300.1.1.1", IPAllowlistError.notAnAddress("300.1.1.1")),
                                  ("10.0.0.0/33", .badPrefix("10.0.0.0/33")),
                                  ("10.0.0.1/8", .hostBitsSet("10.0.0.1/8")),
                                  ("2001:db8::/129", .badPrefix("2001:db8::/129"))] {
            #expect(throws: expected) { _ = try IPAllowlist([entry]) }
        }
        #expect(throws: IPAllowlistError.tooMany(limit: 100)) { _ = try IPAllowlist(Array(repeating: "10.0.0.1", count: 101)) }
    }
}

@Suite("The audit chain")
struct AuditChainTests {
    @Test func anyChangedOrRemovedRecordBreaksTheChain() {
        var chain: [(record: AuditRecord, hash: [UInt8])] = []
        var previous = AuditChain.genesis
        for index in 0..<5 {
            let record = AuditRecord(userName: "alice", atUnixMs: Int64(index), address: "203.0.113.7", factor: "ibKey",
                                     outcome: index == 2 ? "refused" : "verified", ruleID: index == 2 ? "CHL-09" : "")
            previous = AuditChain.hash(record, after: previous)
            chain.append((record, previous))
        }
        #expect(AuditChain.firstBreak(chain) == nil)
        var edited = chain
        edited[2].record.outcome = "verified"
        #expect(AuditChain.firstBreak(edited) == 2)
        var removed = chain
        removed.remove(at: 1)
        #expect(AuditChain.firstBreak(removed) == 1)
    }
}

@Suite("The OCRA key agreed between phone and server")
struct OCRAKeyAgreementTests {
    @Test func testCHL03_phoneAndServerDeriveTheSameKeyAndTheResponseChecks() throws {
        let phone = P256.KeyAgreement.PrivateKey(), server = P256.KeyAgreement.PrivateKey()
        let onPhone = try OCRAKeyAgreement.key(privateKey: phone, peerPublicKey: server.publicKey.x963Representation,
                                               deviceID: "pixel-1")
        let onServer = try OCRAKeyAgreement.key(privateKey: server, peerPublicKey: phone.publicKey.x963Representation,
                                                deviceID: "pixel-1")
        #expect(onPhone == onServer && onPhone.count == 32)
        // Another device id, another key.
        #expect(try OCRAKeyAgreement.key(privateKey: server, peerPublicKey: phone.publicKey.x963Representation,
                                         deviceID: "pixel-2") != onServer)
        let suite = try OCRASuite(OCRAKeyAgreement.suite(android: true))
        let response = try OCRA.response(suite: suite, key: onPhone, input: OCRAInput(question: "123456", pin: "2468"))
        #expect(response.count == 8)
        #expect(try OCRA.verify(response, suite: suite, key: onServer, input: OCRAInput(question: "123456", pin: "2468")))
        #expect(try !OCRA.verify(response, suite: suite, key: onServer, input: OCRAInput(question: "123456", pin: "2469")))
        #expect(throws: OCRAKeyError.badPublicKey) {
            _ = try OCRAKeyAgreement.key(privateKey: server, peerPublicKey: Data(repeating: 4, count: 65), deviceID: "x")
        }
    }
}

@Suite("OCRA suites from events are bounded")
struct OCRASuiteBoundsTests {
    @Test("CHL-05: a time step past RFC 6287's bounds is refused instead of overflowing")
    func timeStepBounds() throws {
        #expect(throws: OCRAError.self) { _ = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08-T999999999999999999H") }
        #expect(throws: OCRAError.self) { _ = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08-T49H") }
        #expect(throws: OCRAError.self) { _ = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08-T60S") }
        _ = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08-T48H")
        _ = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08-T1M")
    }
}
