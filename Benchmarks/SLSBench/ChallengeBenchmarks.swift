import ChallengeVerificationCore
import PasswordHashing
import Foundation

/// challenge-verification's Core: OCRA verification in process, and Argon2id hashes per second at
/// OWASP's minimum (the figure logins per second will be held against).
enum ChallengeBenchmarks {
    static func run() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA256-8:QN06-PSHA1")
        let key = Array(repeating: UInt8(0x31), count: 32)
        let input = OCRAInput(question: "123456", pin: "1234")
        let response = try OCRA.response(suite: suite, key: key, input: input)
        let count = 100_000
        for _ in 0..<5_000 { _ = try OCRA.verify(response, suite: suite, key: key, input: input) }
        var start = monotonicNanoseconds()
        var verified = 0
        for _ in 0..<count where try OCRA.verify(response, suite: suite, key: key, input: input) { verified += 1 }
        precondition(verified == count)
        report("challenge_ocra_verify_in_process", Double(monotonicNanoseconds() - start) / Double(count) / 1000, "us/verify")

        let hasher = PasswordHasher.owaspMinimum
        _ = try hasher.hash("warm-up 1")
        let hashes = 20
        start = monotonicNanoseconds()
        for index in 0..<hashes { _ = try hasher.hash("password \(index)") }
        report("challenge_argon2id_owasp_minimum", Double(hashes) / (Double(monotonicNanoseconds() - start) / 1e9),
               "hashes/s (one core)")
    }
}
