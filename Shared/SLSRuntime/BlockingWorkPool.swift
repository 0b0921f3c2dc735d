import Dispatch
import SLSBus

/// Runs blocking work (password hashing, GnuPG) off the socket threads and off Swift's task pool,
/// at most `width` at once, so a burst of calls holds `width` workers' buffers, not one per call.
public actor BlockingWorkPool {
    private let width: Int
    /// Jobs waiting at most; past it a call is refused at once, so a flood cannot pile up.
    private let queueLimit: Int
    /// What the jobs are, for the refusal: "password checks".
    private let jobs: String
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    public init(width: Int, queueLimit: Int = 256, jobs: String) {
        self.width = max(1, width)
        self.queueLimit = max(1, queueLimit)
        self.jobs = jobs
    }

    /// Runs `work` on a dispatch thread when a slot is free and returns its result. May wait for a
    /// slot; throws RESOURCE_EXHAUSTED when `queueLimit` jobs are waiting already.
    public func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        if running >= width {
            guard waiting.count < queueLimit else {
                throw RPCError(.resourceExhausted, "\(queueLimit) \(jobs) are waiting already; retry shortly")
            }
            await withCheckedContinuation { waiting.append($0) }
        } else {
            running += 1
        }
        defer { release() }
        return try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global(qos: .userInitiated).async {
                continuation.resume(with: Result { try work() })
            }
        }
    }

    private func release() {
        if waiting.isEmpty {
            running -= 1
        } else {
            waiting.removeFirst().resume()
        }
    }
}
