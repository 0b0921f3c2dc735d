import SealingVault
import Crypto
import EnrollmentCore
import EnrollmentService
import Foundation
import Logging
import QRCode
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import ZeroMQ

/// enrollment: IB Key activations over the bus with 64 in flight (each a write transaction with
/// its outbox event), against the bare echo call in the same run; and QR code rendering.
enum EnrollmentBenchmarks {
    static func run() async throws {
        try renderQR()
        try await activationsOverTheBus()
    }

    static func renderQR() throws {
        let link = "https://ibkey.example.com/activate?s=K7QXM2WD9HZP4TNA"
        for _ in 0..<50 { _ = try QRCode(link).png(scale: 6) }
        let count = 500
        let start = monotonicNanoseconds()
        for _ in 0..<count { _ = try QRCode(link).png(scale: 6) }
        report("enrollment_qr_png_render", Double(monotonicNanoseconds() - start) / Double(count) / 1000, "us/code")
    }

    static func activationsOverTheBus() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-enrollment-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let context = ZMQContext()
        let database = try ServiceDatabase.open(dataDirectory: directory, name: "enrollment", logger: logger,
                                                migrations: EnrollmentService.registerMigrations)
        let publisher = try EventPublisher(context: context, endpoint: "tcp://127.0.0.1:9", producer: "enrollment")
        var settings = EnrollmentSettings()
        settings.attemptsPerCallerPerMinute = 10_000_000
        let service = EnrollmentService(database: database,
                                        outbox: OutboxRelay(database: database, publisher: publisher, logger: logger),
                                        settings: settings, activationLinkBase: "https://ibkey.example.com/activate?s=",
                                        vault: SealingVault(key: SymmetricKey(size: .bits256)),
                                        challenge: UnreachableChallenge(),
                                        logger: logger)
        let router = EventRouter()
        service.routeEvents(router)
        let server = try RPCServer(context: context, configuration: .init(endpoint: "tcp://127.0.0.1:*",
                                                                         serviceName: "enrollment"), logger: logger)
        service.register(on: server)
        server.register(BenchAPI.echo, synchronous: { _, _ in BusBenchmarks.reply })
        try server.start()
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench"))

        // Users and their strings, made before the clock starts.
        let count = 6_000
        let key = P256.Signing.PrivateKey().publicKey.x963Representation
        var strings: [String] = []
        strings.reserveCapacity(count)
        for index in 0..<count {
            _ = try await router.route(ReceivedEvent(AccountOpened(accountID: "A\(index)", userName: "user\(index)"),
                                                     producer: "accounts"), nowUnixMs: unixMilliseconds())
            strings.append(try await client.call(EnrollmentAPI.startActivation,
                                                 StartActivationRequest(userName: "user\(index)")).activationString)
        }
        let echo = try await BusBenchmarks.busThroughput(client: client, calls: 40_000, inFlight: 64)
        let issued = strings
        let start = monotonicNanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<64 {
                group.addTask {
                    for index in stride(from: worker, to: count, by: 64) {
                        _ = try await client.call(EnrollmentAPI.activate, ActivateRequest(
                            activationString: issued[index], platform: .ios, deviceID: "phone-\(index)",
                            devicePublicKey: key))
                    }
                }
            }
            try await group.waitForAll()
        }
        let rate = Double(count) / (Double(monotonicNanoseconds() - start) / 1e9)
        report("enrollment_activations_64", rate, "activations/s")
        report("enrollment_bus_echo_64", echo, "calls/s")
        ratio("enrollment_activations_vs_echo_64", rate / echo)
        client.close()
        await server.shutdown()
        publisher.close()
    }
}

/// The activation benchmark never reaches challenge verification.
struct UnreachableChallenge: ChallengeGateway {
    func agreementKey() async throws -> Data { throw RPCError(.unavailable, "not part of this benchmark") }
    func passwordThenSMS(userName: String, password: String) async throws -> (loginID: String, sentTo: String) {
        throw RPCError(.unavailable, "not part of this benchmark")
    }
    func confirm(loginID: String, code: String) async throws -> String { throw RPCError(.unavailable, "not part of this benchmark") }
}
