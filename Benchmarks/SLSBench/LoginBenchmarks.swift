import ChallengeVerificationCore
import ChallengeVerificationService
import Crypto
import Dispatch
import Foundation
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import Synchronization
import ZeroMQ

/// challenge-verification over the bus with real Argon2id (OWASP minimum): a full login's latency
/// (password, then push approval), logins per second with 16 in flight against Argon2id hashes per
/// second on the same cores in the same run, and the memory 200 logins in flight hold.
enum LoginBenchmarks {
    static func run() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-login-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let context = ZMQContext()
        let database = try ServiceDatabase.open(dataDirectory: directory, name: "challenge", logger: logger,
                                                migrations: ChallengeVerificationService.registerMigrations)
        let publisher = try EventPublisher(context: context, endpoint: "tcp://127.0.0.1:9", producer: "challenge-verification")
        let cores = ProcessInfo.processInfo.activeProcessorCount
        var settings = ChallengeVerificationService.Settings()
        settings.hashingWidth = cores
        let service = try ChallengeVerificationService(database: database,
                                                       outbox: OutboxRelay(database: database, publisher: publisher, logger: logger),
                                                       settings: settings, agreementKey: P256.KeyAgreement.PrivateKey(), logger: logger)
        let router = EventRouter()
        service.routeEvents(router)
        let server = try RPCServer(context: context, configuration: .init(endpoint: "tcp://127.0.0.1:*",
                                                                         serviceName: "challenge-verification"), logger: logger)
        service.register(on: server)
        try server.start()
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench",
                                                                          defaultTimeout: .seconds(60)))
        let signing = P256.Signing.PrivateKey()
        let users = 50
        for index in 0..<users {
            _ = try await router.route(ReceivedEvent(AccountOpened(accountID: "L\(index)", userName: "user\(index)"),
                                                     producer: "accounts"), nowUnixMs: unixMilliseconds())
            _ = try await router.route(ReceivedEvent(FactorActivated(
                userName: "user\(index)", kind: .ibKey, deviceID: "phone-\(index)", platform: .ios,
                devicePublicKey: signing.publicKey.x963Representation, pushToken: "push",
                deviceAgreementKey: P256.KeyAgreement.PrivateKey().publicKey.x963Representation), producer: "enrollment"),
                nowUnixMs: unixMilliseconds())
            _ = try await client.call(ChallengeVerificationAPI.setPassword,
                                      SetPasswordRequest(userName: "user\(index)", newPassword: "passw0rd-\(index)"))
        }

        // (a) A full login, one at a time: password, push, the phone's signed approval.
        var latencies: [UInt64] = []
        for round in 0..<30 {
            let user = round % users
            let start = monotonicNanoseconds()
            let login = try await client.call(ChallengeVerificationAPI.beginLogin,
                                              BeginLoginRequest(userName: "user\(user)", password: "passw0rd-\(user)"))
            let push = try await client.call(ChallengeVerificationAPI.sendPush, ChooseFactorRequest(
                loginID: login.loginID, factor: .ibKeyPush, deviceID: "phone-\(user)"))
            let signed = unixMilliseconds()
            let message = PushRules.answerMessage(loginID: login.loginID, deviceID: "phone-\(user)", approve: true,
                                                  number: push.number, signedUnixMs: signed)
            let reply = try await client.call(ChallengeVerificationAPI.answerPush, AnswerPushRequest(
                loginID: login.loginID, deviceID: "phone-\(user)", approve: true, number: push.number, signedUnixMs: signed,
                signature: try signing.signature(for: message).rawRepresentation))
            precondition(reply.outcome == "verified")
            latencies.append(monotonicNanoseconds() - start)
        }
        report("challenge_full_login_push_p50", percentile(latencies, 0.5) / 1e6, "ms")

        // (b) Argon2id hashes per second on every core, then logins per second with 16 in flight.
        let hasher = settings.hasher
        let encoded = try hasher.hash("passw0rd-0")
        let hashesPerCore = 12
        var start = monotonicNanoseconds()
        DispatchQueue.concurrentPerform(iterations: cores) { _ in
            for _ in 0..<hashesPerCore { _ = hasher.verify("passw0rd-0", against: encoded) }
        }
        let hashRate = Double(cores * hashesPerCore) / (Double(monotonicNanoseconds() - start) / 1e9)
        let logins = 160
        start = monotonicNanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<16 {
                group.addTask {
                    for index in stride(from: worker, to: logins, by: 16) {
                        let user = index % users
                        _ = try await client.call(ChallengeVerificationAPI.beginLogin,
                                                  BeginLoginRequest(userName: "user\(user)", password: "passw0rd-\(user)"))
                    }
                }
            }
            try await group.waitForAll()
        }
        let loginRate = Double(logins) / (Double(monotonicNanoseconds() - start) / 1e9)
        report("challenge_argon2id_hashes_all_cores", hashRate, "hashes/s")
        report("challenge_logins_16", loginRate, "logins/s")
        ratio("challenge_logins_vs_hashes_16", loginRate / hashRate)

        // (c) Memory with 200 logins in flight: hashing is bounded to the cores.
        let before = residentMegabytes()
        let peak = Mutex(before)
        let sampler = Task {
            while !Task.isCancelled {
                let now = residentMegabytes()
                peak.withLock { $0 = max($0, now) }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<200 {
                let user = index % users
                group.addTask {
                    _ = try await client.call(ChallengeVerificationAPI.beginLogin,
                                              BeginLoginRequest(userName: "user\(user)", password: "passw0rd-\(user)"))
                }
            }
            try await group.waitForAll()
        }
        sampler.cancel()
        report("challenge_rss_before_200_logins", before, "MB")
        report("challenge_rss_peak_200_logins_in_flight", peak.withLock { $0 }, "MB")
        client.close()
        await server.shutdown()
        publisher.close()
    }

    /// Resident memory now (VmRSS), in megabytes.
    static func residentMegabytes() -> Double {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmRSS:") {
            return (line.split(separator: " ").compactMap { Double($0) }.first ?? 0) / 1024
        }
        return 0
    }
}
