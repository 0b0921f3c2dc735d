import Foundation
import Logging
import SLSBus
import SLSMessages
import SLSTesting
import Synchronization
import Testing
import ZeroMQ

/// The policy of these tests: `caller` may echo, `reader` may not; `accounts` publishes
/// account events, which `reader` may read and `outsider` may not.
private let testPolicy = """
    methods:
      sls.health.v1.Health/Check: ["*"]
      sls.bench.v1.Bench/Echo: [caller]
    publish:
      sls.accounts.v1.*: [accounts]
    subscribe:
      sls.accounts.v1.*: [reader]
      sls.crypto.v1.MarkPriceUpdated: [outsider]
    """

private func makeKeyring() throws -> TestKeyring {
    try TestKeyring(identities: ["server", "event-bus", "caller", "reader", "accounts", "outsider"], policy: testPolicy)
}

@Suite("CurveZMQ: who may connect and call", .serialized)
struct RPCSecurityTests {
    @Test func aClientWithoutAKeyIsRefusedAndToldTheServiceRequiresCurve() async throws {
        let keys = try makeKeyring()
        let fixture = try BusFixture(secured: (keys, "server"))
        defer { Task { await fixture.server.shutdown(grace: .zero) } }
        let client = try fixture.client()
        defer { client.close() }
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest())
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("the service requires CurveZMQ") == true)
    }

    @Test func aClientWithAnUnknownKeyIsRefusedByTheZAPHandler() async throws {
        let keys = try makeKeyring()
        let fixture = try BusFixture(secured: (keys, "server"))
        defer { Task { await fixture.server.shutdown(grace: .zero) } }
        // A key pair the server has never seen, presenting the right server key.
        let stranger = CurveClient(keyPair: try CurveKeyPair.generate(),
                                   serverKey: try keys.security(of: "server").keyPair.publicKey, serverName: "server")
        let client = try fixture.client(security: stranger)
        defer { client.close() }
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest())
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("refused this client's key") == true)
        #expect(fixture.server.requestsServed == 0)
    }

    @Test func aClientExpectingAnotherServerKeyCannotConnect() async throws {
        let keys = try makeKeyring()
        let fixture = try BusFixture(secured: (keys, "server"))
        defer { Task { await fixture.server.shutdown(grace: .zero) } }
        // The caller's own key, but the public key of another server: the handshake cannot succeed.
        let confused = try keys.client("caller", of: "reader")
        let client = try fixture.client(security: confused)
        defer { client.close() }
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest())
        }
        #expect(error?.code == .unauthenticated)
        #expect(fixture.server.requestsServed == 0)
    }

    @Test func anAdmittedIdentityMayCallOnlyWhatThePolicyAllowsAndIsKnownByItsKeyNotItsHeader() async throws {
        let keys = try makeKeyring()
        let seenCaller = Mutex("")
        let fixture = try BusFixture(secured: (keys, "server"), register: { server in
            server.register(BenchAPI.echo) { request, context in
                seenCaller.withLock { $0 = context.caller + (context.isAuthenticated ? " (authenticated)" : "") }
                return EchoReply(payload: request.payload)
            }
        })
        defer { Task { await fixture.server.shutdown(grace: .zero) } }

        // `caller` claims to be someone else in its header: the server knows better.
        let caller = try fixture.client(caller: "operations", security: try keys.client("caller", of: "server"))
        defer { caller.close() }
        let reply = try await caller.call(BenchAPI.echo, EchoRequest(payload: Data([1, 2, 3])))
        #expect(reply.payload == Data([1, 2, 3]))
        #expect(seenCaller.withLock { $0 } == "caller (authenticated)")

        // `reader` is admitted (health checks are for everyone) but may not echo.
        let reader = try fixture.client(caller: "caller", security: try keys.client("reader", of: "server"))
        defer { reader.close() }
        #expect(try await reader.call(HealthAPI.check, HealthCheckRequest()).status == .serving)
        let denied = await #expect(throws: RPCError.self) {
            _ = try await reader.call(BenchAPI.echo, EchoRequest(payload: Data([9])))
        }
        #expect(denied?.code == .permissionDenied)
        #expect(denied?.message.contains("'reader' may not call sls.bench.v1.Bench/Echo") == true)
        #expect(fixture.server.refusals.denied == 1)
        #expect(seenCaller.withLock { $0 } == "caller (authenticated)")
    }
}

