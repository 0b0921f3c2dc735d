import CZeroMQ
import Foundation
import SLSMessages
import Synchronization

/// The client of the ``WireLevelDesign`` prototype as callers would use it: `await call(_:)` from
/// tasks that prefer the client's socket thread as their executor, so sending, matching a reply
/// and resuming its caller all happen on that thread with no lock on the socket and no hop.
final class WireLevelClient: TaskExecutor, @unchecked Sendable {
    typealias Writer = WireLevelDesign.Writer

    private let socket: UnsafeMutableRawPointer
    private let nativePayload: Bool
    private let jobs = Mutex<[UnownedJob]>([])
    private let stopRequested = Atomic<Bool>(false)
    private var thread: Thread?

    /// Socket-thread state, reached through a pointer: only that thread touches it, so Swift's
    /// dynamic exclusivity checks on class properties would be pure cost.
    private struct State {
        /// Calls in flight by request id: the batch each belongs to and its place in it.
        var pending: [UInt64: (batch: Batch, index: Int)] = [:]
        var nextID: UInt64 = 1
        var frame = Writer(capacity: 256), header = Writer(capacity: 128), payload = Writer(capacity: 128)
        var trace = Array("0123456789abcdef-".utf8)
    }
    private let state = UnsafeMutablePointer<State>.allocate(capacity: 1)

    /// Replies of calls sent together, and the one caller waiting for all of them.
    final class Batch {
        var replies: [Data?]
        var outstanding: Int
        var continuation: UnsafeContinuation<[Data?], Never>?
        init(count: Int) {
            replies = Array(repeating: nil, count: count)
            outstanding = count
        }
        func deliver(_ reply: Data?, at index: Int) {
            replies[index] = reply
            outstanding -= 1
            if outstanding == 0, let continuation { continuation.resume(returning: replies) }
        }
    }
    private let traceStem = "0123456789abcdef-".utf8.count

    deinit {
        state.deinitialize(count: 1)
        state.deallocate()
    }

    init(context: UnsafeMutableRawPointer, endpoint: String, nativePayload: Bool) {
        socket = zmq_socket(context, ZMQ_DEALER)!
        zmq_connect(socket, endpoint)
        self.nativePayload = nativePayload
        state.initialize(to: State())
        state.pointee.pending.reserveCapacity(128)
    }

    func start() {
        thread = Thread { [self] in run() }
    }

    func stop() {
        stopRequested.store(true, ordering: .relaxed)
        thread?.join()
        RawBaselines.closeQuietly(socket)
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        jobs.withLock { $0.append(job) }
    }

    /// Sends `request` and returns the reply's payload, or nil when refused.
    /// - Important: only from a task running on this client's thread (its executor preference).
    func call(_ request: EchoRequest) async -> Data? {
        await call([request])[0]
    }

