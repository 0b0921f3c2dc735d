import Foundation
import Logging
import SLSBus
import SLSMessages
import Synchronization
import Testing
import ZeroMQ
import SLSTesting

/// The event bus and crypto-rules with bus security on, and the parties around them, each with
/// its own key: the account service and the venue gateway publish, the portal and operations call.
final class CryptoStack: @unchecked Sendable {
    let stack: Stack
    let context = ZMQContext()
    /// Publishes account events as `accounts`.
    let publisher: EventPublisher
    /// Publishes prices, fills and closes as `venue-gateway`.
    let venue: EventPublisher
    /// Calls crypto-rules as `portal`.
    let client: RPCClient
    /// Calls crypto-rules as `operations` (custody fees, replay).
    let operations: RPCClient

    init(extra: [String] = []) throws {
        stack = try Stack()
        try stack.startEventBus()
        try stack.startService("crypto-rules", port: stack.ports.crypto, extra: extra)
        publisher = try Self.publisher(of: "accounts", in: stack, context: context)
        venue = try Self.publisher(of: "venue-gateway", in: stack, context: context)
        client = try Self.client(of: "portal", in: stack, context: context)
        operations = try Self.client(of: "operations", in: stack, context: context)
    }

    static func publisher(of identity: String, producer: String? = nil, in stack: Stack,
                          context: ZMQContext) throws -> EventPublisher {
        try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                           producer: producer ?? identity,
                           security: try stack.client(identity, of: ServiceCatalog.eventBus.name))
    }

    static func client(of identity: String, in stack: Stack, context: ZMQContext) throws -> RPCClient {
        try RPCClient(context: context, configuration: .init(
            endpoint: stack.endpoint(stack.ports.crypto), caller: identity, defaultTimeout: .seconds(5),
            security: try stack.client(identity, of: ServiceCatalog.cryptoRules.name)))
    }

    /// Publishes the account's profile, balances and a BTC price until the service has
    /// them (PUB/SUB joins take a moment), then grants the permission.
    func prepareAccount(_ id: String, cash: String, equity: String) async throws {
        var ready = false
        for _ in 0..<100 where !ready {
            try publisher.publish(AccountProfileUpdated(accountID: id, hongKongResident: true,
                                                        professionalInvestor: true, investorType: .individual,
                                                        assetsHkd: "9000000"))
            try publisher.publish(MobileNumberUpdated(accountID: id, mobileNumber: "+85291234567", verified: true))
            try publisher.publish(AccountBalanceUpdated(accountID: id, totalEquity: equity, cash: cash))
            try venue.publish(MarkPriceUpdated(asset: .btc, price: "50000"))
            try await Task.sleep(for: .milliseconds(100))
            let state = try? await client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: id))
            ready = state?.totalEquity == equity && state?.mobileVerified == true
        }
        try #require(ready)
        let permission = try await client.call(CryptoRulesAPI.requestPermission, PermissionRequest(accountID: id))
        try #require(permission.granted)
    }

    func close() {
        client.close()
        operations.close()
        publisher.close()
        venue.close()
        stack.stopAll()
    }
}

/// Order ids acknowledged by the service, collected from many tasks.
final class Acknowledged: Sendable {
    private let ids = Mutex<[String]>([])
    func append(_ id: String) { ids.withLock { $0.append(id) } }
    var all: [String] { ids.withLock { $0 } }
}

