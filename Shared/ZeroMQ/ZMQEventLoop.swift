import CZeroMQ
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns one socket's reading on a thread of its own and serves as a Swift task executor.
///
/// Any thread may send through ``send(_:)``: socket calls are serialised by a lock, so a
/// caller sends without handing its message to another thread. The loop thread sleeps
/// in `poll()` on libzmq's signal descriptor and a wake-up pipe (never inside libzmq, so
/// senders are not blocked), reads what arrived, and hands each message to `onReceive`.
/// Tasks that prefer this loop as their executor run right on the loop thread, so a
/// server handler reads a request and replies without a single thread switch.
public final class ZMQEventLoop: TaskExecutor, @unchecked Sendable {
    private enum Work: Sendable {
        case job(UnownedJob)
        case closure(@Sendable () -> Void)
    }

    /// Socket access, and whether the loop thread is (about to be) asleep in poll().
    private struct SocketState: ~Copyable {
        let socket: ZMQSocket
        var loopIsPolling = false
    }

    private let name: String
    /// How long the loop keeps polling without sleeping after it handled something.
    private let busyPoll: Duration
    /// Whether messages are read with the sender's `User-Id` (sockets that authenticate peers).
    private let readsUserID: Bool
    private let socketState: Mutex<SocketState>
    private let signalDescriptor: Int32
    private let pending = Mutex<[Work]>([])
    private let wake = WakeSignal()
    private let stopRequested = Atomic<Bool>(false)
    private let threadID = Atomic<UInt>(0)
    private var thread: OSThread?

    /// Whether messages sent from the loop thread while it handles a batch wait for the batch's end.
    private let coalescesSends: Bool
    // Loop-thread state: the messages held back, and whether sends are being held now.
    private var outbox: [(frames: [[UInt8]], tag: UInt64)] = []
    private var holdingSends = false
    /// Most messages held before they are sent anyway.
    private static let heldSendsLimit = 64

    // Loop-thread state, set once before start.
    private var onReceive: (ZMQMessage) -> Void = { _ in }
    private var onSendFailure: (ZMQError, [[UInt8]], UInt64) -> Void = { _, _, _ in }
    private var onTick: () -> Int = { -1 }
    private var wantsWritable: () -> Bool = { false }
    private var onWritable: () -> Void = {}

    /// Wraps `socket`, which the loop owns from now on: use it only through the loop.
    ///
    /// - Parameter busyPoll: after handling work, poll without sleeping for this long before
    ///   blocking. Waking a sleeping thread costs tens of microseconds on a busy or virtual
    ///   machine; a short window catches the next message of a conversation without that cost,
    ///   and an idle loop still sleeps. Zero turns it off.
    /// - Parameter readsUserID: hand each message over with the identity its sender's
    ///   connection was admitted as (``ZMQMessage/userID``).
    /// - Parameter coalescesSends: messages sent from the loop thread while it handles what it read
    ///   (or work handed over) are held and sent together when that batch is done: one lock for
    ///   the lot, and libzmq's I/O thread wakes once for all of them and writes them with one
    ///   system call, where one at a time it would wake and write for each. A held message that
    ///   libzmq refuses goes to `onSendFailure`, with its frames and tag, instead of throwing.
    public init(name: String, socket: ZMQSocket, busyPoll: Duration = .microseconds(100), readsUserID: Bool = false,
                coalescesSends: Bool = false) {
        self.name = name
        self.busyPoll = busyPoll
        self.readsUserID = readsUserID
        self.coalescesSends = coalescesSends
        signalDescriptor = socket.signalDescriptor
        socketState = Mutex(SocketState(socket: socket))
    }

