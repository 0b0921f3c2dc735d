import Foundation
import Logging
import SLSBus
import SLSMessages
import Synchronization
import ZeroMQ

/// What bus security costs: the same calls and events with CurveZMQ, ZAP and the policy on,
/// against the same without, in alternating rounds of one run. Ratios are secure / plain:
/// above 1 for latency and below 1 for throughput is the price of encryption and checks.
enum CurveBenchmarks {
    /// One side of the comparison: an echo server, a client and an event bus proxy, all in one
    /// context (its own, so the ZAP handler of the secure side never sees the plain one).
    final class Side: @unchecked Sendable {
        let context = ZMQContext()
        let server: RPCServer
        let client: RPCClient
        let proxy: ZMQProxy
        let publisher: EventPublisher
        let subscriber: EventSubscriber
        private let counter = Counter()
        var received: Int { counter.value.load(ordering: .relaxed) }
        let authentication: ZAPHandler?
        private let consumer: Task<Void, Never>

        init(secure: Bool) throws {
            var logger = Logger(label: "bench")
            logger.logLevel = .warning
            var serverSecurity: CurveServer?
            var clientSecurity: CurveClient?
            var busClient: CurveClient?
            var filter = ZMQProxy.Filter.everything
            var busKeys: CurveKeyPair?
            if secure {
                let pairs = try ["bench-server", "event-bus", "bench-client", "bench-publisher"].map {
                    ($0, try CurveKeyPair.generate())
                }
                let directory = PublicKeyDirectory(keys: Dictionary(uniqueKeysWithValues: pairs.map { ($0.0, $0.1.publicKey) }))
                let key = { (name: String) in pairs.first { $0.0 == name }!.1 }
                let policy = try BusPolicy(yaml: """
                    methods:
                      sls.bench.v1.Bench/Echo: [bench-client]
                    publish:
                      sls.bench.v1.EchoRequest: [bench-publisher]
                    subscribe:
                      sls.bench.v1.EchoRequest: [bench-client]
                    """)
                let server = try BusSecurity(identity: "bench-server", keyPair: key("bench-server"), keys: directory)
                let zap = try server.startAuthentication(context: context, logger: logger)
                authentication = zap
                serverSecurity = CurveServer(keyPair: server.keyPair, policy: policy, authentication: zap)
                clientSecurity = try BusSecurity(identity: "bench-client", keyPair: key("bench-client"), keys: directory)
                    .client(of: "bench-server")
                busClient = try BusSecurity(identity: "bench-publisher", keyPair: key("bench-publisher"), keys: directory)
                    .client(of: "event-bus")
                filter = EventBusAuthorizer(policy: policy, logger: logger).filter
                busKeys = key("event-bus")
                subscriberSecurity = try BusSecurity(identity: "bench-client", keyPair: key("bench-client"),
                                                     keys: directory).client(of: "event-bus")
            } else {
                authentication = nil
                subscriberSecurity = nil
            }
            server = try RPCServer(context: context, configuration: .init(
                endpoint: "tcp://127.0.0.1:*", serviceName: "bench", security: serverSecurity), logger: logger)
            server.register(BenchAPI.echo, synchronous: { _, _ in BusBenchmarks.reply })
            try server.start()
            client = try RPCClient(context: context, configuration: .init(
                endpoint: server.boundEndpoint, caller: "bench-client", security: clientSecurity))
            proxy = try ZMQProxy(context: context, publishersEndpoint: "tcp://127.0.0.1:*",
                                 subscribersEndpoint: "tcp://127.0.0.1:*", curve: busKeys, filter: filter)
            proxy.start()
            publisher = try EventPublisher(context: context, endpoint: proxy.publishersEndpoint,
                                           producer: "bench-publisher", security: busClient)
            subscriber = try EventSubscriber(context: context, endpoint: proxy.subscribersEndpoint,
                                             topics: [EchoRequest.protoName], security: subscriberSecurity, logger: logger)
            let events = subscriber.events
            consumer = Task { [counter] in for await _ in events { counter.value.add(1, ordering: .relaxed) } }
        }
        private let subscriberSecurity: CurveClient?

        /// Publishes until the subscriber receives (the join takes a moment).
        func waitForEvents() async throws {
            for _ in 0..<200 where received == 0 {
                try publisher.publish(BusBenchmarks.request)
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        /// Events per second through the proxy, in windows the subscriber drains (no drops).
        func eventThroughput(events: Int, window: Int = 1000) async throws -> Double {
            let start = monotonicNanoseconds()
            var sent = 0
            let base = received
            while sent < events {
                for _ in 0..<window { try publisher.publish(BusBenchmarks.request) }
                sent += window
                // Bounded: gives up on a window after a second.
                for _ in 0..<10_000 where received - base < sent {
                    try await Task.sleep(for: .microseconds(100))
                }
            }
            return Double(received - base) / (Double(monotonicNanoseconds() - start) / 1e9)
        }

        func close() async {
            subscriber.close()
            consumer.cancel()
            publisher.close()
            client.close()
            await server.shutdown(grace: .zero)
            proxy.stop()
            authentication?.stop()
        }
    }

    final class Counter: Sendable {
        let value = Atomic<Int>(0)
    }

    static func run() async throws {
        let plain = try Side(secure: false)
        let secure = try Side(secure: true)
        try await plain.waitForEvents()
        try await secure.waitForEvents()
        var latencyRatios: [Double] = [], throughputRatios: [Double] = [], eventRatios: [Double] = []
        var securedP50: [Double] = [], plainP50: [Double] = []
        var securedRates: [Double] = [], plainRates: [Double] = []
        var securedEvents: [Double] = [], plainEvents: [Double] = []
        for _ in 0..<5 {
            let off = try await BusBenchmarks.busLatencies(client: plain.client, calls: 2_000, warmup: 200)
            let on = try await BusBenchmarks.busLatencies(client: secure.client, calls: 2_000, warmup: 200)
            plainP50.append(percentile(off, 0.5)); securedP50.append(percentile(on, 0.5))
            latencyRatios.append(securedP50.last! / plainP50.last!)
            plainRates.append(try await BusBenchmarks.busThroughput(client: plain.client, calls: 20_000, inFlight: 64))
            securedRates.append(try await BusBenchmarks.busThroughput(client: secure.client, calls: 20_000, inFlight: 64))
            throughputRatios.append(securedRates.last! / plainRates.last!)
            plainEvents.append(try await plain.eventThroughput(events: 20_000))
            securedEvents.append(try await secure.eventThroughput(events: 20_000))
            eventRatios.append(securedEvents.last! / plainEvents.last!)
        }
        report("curve_off_unary_latency_p50", median(plainP50) / 1000, "us")
        report("curve_on_unary_latency_p50", median(securedP50) / 1000, "us")
        report("curve_off_unary_throughput_64", median(plainRates), "calls/s")
        report("curve_on_unary_throughput_64", median(securedRates), "calls/s")
        report("curve_off_event_throughput", median(plainEvents), "events/s")
        report("curve_on_event_throughput", median(securedEvents), "events/s")
        ratio("curve_on_vs_off_unary_latency_p50", median(latencyRatios))
        ratio("curve_on_vs_off_unary_throughput_64", median(throughputRatios))
        ratio("curve_on_vs_off_event_throughput", median(eventRatios))
        await plain.close()
        await secure.close()
    }
}
