import SLSBus
import SLSMessages
import Synchronization
import Testing
import ZeroMQ
import SLSTesting

@Suite("RPC deadlines, outages and shutdown")
struct RPCFailureTests {
    @Test func clientGivesUpAtItsDeadline() async throws {
        let bus = try BusFixture { server in
            server.register(HealthAPI.check) { _, _ in
                try await Task.sleep(for: .seconds(3))
                return HealthCheckResponse(status: .serving)
            }
        }
        let client = try bus.client(timeout: .milliseconds(80))
        let started = ContinuousClock.now
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest())
        }
        #expect(error?.code == .deadlineExceeded)
        // Well before the server would have answered (3 s), with room for a busy machine.
        #expect(started.duration(to: .now) < .milliseconds(1500))
        client.close()
        await bus.server.shutdown()
    }

    @Test func serverSkipsWorkWhoseDeadlineHasPassed() async throws {
        let runs = Atomic<Int>(0)
        let bus = try BusFixture { server in
            server.register(HealthAPI.check) { _, _ in
                runs.add(1, ordering: .relaxed)
                return HealthCheckResponse(status: .serving)
            }
        }
        let raw = try bus.rawDealer()
        let header = RequestHeader(method: HealthAPI.check.fullName, requestID: 7,
                                   deadlineUnixMs: unixMilliseconds() - 1000)
        try raw.send([header.serializedBytes(), HealthCheckRequest().serializedBytes()])
        let reply = try receiveReply(raw)
        #expect(reply.header.requestID == 7)
        #expect(reply.header.status?.code == .deadlineExceeded)
        #expect(runs.load(ordering: .relaxed) == 0)
        raw.close()
        await bus.server.shutdown()
    }

    @Test func callToAbsentServerIsUnavailableAndRecoversWhenItReturns() async throws {
        let endpoint = try await BusFixture.vacantEndpoint()

        let context = ZMQContext()
        let client = try RPCClient(context: context, configuration: .init(
            endpoint: endpoint, caller: "bus-tests", defaultTimeout: .seconds(2),
            connectTimeout: .milliseconds(200)))
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(BenchAPI.echo, EchoRequest())
        }
        #expect(error?.code == .unavailable)

        let server = try BusFixture(endpoint: endpoint)
        // libzmq reconnects on its own (100 ms to 1 s back-off); no new client is needed.
        var recovered = false
        for _ in 0..<50 where !recovered {
            do {
                _ = try await client.call(BenchAPI.echo, EchoRequest(payload: .init([9])))
                recovered = true
            } catch {
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        #expect(recovered)
        client.close()
        await server.server.shutdown()
    }

    @Test func shutdownFinishesCallsInFlightAndRefusesNewOnes() async throws {
        let bus = try BusFixture { server in
            server.register(HealthAPI.check) { _, _ in
                try await Task.sleep(for: .milliseconds(300))
                return HealthCheckResponse(status: .serving)
            }
        }
        let client = try bus.client()
        let slow = Task { try await client.call(HealthAPI.check, HealthCheckRequest()) }
        try await Task.sleep(for: .milliseconds(50))
        let shutdown = Task { await bus.server.shutdown(grace: .seconds(5)) }
        try await Task.sleep(for: .milliseconds(50))
        let refused = await #expect(throws: RPCError.self) {
            _ = try await client.call(BenchAPI.echo, EchoRequest())
        }
        #expect(refused?.code == .unavailable)
        #expect(try await slow.value.status == .serving)
        await shutdown.value
        client.close()
    }
}