@Suite("Key files and the policy file")
struct KeyAndPolicyFileTests {
    @Test func aKeyFileReadableByOthersIsRefusedAndTheMessageSaysHowToFixIt() throws {
        let keys = try makeKeyring()
        let path = keys.keyFile(of: "caller")
        #expect(throws: Never.self) { _ = try keys.security(of: "caller") }
        chmod(path, 0o644)
        let error = #expect(throws: BusSecurityError.self) { _ = try keys.security(of: "caller") }
        #expect(error?.description.contains("mode 644") == true)
        #expect(error?.description.contains("chmod 600") == true)
        // Neither the message nor anything else here carries the secret.
        let secret = try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n")
            .first { $0.hasPrefix("secret-key") }!.split(separator: "=")[1].trimmingCharacters(in: .whitespaces)
        #expect(error?.description.contains(secret) == false)
        chmod(path, 0o640)
        #expect(throws: BusSecurityError.self) { _ = try keys.security(of: "caller") }
    }

    @Test func keysCanBeCreatedInAFolderThatDoesNotExistYet() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("sls-new-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let keyring = root.appendingPathComponent("run/keyring").path
        try CurveKeyFile.save(try CurveKeyPair.generate(), identity: "portal", inKeyring: keyring)
        let attributes = try FileManager.default.attributesOfItem(atPath: keyring + "/secret/portal.key")
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        #expect(try BusSecurity(keyFile: keyring + "/secret/portal.key", publicKeys: keyring + "/public").identity == "portal")
        // An existing key is never overwritten.
        #expect(throws: BusSecurityError.self) {
            try CurveKeyFile.save(try CurveKeyPair.generate(), identity: "portal", inKeyring: keyring)
        }
    }

    @Test func aKeyNotInThePublicKeyDirectoryOrAMisnamedPublicKeyIsRefused() throws {
        let keys = try makeKeyring()
        try FileManager.default.removeItem(atPath: keys.publicKeys + "/caller.pub")
        let missing = #expect(throws: BusSecurityError.self) { _ = try keys.security(of: "caller") }
        #expect(missing?.description.contains("add its caller.pub") == true)
        try FileManager.default.copyItem(atPath: keys.publicKeys + "/reader.pub", toPath: keys.publicKeys + "/caller.pub")
        let misnamed = #expect(throws: BusSecurityError.self) { _ = try PublicKeyDirectory(path: keys.publicKeys) }
        #expect(misnamed?.description.contains("must be called reader.pub") == true)
    }

    @Test func policyMistakesStopTheLoadWithAMessageNamingThem() throws {
        let typo = #expect(throws: BusSecurityError.self) {
            _ = try BusPolicy(yaml: "methods:\n  sls.crypto.v1.CryptoRules/PlaceOrdr: [portal]\n")
        }
        #expect(typo?.description.contains("PlaceOrdr' names no known method") == true)
        let section = #expect(throws: BusSecurityError.self) { _ = try BusPolicy(yaml: "method:\n  x/y: [a]\n") }
        #expect(section?.description.contains("unknown section 'method'") == true)
        let identity = #expect(throws: BusSecurityError.self) {
            _ = try BusPolicy(yaml: "methods:\n  sls.health.v1.Health/Check: [\"Bad Name\"]\n")
        }
        #expect(identity?.description.contains("is not an identity name") == true)
        // Reading sls.crypto.v1.Order would also deliver OrderAccepted and friends (prefix match).
        let leak = #expect(throws: BusSecurityError.self) {
            _ = try BusPolicy(yaml: "subscribe:\n  sls.crypto.v1.Order: [portal]\n")
        }
        #expect(leak?.description.contains("would also receive sls.crypto.v1.Order") == true)
    }

    @Test func theStacksPolicyLoadsAndSaysWhatTheIssueSays() throws {
        let policy = try BusPolicy.load(path: Stack.policyFile.path)
        #expect(policy.warnings.isEmpty, "\(policy.warnings)")
        let placeOrder = CryptoRulesAPI.placeOrder.fullName
        #expect(policy.mayCall("portal", placeOrder) && policy.mayCall("trading-gateway", placeOrder))
        #expect(!policy.mayCall("operations", placeOrder) && !policy.mayCall("accounts", placeOrder))
        let custody = CryptoRulesAPI.chargeCustodyFees.fullName
        #expect(policy.mayCall("operations", custody) && !policy.mayCall("portal", custody))
        #expect(policy.mayCall("sms-gateway", HealthAPI.check.fullName))
        #expect(policy.mayPublish("accounts", topic: AccountBalanceUpdated.protoName))
        #expect(!policy.mayPublish("portal", topic: AccountBalanceUpdated.protoName))
        #expect(policy.mayPublish("venue-gateway", topic: VenueOrderFilled.protoName))
        #expect(!policy.mayPublish("crypto-rules", topic: VenueOrderFilled.protoName))
        // Each service publishes its own package's events, and only those.
        #expect(policy.mayPublish("enrollment", topic: "sls.enrollment.v1.FactorActivated"))
        #expect(policy.mayPublish("challenge-verification", topic: "sls.challenge.v1.FactorLocked"))
        #expect(!policy.mayPublish("enrollment", topic: "sls.challenge.v1.FactorLocked"))
        #expect(policy.mayRead("challenge-verification", topic: "sls.enrollment.v1.FactorActivated"))
        // SMS codes are for the SMS gateway alone.
        #expect(policy.mayRead("sms-gateway", topic: "sls.challenge.v1.SmsCodeRequested"))
        for reader in ["operations", "portal", "challenge-verification", "enrollment", "accounts"] {
            #expect(!policy.mayRead(reader, topic: "sls.challenge.v1.SmsCodeRequested"), "\(reader)")
            #expect(!policy.maySubscribe(reader, prefix: "sls.challenge.v1."), "\(reader)")
        }
        #expect(!policy.maySubscribe("portal", prefix: ""))
        #expect(!policy.maySubscribe("portal", prefix: "sls.accounts.v1."))
        #expect(policy.maySubscribe("crypto-rules", prefix: "sls.accounts.v1."))
        #expect(policy.maySubscribe("crypto-rules", prefix: AccountBalanceUpdated.protoName))
        // Arbitrary prefixes inside a granted package are refused: subscriptions stay a bounded set.
        #expect(!policy.maySubscribe("crypto-rules", prefix: "sls.accounts.v1.Zzzzzzzz"))
    }
}

