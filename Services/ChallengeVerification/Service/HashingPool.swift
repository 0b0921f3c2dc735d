import Dispatch
import SLSBus

/// Runs blocking password hashing off the socket threads, at most `width` at once (the cores), so
/// 200 logins in flight hold `width` hash buffers, not 200.
actor HashingPool {
    private let width: Int
    /// Hashes waiting at most; past it a call is refused at once, so a flood cannot pile up.
    private let queueLimit: Int
    private var running = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(width: Int, queueLimit: Int = 256) {
        self.width = max(1, width)
        self.queueLimit = max(1, queueLimit)
    }

    /// Runs `work` on a dispatch thread when a slot is free and returns its result.
    func run<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
        if running >= width {
            guard waiting.count < queueLimit else {
                throw RPCError(.resourceExhausted, "\(queueLimit) password checks are waiting already; retry shortly")
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