@Suite("crypto-rules as a running service", .serialized)
struct CryptoRulesStackTests {
    @Test func testACC05_CRY12_accountDataArrivesAsEventsAndFillsSettleThroughTheBus() async throws {
        let crypto = try CryptoStack()
        defer { crypto.close() }
        #expect(try crypto.stack.waitUntilServing(["crypto-rules"]))
        // As operations, which may read every crypto event the service publishes.
        let subscriber = try EventSubscriber(context: crypto.context,
                                             endpoint: crypto.stack.endpoint(crypto.stack.ports.subscribers),
                                             topics: [OrderAccepted.protoName, OrderSettled.protoName],
                                             security: try crypto.stack.client("operations", of: "event-bus"),
                                             logger: Logger(label: "e2e"))
        defer { subscriber.close() }
        try await crypto.prepareAccount("E1", cash: "100000", equity: "1000000")

        let order = try await crypto.client.call(CryptoRulesAPI.placeOrder, OrderRequest(
            accountID: "E1", asset: .btc, side: .buy, type: .limit, cashValue: "1000", limitPrice: "30000",
            timeInForce: .minutes))
        #expect(order.status == .open)
        #expect(order.quantity == "0.03333333")
        try crypto.venue.publish(VenueOrderFilled(orderID: order.orderID, fillID: "X1", quantity: "0.03333333",
                                                      price: "30000"))
        var types: [String] = []
        var iterator = subscriber.events.makeAsyncIterator()
        while types.count < 2, let event = await iterator.next() {
            types.append(event.header.type)
            if let accepted = try event.decode(OrderAccepted.self) {
                #expect(accepted.order?.quantity == "0.03333333")
            }
        }
        #expect(types == [OrderAccepted.protoName, OrderSettled.protoName])

        // The outbox can be replayed: events come again with their sequence, seen as repeats.
        let replay = try await crypto.operations.call(EventLogAPI.replay, ReplayRequest(fromSequence: 1))
        #expect(replay.republished >= 3)  // PermissionDecided, OrderAccepted, OrderSettled
        var repeated: ReceivedEvent?
        while repeated == nil, let event = await iterator.next() {
            if event.header.type == OrderAccepted.protoName { repeated = event }
        }
        #expect(repeated?.isDuplicate == true)
        #expect(repeated?.header.eventID.hasPrefix("crypto-rules/") == true)
        let state = try await crypto.client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: "E1"))
        #expect(state.positions.first?.quantity == "0.03333333")
        #expect(state.openOrders.isEmpty)
        #expect(state.monthVolume == "999.9999")
    }

    @Test func testCRY07_weekendBuyIsRefusedThroughSlsctl() async throws {
        // Shift the service's clock to the coming Saturday, noon New York time.
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/New_York")!
        let saturday = calendar.nextDate(after: Date(), matching: DateComponents(hour: 12, weekday: 7),
                                         matchingPolicy: .nextTime)!
        let crypto = try CryptoStack(extra: ["--clock-offset-seconds", "\(Int(saturday.timeIntervalSinceNow))"])
        defer { crypto.close() }
        #expect(try crypto.stack.waitUntilServing(["crypto-rules"]))
        try await crypto.prepareAccount("E2", cash: "100000", equity: "1000000")
        let buy = #"{"accountId":"E2","asset":"BTC","side":"BUY","type":"MARKET","cashValue":"100","timeInForce":"IOC"}"#
        let dry = try crypto.stack.slsctl(as: "portal", "call", "crypto-rules", "CheckOrder", buy)
        #expect(dry.status == 0)
        #expect(dry.stdout.contains(#""ruleId" : "CRY-07""#))
        let placed = try crypto.stack.slsctl(as: "portal", "call", "crypto-rules", "PlaceOrder", buy)
        #expect(placed.status == 1)
        #expect(placed.stderr.contains("ERROR FAILED_PRECONDITION [CRY-07]"))
        let transfer = try crypto.stack.slsctl(as: "portal", "call", "crypto-rules", "RequestTransfer",
                                               #"{"accountId":"E2","asset":"BTC","quantity":"1","direction":"withdrawal"}"#)
        #expect(transfer.stderr.contains("[CRY-13]"))
    }

    @Test func acknowledgedOrdersSurviveKillNineDuringLoad() async throws {
        // Far more open orders than the default limit of one account, to keep the load going.
        let crypto = try CryptoStack(extra: ["--max-open-orders", "5000"])
        defer { crypto.close() }
        #expect(try crypto.stack.waitUntilServing(["crypto-rules"]))
        try await crypto.prepareAccount("E3", cash: "1000000", equity: "10000000")

        let acknowledged = Acknowledged()
        let client = crypto.client
        let load = Task {
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<8 {
                    group.addTask {
                        for index in 0..<400 {
                            let request = OrderRequest(accountID: "E3", asset: .btc, side: .buy, type: .limit,
                                                       quantity: "0.001", limitPrice: "50000", timeInForce: .minutes,
                                                       clientOrderID: "w\(worker)-\(index)")
                            guard let order = try? await client.call(CryptoRulesAPI.placeOrder, request,
                                                                     options: CallOptions(timeout: .seconds(1))) else { return }
                            acknowledged.append(order.orderID)
                        }
                    }
                }
            }
        }
        // Let the load run, then kill the service without warning.
        for _ in 0..<100 where acknowledged.all.count < 150 { try await Task.sleep(for: .milliseconds(20)) }
        crypto.stack.stop("sls-crypto-rules", signal: SIGKILL)
        await load.value
        let acked = Set(acknowledged.all)
        #expect(acked.count >= 150)

        try crypto.stack.startService("crypto-rules", port: crypto.stack.ports.crypto, extra: ["--max-open-orders", "5000"])
        #expect(try crypto.stack.waitUntilServing(["crypto-rules"]))
        let state = try await crypto.client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: "E3"))
        let open = Set(state.openOrders.map(\.orderID))
        #expect(acked.isSubset(of: open), "\(acked.subtracting(open).count) acknowledged orders were lost")
        // The reservations still add up: available = cash - the open orders' reserved cash.
        let reserved = state.openOrders.reduce(Decimal(0)) { $0 + Decimal(string: $1.reservedCash)! }
        #expect(Decimal(string: state.availableCash)! == Decimal(string: state.cash)! - reserved)
        #expect(reserved == Decimal(open.count) * Decimal(string: "52.25")!)
    }
}