    /// Starts the loop thread.
    ///
    /// - Parameters:
    ///   - onReceive: called on the loop thread with each message read.
    ///   - onTick: called on the loop thread once per iteration; returns how many
    ///     milliseconds may pass before it must be called again (-1: no limit).
    ///   - wantsWritable: whether the owner has messages waiting for the socket to accept them.
    ///   - onWritable: called when the socket can accept a message and `wantsWritable` said yes.
    ///   - onSendFailure: called on the loop thread with the error, frames and tag of a held
    ///     message (see `coalescesSends`) that could not be sent.
    public func start(
        onReceive: @escaping (ZMQMessage) -> Void,
        onTick: @escaping () -> Int = { -1 },
        wantsWritable: @escaping () -> Bool = { false },
        onWritable: @escaping () -> Void = {},
        onSendFailure: @escaping (ZMQError, [[UInt8]], UInt64) -> Void = { _, _, _ in }
    ) {
        self.onReceive = onReceive
        self.onSendFailure = onSendFailure
        self.onTick = onTick
        self.wantsWritable = wantsWritable
        self.onWritable = onWritable
        thread = OSThread(name: name) { [self] in run() }
    }

    /// Stops the loop, waits for its thread to end and closes the socket.
    /// Work handed over later runs on the global executor.
    public func stop() {
        stopRequested.store(true, ordering: .sequentiallyConsistent)
        wake.signal()
        if !isOnLoopThread {
            thread?.join()
        }
        socketState.withLock { $0.socket.close() }
    }

    /// Sends a message from any thread, without blocking.
    ///
    /// Throws a ``ZMQError`` whose `isWouldBlock` is true when the socket cannot take it now
    /// (no connection yet, or the high-water mark reached). On a loop that coalesces sends, a
    /// message sent from the loop thread during a batch is held instead, and a refusal goes to
    /// `onSendFailure` with `tag`.
    public func send(_ frames: [[UInt8]], tag: UInt64 = 0) throws {
        // Checked in this order: `holdingSends` belongs to the loop thread.
        if coalescesSends && isOnLoopThread && holdingSends {
            outbox.append((frames, tag))
            // A long batch is sent in parts, so what is held stays bounded.
            if outbox.count >= Self.heldSendsLimit {
                flushHeldSends()
                holdingSends = true
            }
            return
        }
        let mustWake = try socketState.withLock { state -> Bool in
            try state.socket.send(frames, wait: false)
            // Sending may consume libzmq's edge-triggered signal for a message that has
            // arrived meanwhile; if the loop is asleep, it would never hear of it.
            return state.loopIsPolling && state.socket.pendingEvents.readable
        }
        if mustWake { wake.signal() }
    }

    /// Runs `body` with the socket, on the calling thread, serialised with every other use.
    public func withSocket<R>(_ body: (ZMQSocket) throws -> R) rethrows -> R {
        try socketState.withLock { try body($0.socket) }
    }

