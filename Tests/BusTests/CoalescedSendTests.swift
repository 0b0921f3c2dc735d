import SLSBus
import SLSMessages
import SLSTesting
import Synchronization
import Testing
import ZeroMQ

/// Sockets whose loop coalesces sends (the RPC server's replies, the RPC client's calls) hold what
/// the loop thread sends during a batch and send it together afterwards; nothing may get lost on
/// the way, and a refusal must still reach whoever can act on it.
@Suite("Coalesced sends")
struct CoalescedSendTests {
    @Test("a send held on the loop thread that libzmq refuses reaches onSendFailure with its tag")
    func heldRefusalReachesTheOwner() async throws {
        let context = ZMQContext()
        let socket = try ZMQSocket(context: context, type: .dealer)
        try socket.set(.linger(milliseconds: 0))
        try socket.set(.immediate(true))   // no peer: every send is refused with EAGAIN
        try socket.connect("tcp://127.0.0.1:1")
        let loop = ZMQEventLoop(name: "coalescing-test", socket: socket, coalescesSends: true)
        let failures = Mutex<[(code: Int32, frames: [[UInt8]], tag: UInt64)]>([])
        loop.start(onReceive: { _ in }, onSendFailure: { error, frames, tag in
            failures.withLock { $0.append((error.code, frames, tag)) }
        })
        // From another thread the refusal is thrown at once, as before.
        #expect(throws: ZMQError.self) { try loop.send([[1]], tag: 1) }

        let thrownOnLoop = Mutex<Bool?>(nil)
        loop.perform {
            do {
                try loop.send([[2], [3]], tag: 42)
                thrownOnLoop.withLock { $0 = false }
            } catch {
                thrownOnLoop.withLock { $0 = true }
            }
        }
        for _ in 0..<200 where failures.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(10)) }
        loop.stop()
        #expect(thrownOnLoop.withLock { $0 } == false)
        let seen = failures.withLock { $0 }
        #expect(seen.count == 1)
        #expect(seen.first?.tag == 42)
        #expect(seen.first?.frames == [[2], [3]])
        #expect(seen.first.map { ZMQError(code: $0.code, operation: "").isWouldBlock } == true)
    }

    @Test("calls made on the client's own thread before the server is up are sent once it is")
    func callsHeldWithoutAConnectionAreSentLater() async throws {
        let endpoint = try await BusFixture.vacantEndpoint()

        let context = ZMQContext()
        let client = try RPCClient(context: context, configuration: .init(
            endpoint: endpoint, caller: "bus-tests", defaultTimeout: .seconds(8), connectTimeout: .seconds(6)))
        let calls = Task {
            try await withTaskExecutorPreference(client.executor) {
                try await withThrowingTaskGroup(of: [UInt8].self) { group in
                    for index in 0..<20 {
                        group.addTask { Array(try await client.call(BenchAPI.echo, EchoRequest(payload: .init([UInt8(index)]))).payload) }
                    }
                    return try await group.reduce(into: []) { $0 += $1 }
                }
            }
        }
        try await Task.sleep(for: .milliseconds(300))
        let server = try BusFixture(endpoint: endpoint)
        let result = await calls.result
        client.close()
        await server.server.shutdown()
        #expect(try result.get().sorted() == (0..<20).map { UInt8($0) })
    }

    @Test("replies sent together still reach the calls they answer")
    func everyCallGetsItsOwnReply() async throws {
        let bus = try BusFixture { server in
            server.register(SynchronousHandlerTests.inline, synchronous: { request, _ in EchoReply(payload: request.payload) })
        }
        let client = try bus.client()
        let mismatches = try await withTaskExecutorPreference(client.executor) {
            try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<64 {
                    group.addTask {
                        var mismatches = 0
                        for call in 0..<30 {
                            let payload = [UInt8(worker), UInt8(call)]
                            let method = call.isMultiple(of: 2) ? SynchronousHandlerTests.inline : BenchAPI.echo
                            let reply = try await client.call(method, EchoRequest(payload: .init(payload)))
                            if Array(reply.payload) != payload { mismatches += 1 }
                        }
                        return mismatches
                    }
                }
                return try await group.reduce(0, +)
            }
        }
        #expect(mismatches == 0)
        #expect(bus.server.requestsServed >= 64 * 30)
        client.close()
        await bus.server.shutdown()
    }

    @Test("a client released by a task running on its own socket thread stops without touching what it was")
    func clientReleasedOnItsOwnThread() async throws {
        let bus = try BusFixture()
        var client: RPCClient? = try bus.client()
        let executor = client!.executor
        let echoed = try await withTaskExecutorPreference(executor) {
            let reply = try await client!.call(BenchAPI.echo, EchoRequest(payload: .init([5])))
            client = nil   // the last reference: the client closes on its own socket thread
            return Array(reply.payload)
        }
        #expect(echoed == [5])
        // The loop has ended; its thread went on without calling into the released client.
        try await Task.sleep(for: .milliseconds(200))
        let other = try bus.client()
        #expect(Array(try await other.call(BenchAPI.echo, EchoRequest(payload: .init([6]))).payload) == [6])
        other.close()
        await bus.server.shutdown()
    }
}
