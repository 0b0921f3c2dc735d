import CryptoRulesCore
import CryptoRulesService
import Foundation
import Logging
import SLSBus
import SLSMessages
import SLSRuntime
import SLSStorage
import ZeroMQ

/// The crypto rules: the check alone in-process, and CheckOrder over the bus against the
/// bus's bare unary call, both with 64 calls in flight, in the same run.
enum CryptoBenchmarks {
    static func run() async throws {
        try checkInProcess()
        try await checkOverTheBus()
    }

    static func checkInProcess() throws {
        let engine = PreTradeRiskEngine(settings: CryptoSettings())
        let now = Date()
        let profile = InvestorProfile(hongKongResident: true, professionalInvestor: true, investorType: .individual,
                                      assetsHKD: 9_000_000, mobileVerified: true)
        let account = AccountSnapshot(profile: profile, permissionGranted: true, totalEquity: 1_000_000,
                                      cash: 100_000, positions: [.btc: Amount("0.5")!])
        let mark = MarkPrice(price: 50_000, asOf: now)
        let intents = [
            OrderIntent(asset: .btc, side: .buy, type: .market, cashValue: 1_000, timeInForce: .ioc),
            OrderIntent(asset: .btc, side: .buy, type: .limit, cashValue: 1_000, limitPrice: 30_000, timeInForce: .minutes),
            OrderIntent(asset: .btc, side: .sell, type: .limit, quantity: Amount("0.1")!, limitPrice: 60_000,
                        timeInForce: .gtc),
        ]
        var accepted = 0
        let iterations = 300_000
        for index in 0..<10_000 { _ = engine.evaluate(intents[index % 3], account: account, mark: mark, now: now) }
        let start = monotonicNanoseconds()
        for index in 0..<iterations {
            if case .success = engine.evaluate(intents[index % 3], account: account, mark: mark, now: now) { accepted += 1 }
        }
        let perCheck = Double(monotonicNanoseconds() - start) / Double(iterations)
        precondition(accepted == iterations, "every benchmark order must pass all checks")
        report("crypto_check_in_process", perCheck, "ns/check")
    }

    /// - Parameter profileCalls: instead of the rounds, make this many CheckOrder calls and report
    ///   nothing else (`sls-bench check-throughput N`, for callgrind).
    static func checkOverTheBus(profileCalls: Int? = nil) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("bench-crypto-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let context = ZMQContext()
        let database = try ServiceDatabase.open(dataDirectory: directory, name: "crypto-rules", logger: logger,
                                                migrations: CryptoRulesService.registerMigrations)
        let publisher = try EventPublisher(context: context, endpoint: "tcp://127.0.0.1:9", producer: "crypto-rules")
        let service = try CryptoRulesService(database: database,
                                             outbox: OutboxRelay(database: database, publisher: publisher, logger: logger),
                                             settings: CryptoSettings(), logger: logger)
        let router = EventRouter()
        service.routeEvents(router)
        _ = try await router.route(ReceivedEvent(AccountProfileUpdated(
            accountID: "B1", hongKongResident: true, professionalInvestor: true, investorType: .individual,
            assetsHkd: "9000000"), producer: "bench"))
        _ = try await router.route(ReceivedEvent(MobileNumberUpdated(accountID: "B1", verified: true), producer: "bench"))
        _ = try await router.route(ReceivedEvent(AccountBalanceUpdated(accountID: "B1", totalEquity: "1000000",
                                                                       cash: "100000"), producer: "bench"))
        _ = try await router.route(ReceivedEvent(MarkPriceUpdated(asset: .btc, price: "50000"), producer: "bench"))

        let server = try RPCServer(context: context, configuration: .init(endpoint: "tcp://127.0.0.1:*",
                                                                         serviceName: "crypto-rules"), logger: logger)
        server.register(BenchAPI.echo, synchronous: { _, _ in BusBenchmarks.reply })
        service.register(on: server)
        try server.start()
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "bench"))
        _ = try await client.call(CryptoRulesAPI.requestPermission, PermissionRequest(accountID: "B1"))
        let request = OrderRequest(accountID: "B1", asset: .btc, side: .buy, type: .market, cashValue: "1000",
                                   timeInForce: .ioc)
        let verdict = try await client.call(CryptoRulesAPI.checkOrder, request)
        precondition(verdict.accepted, "benchmark order refused: \(verdict.reason)")

        if let profileCalls {
            report("crypto_check_order_throughput_bus_64",
                   try await throughput(client: client, request: request, calls: profileCalls, inFlight: 64), "calls/s")
            client.close()
            await server.shutdown()
            publisher.close()
            return
        }
        // Short alternating rounds; the ratio of each round compares neighbours in time, so
        // the machine's slow swings cancel out. The median of the per-round ratios is reported.
        var echoRates: [Double] = [], checkRates: [Double] = [], ratios: [Double] = []
        for _ in 0..<9 {
            let echo = try await BusBenchmarks.busThroughput(client: client, calls: 20_000, inFlight: 64)
            let check = try await throughput(client: client, request: request, calls: 20_000, inFlight: 64)
            echoRates.append(echo)
            checkRates.append(check)
            ratios.append(check / echo)
        }
        report("unary_throughput_bus_echo_64", median(echoRates), "calls/s")
        report("crypto_check_order_throughput_bus_64", median(checkRates), "calls/s")
        ratio("crypto_check_order_vs_unary_64", median(ratios))
        client.close()
        await server.shutdown()
        publisher.close()
    }

    static func throughput(client: RPCClient, request: OrderRequest, calls: Int, inFlight: Int) async throws -> Double {
        let start = monotonicNanoseconds()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for worker in 0..<inFlight {
                let share = calls / inFlight + (worker < calls % inFlight ? 1 : 0)
                group.addTask {
                    for _ in 0..<share { _ = try await client.call(CryptoRulesAPI.checkOrder, request) }
                }
            }
            try await group.waitForAll()
        }
        return Double(calls) / (Double(monotonicNanoseconds() - start) / 1e9)
    }
}