    /// Makes the loop look at its owner's state again (e.g. `wantsWritable` changed).
    public func wakeUp() {
        if !isOnLoopThread { wake.signal() }
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
        let outcome = pending.withLock { queue -> (accepted: Bool, first: Bool) in
            if stopRequested.load(ordering: .sequentiallyConsistent) && threadID.load(ordering: .acquiring) == 0 {
                return (false, false)
            }
            queue.append(work)
            return (true, queue.count == 1)
        }
        guard outcome.accepted else { return runElsewhere(work) }
        // One signal per batch: later submissions find the loop already woken.
        if outcome.first && !isOnLoopThread { wake.signal() }
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
        var fds = [pollfd(fd: signalDescriptor, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wake.readDescriptor, events: Int16(POLLIN), revents: 0)]
        var recentlyBusy = false
        while !stopRequested.load(ordering: .sequentiallyConsistent) {
            var busy = runPendingWork()
            // A job may have stopped the loop (its owner released on this thread): the owner's
            // callbacks must not run after that.
            if stopRequested.load(ordering: .sequentiallyConsistent) { break }
            let tickTimeout = onTick()
            busy = readAvailable() || busy
            if busy {
                recentlyBusy = true
                continue
            }
            if recentlyBusy {
                recentlyBusy = false
                if spinUntilSomethingHappens(&fds) { continue }
            }
            // Declare the sleep under the socket lock, so a sender that consumes the
            // signal afterwards knows to wake us (see send(_:)).
            let ready = socketState.withLock { state -> Bool in
                let events = state.socket.pendingEvents
                let ready = events.readable || (events.writable && wantsWritable())
                state.loopIsPolling = !ready
                return ready
            }
            if ready { continue }
            if pending.withLock({ !$0.isEmpty }) {
                socketState.withLock { $0.loopIsPolling = false }
                continue
            }
            // The cap is a safety net only: every state change signals one of the descriptors.
            let timeout = tickTimeout < 0 ? 1000 : min(tickTimeout, 1000)
            fds[0].revents = 0
            fds[1].revents = 0
            _ = poll(&fds, 2, Int32(timeout))
            socketState.withLock { $0.loopIsPolling = false }
            if fds[1].revents != 0 { wake.drain() }
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

    /// Polls without blocking for up to `busyPoll`; true when a descriptor became ready or
    /// work was handed over.
    private func spinUntilSomethingHappens(_ fds: inout [pollfd]) -> Bool {
        guard busyPoll > .zero else { return false }
        let clock = ContinuousClock()
        let giveUp = clock.now.advanced(by: busyPoll)
        repeat {
            fds[0].revents = 0
            fds[1].revents = 0
            if poll(&fds, 2, 0) > 0 {
                if fds[1].revents != 0 { wake.drain() }
                return true
            }
            if pending.withLock({ !$0.isEmpty }) { return true }
            if socketState.withLock({ $0.socket.pendingEvents.readable }) { return true }
            // Give the CPU to any thread that can run (libzmq's I/O thread moves our bytes).
            sched_yield()
        } while clock.now < giveUp
        return false
    }

    /// Reads a bounded batch (so handed-over work and ticks are not starved) and handles
    /// it outside the lock. Returns whether anything happened.
    private func readAvailable() -> Bool {
        var wroteReady = false
        var total = 0
        // Small batches under the lock, so senders on other threads are not held up.
        while total < 256 {
            let batch = socketState.withLock { state -> [ZMQMessage] in
                var batch: [ZMQMessage] = []
                while batch.count < 16,
                      let message = try? state.socket.receiveMessage(wait: false, readingUserID: readsUserID) {
                    batch.append(message)
                }
                if batch.isEmpty { wroteReady = wantsWritable() && state.socket.pendingEvents.writable }
                return batch
            }
            holdingSends = true
            batch.forEach(onReceive)
            flushHeldSends()
            total += batch.count
            if batch.count < 16 { break }
        }
        if wroteReady { onWritable() }
        return total > 0
    }

    private func runPendingWork() -> Bool {
        let batch = pending.withLock { queue -> [Work] in
            defer { queue.removeAll(keepingCapacity: true) }
            return queue
        }
        holdingSends = true
        for work in batch {
            switch work {
            case .job(let job): job.runSynchronously(on: asUnownedTaskExecutor())
            case .closure(let body): body()
            }
        }
        flushHeldSends()
        return !batch.isEmpty
    }

    /// Sends what was held during a batch, under one lock.
    private func flushHeldSends() {
        holdingSends = false
        guard !outbox.isEmpty else { return }
        // Stopped from this thread during the batch: the socket is closed and the owner may be gone.
        if stopRequested.load(ordering: .sequentiallyConsistent) {
            outbox.removeAll()
            return
        }
        var failures: [(ZMQError, [[UInt8]], UInt64)] = []
        let mustWake = socketState.withLock { state -> Bool in
            for (frames, tag) in outbox {
                do {
                    try state.socket.send(frames, wait: false)
                } catch {
                    failures.append((error as? ZMQError ?? ZMQError(code: EINVAL, operation: "send"), frames, tag))
                }
            }
            return state.loopIsPolling && state.socket.pendingEvents.readable
        }
        outbox.removeAll(keepingCapacity: outbox.count <= Self.heldSendsLimit)
        if mustWake { wake.signal() }
        for (error, frames, tag) in failures { onSendFailure(error, frames, tag) }
    }
}
