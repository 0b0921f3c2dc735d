import SLSBus
import SLSMessages
import Synchronization
import Testing
import SLSTesting
import ZeroMQ

/// Handlers registered `synchronous:` answer inline on the socket thread, without a task; the
/// rules around them (payload validation, refusals, errors kept out of replies) are the same.
@Suite("Synchronous handlers")
struct SynchronousHandlerTests {
    static let refuse = RPCMethod<EchoRequest, EchoReply>("sls.bench.v1.Bench/Refuse")
    static let crash = RPCMethod<EchoRequest, EchoReply>("sls.bench.v1.Bench/Crash")
    static let inline = RPCMethod<EchoRequest, EchoReply>("sls.bench.v1.Bench/Inline")

    struct Secret: Error { let value = "4111-1111-1111-1111" }

    @Test("a synchronous handler answers on the socket thread, refuses with its RPCError and hides other errors")
    func synchronousRoutes() async throws {
        let threads = Mutex<Set<String>>([])
        let bus = try BusFixture { server in
            server.register(Self.inline, synchronous: { request, context in
                threads.withLock { _ = $0.insert(context.method) }
                return EchoReply(payload: request.payload + [9])
            })
            server.register(Self.refuse, synchronous: { _, _ in
                throw RPCError.failedPrecondition("not now", ruleID: "TEST-1")
            })
            server.register(Self.crash, synchronous: { _, _ in throw Secret() })
        }
        let client = try bus.client()
        let reply = try await client.call(Self.inline, EchoRequest(payload: .init([1, 2])))
        #expect(reply.payload == .init([1, 2, 9]))
        await #expect(throws: RPCError.failedPrecondition("not now", ruleID: "TEST-1")) {
            _ = try await client.call(Self.refuse, EchoRequest())
        }
        do {
            _ = try await client.call(Self.crash, EchoRequest())
            Issue.record("an error other than RPCError got through")
        } catch let error as RPCError {
            #expect(error.code == .internal && !error.message.contains("4111"))
        }
        // Calls in flight are counted back down, so shutdown does not wait for them.
        let start = ContinuousClock.now
        client.close()
        await bus.server.shutdown(grace: .seconds(5))
        #expect(ContinuousClock.now - start < .seconds(1))
        #expect(threads.withLock { $0 } == [Self.inline.fullName])
    }

    @Test("a synchronous handler's payload is validated before it runs")
    func validation() async throws {
        let ran = Atomic<Int>(0)
        let bus = try BusFixture { server in
            server.register(HealthAPI.check, synchronous: { _, _ in
                ran.add(1, ordering: .relaxed)
                return HealthCheckResponse(status: .serving)
            })
        }
        let client = try bus.client()
        do {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest(service: String(repeating: "x", count: 500)))
            Issue.record("an over-long field reached the handler")
        } catch let error as RPCError {
            #expect(error.code == .invalidArgument && error.message.contains("service"))
        }
        #expect(ran.load(ordering: .relaxed) == 0)
        client.close()
        await bus.server.shutdown()
    }
}