@Suite("The event bus enforces producers and topics", .serialized)
struct EventBusSecurityTests {
    /// A secured proxy, as the event bus runs it.
    final class SecuredBus: @unchecked Sendable {
        let keys: TestKeyring
        let context = ZMQContext()
        let authentication: ZAPHandler
        let authorizer: EventBusAuthorizer
        let proxy: ZMQProxy

        init() throws {
            keys = try makeKeyring()
            let bus = try keys.security(of: "event-bus")
            authentication = try bus.startAuthentication(context: context, logger: Logger(label: "zap"))
            authorizer = EventBusAuthorizer(policy: try keys.policy(), logger: Logger(label: "bus"))
            proxy = try ZMQProxy(context: context, publishersEndpoint: "tcp://127.0.0.1:*",
                                 subscribersEndpoint: "tcp://127.0.0.1:*", curve: bus.keyPair, filter: authorizer.filter)
            proxy.start()
        }

        func publisher(_ identity: String, producer: String? = nil) throws -> EventPublisher {
            try EventPublisher(context: context, endpoint: proxy.publishersEndpoint, producer: producer ?? identity,
                               security: try keys.client(identity, of: "event-bus"))
        }

        func subscriber(_ identity: String, topics: [String]) throws -> EventSubscriber {
            try EventSubscriber(context: context, endpoint: proxy.subscribersEndpoint, topics: topics,
                                security: try keys.client(identity, of: "event-bus"), logger: Logger(label: identity))
        }

