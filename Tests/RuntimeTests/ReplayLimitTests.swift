import Foundation
import SLSBus
import SLSMessages
import SLSRuntime
import Synchronization
import SLSTesting
import Testing

struct ReplayTestDefaults: ServiceDefaults {
    static let entry = CatalogEntry(name: "replay-test", port: 0, api: "")
}

/// A service host on a free loopback port with its data in `directory` and no event bus; with
/// the keys of `keyring` (its identity is `replay-test`), otherwise `--insecure`.
func makeTestHost(in directory: String, _ extra: [String], keyring: TestKeyring? = nil) throws -> ServiceHost {
    let options = try ServiceOptions<ReplayTestDefaults>.parse([
        "--listen", "tcp://127.0.0.1:*", "--data-dir", directory,
        "--events-publish", "tcp://127.0.0.1:9", "--events-subscribe", "tcp://127.0.0.1:9"] + extra
        + (keyring?.arguments(for: ReplayTestDefaults.serviceName) ?? ["--insecure"]))
    return try ServiceHost(options: options, info: nil, apiPackage: "test")
}

@Suite("EventLog/Replay is bounded per call and per caller")
struct ReplayLimitTests {
    @Test func aCallerGetsAtMostItsBudgetOfReplayedEventsAMinute() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("replay-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // Callers are known by their keys: mallory cannot get a fresh budget by naming itself anew.
        let keys = try TestKeyring(identities: ["replay-test", "event-bus", "mallory", "alice"], policy: """
            methods:
              sls.events.v1.EventLog/Replay: [mallory, alice]
            """)
        let host = try makeTestHost(in: directory, ["--replay-max-events", "100", "--replay-events-per-minute", "250"],
                                    keyring: keys)
        try host.server.start()
        let mallory = try RPCClient(context: host.context, configuration: .init(
            endpoint: host.server.boundEndpoint, caller: "mallory",
            security: try keys.client("mallory", of: "replay-test")))
        let disguised = try RPCClient(context: host.context, configuration: .init(
            endpoint: host.server.boundEndpoint, caller: "alice",
            security: try keys.client("mallory", of: "replay-test")))
        let alice = try RPCClient(context: host.context, configuration: .init(
            endpoint: host.server.boundEndpoint, caller: "alice",
            security: try keys.client("alice", of: "replay-test")))
        // Asking for a million is cut to the per-call bound; each call is charged what it may replay.
        for _ in 0..<2 {
            _ = try await mallory.call(EventLogAPI.replay, ReplayRequest(fromSequence: 1, limit: 1_000_000))
        }
        let refused = await #expect(throws: RPCError.self) {
            _ = try await mallory.call(EventLogAPI.replay, ReplayRequest(fromSequence: 1))
        }
        #expect(refused?.code == .resourceExhausted)
        #expect(refused?.message.contains("250 events per minute per caller") == true)
        // Claiming to be alice in the header changes nothing: the key is mallory's.
        await #expect(throws: RPCError.self) {
            _ = try await disguised.call(EventLogAPI.replay, ReplayRequest(fromSequence: 1, limit: 100))
        }
        // Another caller has its own budget.
        _ = try await alice.call(EventLogAPI.replay, ReplayRequest(fromSequence: 1, limit: 10))
        mallory.close()
        disguised.close()
        alice.close()
        await host.server.shutdown()
    }
}

@Suite("The service lifecycle")
struct ServiceLifecycleTests {
    @Test func aFailingBackgroundPartStopsTheWholeServiceWithItsError() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("lifecycle-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let host = try makeTestHost(in: directory, ["--heartbeat-seconds", "0"])
        let ticks = Mutex(0)
        host.every(.milliseconds(10), named: "sweep") {
            let count = ticks.withLock { $0 += 1; return $0 }
            if count == 3 { throw PeriodicJob.Fatal("the disk is gone") }
        }
        let error = await #expect(throws: PeriodicJob.Fatal.self) { try await host.run() }
        #expect(error?.description == "the disk is gone")
        #expect(ticks.withLock { $0 } == 3)
        // The RPC server was stopped with the rest: nothing serves any more.
        let client = try RPCClient(context: host.context, configuration: .init(
            endpoint: host.server.boundEndpoint, caller: "test", defaultTimeout: .milliseconds(300),
            connectTimeout: .milliseconds(300)))
        await #expect(throws: RPCError.self) { _ = try await client.call(HealthAPI.check, HealthCheckRequest()) }
        client.close()
    }
}
