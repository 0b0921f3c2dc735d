import SLSBus
import SLSMessages
import Synchronization
import Testing
import SLSTesting

@Suite("RPC calls over ZeroMQ")
struct RPCCallTests {
    @Test func unaryCallReturnsTheHandlersReply() async throws {
        let bus = try BusFixture()
        let client = try bus.client()
        let reply = try await client.call(BenchAPI.echo, EchoRequest(payload: .init([1, 2, 3])))
        #expect(reply.payload == .init([1, 2, 3]))
        client.close()
        await bus.server.shutdown()
    }

    @Test func handlerSeesTraceIDCallerAndMetadata() async throws {
        let seen = Mutex<RequestContext?>(nil)
        let bus = try BusFixture { server in
            server.register(HealthAPI.check) { _, context in
                seen.withLock { $0 = context }
                return HealthCheckResponse(status: .serving)
            }
        }
        let client = try bus.client()
        _ = try await client.call(HealthAPI.check, HealthCheckRequest(),
                                  options: CallOptions(traceID: "trace-42", metadata: ["tenant": "hk"]))
        let context = try #require(seen.withLock { $0 })
        #expect(context.traceID == "trace-42")
        #expect(context.caller == "bus-tests")
        #expect(context.metadata == ["tenant": "hk"])
        #expect(context.method == "sls.health.v1.Health/Check")
        #expect(context.deadlineUnixMs > unixMilliseconds())
        client.close()
        await bus.server.shutdown()
    }

    @Test func manyConcurrentCallsAreMatchedToTheirOwnReplies() async throws {
        // Replies come back out of order (random delays); each must reach its own caller.
        let bus = try BusFixture { server in
            server.register(RPCMethod<EchoRequest, EchoReply>("sls.bench.v1.Bench/SlowEcho")) { request, _ in
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...20)))
                return EchoReply(payload: request.payload)
            }
        }
        let client = try bus.client()
        let method = RPCMethod<EchoRequest, EchoReply>("sls.bench.v1.Bench/SlowEcho")
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<300 {
                group.addTask {
                    let payload = Array("call-\(index)".utf8)
                    let reply = try await client.call(method, EchoRequest(payload: .init(payload)))
                    return reply.payload == .init(payload)
                }
            }
            var matched = 0
            for try await ok in group where ok { matched += 1 }
            #expect(matched == 300)
        }
        client.close()
        await bus.server.shutdown()
    }

    @Test func unknownMethodIsUnimplemented() async throws {
        let bus = try BusFixture()
        let client = try bus.client()
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(RPCMethod<EchoRequest, EchoReply>("sls.bench.v1.Bench/Nope"), EchoRequest())
        }
        #expect(error?.code == .unimplemented)
        #expect(error?.message.contains("sls.bench.v1.Bench/Nope") == true)
        client.close()
        await bus.server.shutdown()
    }

    @Test func domainRefusalCarriesTheRuleID() async throws {
        let bus = try BusFixture { server in
            server.register(HealthAPI.check) { _, _ in
                throw RPCError.failedPrecondition("The minimum order is USD 10.", ruleID: "CRY-05")
            }
        }
        let client = try bus.client()
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest())
        }
        #expect(error == RPCError(.failedPrecondition, "The minimum order is USD 10.", ruleID: "CRY-05"))
        client.close()
        await bus.server.shutdown()
    }

    @Test func unexpectedHandlerErrorBecomesInternalWithoutDetails() async throws {
        struct SecretLeak: Error { let password = "hunter2" }
        let bus = try BusFixture { server in
            server.register(HealthAPI.check) { _, _ in throw SecretLeak() }
        }
        let client = try bus.client()
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest())
        }
        #expect(error?.code == .internal)
        #expect(error?.message.contains("hunter2") == false)
        client.close()
        await bus.server.shutdown()
    }

    @Test func healthAnswersServingAndNotFoundForUnknownServices() async throws {
        let bus = try BusFixture()
        let client = try bus.client()
        #expect(try await client.call(HealthAPI.check, HealthCheckRequest()).status == .serving)
        #expect(try await client.call(HealthAPI.check, HealthCheckRequest(service: "sls.bench.v1.Bench")).status
                == .serving)
        let error = await #expect(throws: RPCError.self) {
            _ = try await client.call(HealthAPI.check, HealthCheckRequest(service: "nobody"))
        }
        #expect(error?.code == .notFound)
        client.close()
        await bus.server.shutdown()
    }
}