        func stop() {
            proxy.stop()
            authentication.stop()
        }
    }

    @Test func spoofedProducersAndForbiddenTopicsAreDroppedWhileTheGenuineProducerGetsThrough() async throws {
        let bus = try SecuredBus()
        defer { bus.stop() }
        let reader = try bus.subscriber("reader", topics: ["sls.accounts.v1.", MarkPriceUpdated.protoName])
        defer { reader.close() }
        let genuine = try bus.publisher("accounts")
        let spoofer = try bus.publisher("caller", producer: "accounts")   // claims to be the account service
        let trespasser = try bus.publisher("caller")                      // honest name, forbidden topic
        defer { [genuine, spoofer, trespasser].forEach { $0.close() } }

        var iterator = reader.events.makeAsyncIterator()
        // Joins take a moment: publish until the genuine event arrives.
        var first: ReceivedEvent?
        for attempt in 0..<100 where first == nil {
            try genuine.publish(AccountBalanceUpdated(accountID: "warm-up-\(attempt)", totalEquity: "1", cash: "1"))
            try await Task.sleep(for: .milliseconds(30))
            if bus.authorizer.forwardedEvents > 0 { first = await iterator.next() }
        }
        #expect(first?.header.producer == "accounts")

        try spoofer.publish(AccountBalanceUpdated(accountID: "A1", totalEquity: "1000000", cash: "1000000"))
        try trespasser.publish(AccountBalanceUpdated(accountID: "A1", totalEquity: "1000000", cash: "1000000"))
        try trespasser.publish(MarkPriceUpdated(asset: .btc, price: "1"))
        try genuine.publish(AccountBalanceUpdated(accountID: "A1", totalEquity: "10", cash: "10"))
        // Events from one publisher keep their order: after the warm-up ones comes the genuine one.
        var balance: AccountBalanceUpdated?
        var producer = ""
        while balance == nil || balance?.accountID.hasPrefix("warm-up") == true, let event = await iterator.next() {
            balance = try event.decode(AccountBalanceUpdated.self)
            producer = event.header.producer
        }
        #expect(balance?.accountID == "A1")
        #expect(balance?.cash == "10")
        #expect(producer == "accounts")
        for _ in 0..<100 where bus.authorizer.droppedEvents(.topicNotAllowed) < 2 {
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(bus.authorizer.droppedEvents(.spoofedProducer) == 1)
        #expect(bus.authorizer.droppedEvents(.topicNotAllowed) == 2)
    }

    @Test func aSubscriberNeverSeesATopicItMayNotRead() async throws {
        let bus = try SecuredBus()
        defer { bus.stop() }
        // `outsider` asks for account events (not allowed) and prices (allowed); `reader` for account events.
        let outsider = try bus.subscriber("outsider", topics: ["sls.accounts.v1.", "", MarkPriceUpdated.protoName])
        let reader = try bus.subscriber("reader", topics: ["sls.accounts.v1."])
        defer { outsider.close(); reader.close() }
        let accounts = try bus.publisher("accounts")
        defer { accounts.close() }
        var readerEvents = reader.events.makeAsyncIterator()
        var arrived = false
        for _ in 0..<100 where !arrived {
            try accounts.publish(AccountBalanceUpdated(accountID: "S1", totalEquity: "5", cash: "5"))
            try await Task.sleep(for: .milliseconds(30))
            arrived = bus.authorizer.forwardedEvents > 0
        }
        #expect(await readerEvents.next()?.header.type == AccountBalanceUpdated.protoName)
        #expect(bus.authorizer.refusedSubscriptionCount == 2)   // "sls.accounts.v1." and "" from outsider
        // The outsider's subscriptions that were applied let nothing of the accounts through.
        try await Task.sleep(for: .milliseconds(200))
        outsider.close()
        var seen: [String] = []
        for await event in outsider.events { seen.append(event.header.type) }
        #expect(seen.isEmpty)
    }
}