    /// Sends `requests` at once and returns their replies in order (nil for refused ones): one
    /// suspension for the lot, so the task's cost is shared by every call in the batch.
    func call(_ requests: [EchoRequest]) async -> [Data?] {
        let batch = Batch(count: requests.count)
        for (index, request) in requests.enumerated() {
            let id = state.pointee.nextID
            state.pointee.nextID += 1
            encode(request, id: id)
            let sent = state.pointee.frame.bytes.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, ZMQ_DONTWAIT) }
            if sent >= 0 {
                state.pointee.pending[id] = (batch, index)
            } else {
                batch.outstanding -= 1
            }
        }
        guard batch.outstanding > 0 else { return batch.replies }
        return await withUnsafeContinuation { batch.continuation = $0 }
    }

    private func encode(_ request: EchoRequest, id: UInt64) {
        state.pointee.header.bytes.removeAll(keepingCapacity: true)
        state.pointee.header.field(1, bytes: WireLevelDesign.method)
        state.pointee.header.field(2, varint: id)
        state.pointee.header.field(3, varint: UInt64(unixMilliseconds() + 5000))
        state.pointee.trace.removeSubrange(traceStem...)
        var digits = id
        repeat { state.pointee.trace.append(UInt8(48 + digits % 10)); digits /= 10 } while digits > 0
        state.pointee.header.field(4, bytes: state.pointee.trace)
        state.pointee.header.field(5, bytes: WireLevelDesign.caller)
        state.pointee.frame.bytes.removeAll(keepingCapacity: true)
        state.pointee.frame.field(1, bytes: state.pointee.header.bytes)
        if nativePayload {
            state.pointee.payload.bytes.removeAll(keepingCapacity: true)
            state.pointee.payload.field(1, bytes: request.payload)
            state.pointee.frame.field(2, bytes: state.pointee.payload.bytes)
        } else {
            state.pointee.frame.field(2, bytes: request.serializedBytes())
        }
    }

    private func run() {
        var buffer = [UInt8](repeating: 0, count: 1024)
        var batch: [UnownedJob] = []
        batch.reserveCapacity(128)
        while !stopRequested.load(ordering: .relaxed) {
            jobs.withLock { swap(&batch, &$0) }
            for job in batch { job.runSynchronously(on: asUnownedTaskExecutor()) }
            let ran = !batch.isEmpty
            batch.removeAll(keepingCapacity: true)
            var received = 0
            while received < 64 {
                let length = zmq_recv(socket, &buffer, buffer.count, ZMQ_DONTWAIT)
                guard length >= 0 else { break }
                received += 1
                buffer.withUnsafeBytes { deliver(UnsafeRawBufferPointer(rebasing: $0[0..<ThroughputBreakdown.kept(length, buffer.count)])) }
            }
            if !ran && received == 0 {
                var item = zmq_pollitem_t(socket: socket, fd: -1, events: Int16(ZMQ_POLLIN), revents: 0)
                _ = zmq_poll(&item, 1, 1)
            }
        }
    }

    private func deliver(_ reply: UnsafeRawBufferPointer) {
        let (id, ok, body) = WireLevelDesign.readReply(reply)
        guard let (batch, index) = state.pointee.pending.removeValue(forKey: id) else { return }
        guard ok else { return batch.deliver(nil, at: index) }
        if nativePayload {
            batch.deliver(WireLevelDesign.echoedBytes(body).map { Data($0) }, at: index)
        } else {
            batch.deliver((try? EchoReply(serializedBytes: Array(body.bindMemory(to: UInt8.self))))?.payload, at: index)
        }
    }

    /// Calls per second with 64 tasks on the client's thread, each calling in a loop.
    /// With `batch` above 1, 64 / `batch` tasks each send `batch` calls at a time.
    static func throughput(context: UnsafeMutableRawPointer, calls: Int, nativePayload: Bool, batch: Int = 1) async throws -> Double {
        let server = zmq_socket(context, ZMQ_ROUTER)!
        zmq_bind(server, "tcp://127.0.0.1:*")
        let serverThread = WireLevelDesign.serve(server, calls: calls, nativePayload: nativePayload)
        let client = WireLevelClient(context: context, endpoint: RawBaselines.lastEndpoint(server), nativePayload: nativePayload)
        client.start()
        let start = monotonicNanoseconds()
        let answered = await withTaskExecutorPreference(client) {
            await withTaskGroup(of: Int.self) { group in
                let tasks = 64 / batch, requests = Array(repeating: BusBenchmarks.request, count: batch)
                for worker in 0..<tasks {
                    let share = calls / tasks + (worker < calls % tasks ? 1 : 0)
                    group.addTask {
                        var answered = 0, left = share
                        while left > 0 {
                            let replies = batch == 1 ? [await client.call(BusBenchmarks.request)]
                                : await client.call(left >= batch ? requests : Array(requests.prefix(left)))
                            answered += replies.count { $0?.count == 14 }
                            left -= replies.count
                        }
                        return answered
                    }
                }
                return await group.reduce(0, +)
            }
        }
        let rate = Double(calls) / (Double(monotonicNanoseconds() - start) / 1e9)
        serverThread.join()
        client.stop()
        RawBaselines.closeQuietly(server)
        guard answered == calls else { throw WireLevelDesign.DesignError.unanswered(calls - answered) }
        return rate
    }
}
