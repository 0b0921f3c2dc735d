import CZeroMQ
import Synchronization

/// Owns one socket on a thread of its own and serves as a Swift task executor.
///
/// Everything that touches the socket runs on the loop's thread: incoming
/// messages are handed to `onReceive`, other threads hand work over with
/// ``perform(_:)``, and tasks started with this loop as their executor
/// preference run their synchronous stretches right here. That lets a server
/// handler read a request and send its reply without a single thread hop.
public final class ZMQEventLoop: TaskExecutor, @unchecked Sendable {
    /// The socket; touch it only on the loop thread (inside callbacks, `perform` or tasks on this executor).
    public let socket: ZMQSocket

    private enum Work: Sendable {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    private let name: String
    private let pending = Mutex<[Work]>([])
    private let wake = WakeSignal()
    private let stopRequested = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)
    private var thread: OSThread?

    // Loop-thread state, set once before start.
    private var onReceive: ([[UInt8]]) -> Void = { _ in }
    private var onTick: () -> Int = { -1 }
    private var wantsWritable: () -> Bool = { false }
    private var onWritable: () -> Void = {}

    /// Whether incoming messages are read; a server stops reading when it drains.
    /// Change only on the loop thread.
    public var isReading = true

    /// Wraps `socket`, which the loop owns from now on.
    public init(name: String, socket: ZMQSocket) {
        self.name = name
        self.socket = socket
    }

    /// Starts the loop thread.
    ///
    /// - Parameters:
    ///   - onReceive: called on the loop thread with each message read.
    ///   - onTick: called on the loop thread once per iteration; returns how many
    ///     milliseconds may pass before it must be called again (-1: no limit).
    ///   - wantsWritable: whether the owner has messages waiting for the socket to accept them.
    ///   - onWritable: called when the socket can accept a message and `wantsWritable` said yes.
    public func start(
        onReceive: @escaping ([[UInt8]]) -> Void,
        onTick: @escaping () -> Int = { -1 },
        wantsWritable: @escaping () -> Bool = { false },
        onWritable: @escaping () -> Void = {}
    ) {
        self.onReceive = onReceive
        self.onTick = onTick
        self.wantsWritable = wantsWritable
        self.onWritable = onWritable
        thread = OSThread(name: name) { [self] in run() }
    }

    /// Stops the loop and waits for its thread to end. Work handed over later runs on the global executor.
    public func stop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
        if !isOnLoopThread {
            thread?.join()
        }
    }

    /// Whether the caller is running on the loop thread.
    public var isOnLoopThread: Bool {
        threadID.load(ordering: .acquiring) == OSThread.currentID
    }

    /// Runs `body` on the loop thread: at once when already there, otherwise soon.
    public func perform(_ body: @escaping @Sendable () -> Void) {
        if isOnLoopThread {
            body()
        } else {
            submit(.closure(body))
        }
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        submit(.job(UnownedJob(job)))
    }

    private func submit(_ work: Work) {
        let accepted = pending.withLock { queue -> Bool in
            if stopRequested.load(ordering: .sequentiallyConsistent) && threadID.load(ordering: .acquiring) == 0 {
                return false
            }
            queue.append(work)
            return true
        }
        if accepted {
            if !isOnLoopThread { wake.signal() }
        } else {
            runElsewhere(work)
        }
    }

    /// Work that arrives after the loop ended still has to run, or its task would hang.
    private func runElsewhere(_ work: Work) {
        switch work {
        case .job(let job): job.runSynchronously(on: globalConcurrentExecutor.asUnownedTaskExecutor())
        case .closure(let body): body()
        }
    }

    private func run() {
        threadID.store(OSThread.currentID, ordering: .releasing)
        var items = [
            zmq_pollitem_t(socket: socket.handle, fd: -1, events: 0, revents: 0),
            zmq_pollitem_t(socket: nil, fd: wake.readDescriptor, events: Int16(ZMQ_POLLIN), revents: 0),
        ]
        while !stopRequested.load(ordering: .sequentiallyConsistent) {
            let ranWork = runPendingWork()
            let tickTimeout = onTick()
            var events = isReading ? ZMQ_POLLIN : 0
            if wantsWritable() { events |= ZMQ_POLLOUT }
            items[0].events = Int16(events)
            items[0].revents = 0
            items[1].revents = 0
            let timeout = ranWork ? 0 : tickTimeout
            if zmq_poll(&items, 2, timeout) < 0 {
                if zmq_errno() == ETERM { break }
                continue
            }
            if items[1].revents & Int16(ZMQ_POLLIN) != 0 { wake.drain() }
            if items[0].revents & Int16(ZMQ_POLLOUT) != 0 { onWritable() }
            if items[0].revents & Int16(ZMQ_POLLIN) != 0 { readAvailable() }
        }
        // Run what was handed over before the stop, then refuse more.
        _ = runPendingWork()
        threadID.store(0, ordering: .releasing)
        let rest = pending.withLock { queue -> [Work] in
            defer { queue.removeAll() }
            return queue
        }
        rest.forEach(runElsewhere)
    }

    /// Reads a bounded batch, so handed-over work and ticks are not starved under load.
    private func readAvailable() {
        for _ in 0..<256 {
            guard isReading, let frames = try? socket.receive(wait: false) else { return }
            onReceive(frames)
        }
    }

    private func runPendingWork() -> Bool {
        let batch = pending.withLock { queue -> [Work] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        for work in batch {
            switch work {
            case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .closure(let body): body()
            }
        }
        return !batch.isEmpty
    }
}
