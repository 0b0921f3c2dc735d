import Foundation

/// Nanoseconds from a monotonic clock.
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// The value at `fraction` (0...1) of the sorted samples.
func percentile(_ samples: [UInt64], _ fraction: Double) -> Double {
    let sorted = samples.sorted()
    guard !sorted.isEmpty else { return 0 }
    return Double(sorted[min(sorted.count - 1, Int(Double(sorted.count) * fraction))])
}

func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    return sorted[sorted.count / 2]
}

/// One figure, in the format the issues ask for.
func report(_ name: String, _ value: Double, _ unit: String) {
    emit("BENCH \(name) \(String(format: "%.2f", value)) \(unit)")
}

/// One comparison: ours divided by the baseline.
func ratio(_ name: String, _ value: Double) {
    emit("RATIO \(name) \(String(format: "%.3f", value))")
}

/// A plain thread that can be waited for (the baselines' servers block in libzmq).
final class Thread: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    init(_ body: @escaping @Sendable () -> Void) {
        Foundation.Thread.detachNewThread { [done] in
            body()
            done.signal()
        }
    }
    func join() { done.wait() }
}

/// Peak resident memory (VmHWM) of a process, in megabytes.
func peakResidentMegabytes(pid: Int32) -> Double? {
    statusMegabytes(pid: pid, field: "VmHWM:")
}

/// A memory figure of `/proc/PID/status` (given in kB there), in megabytes.
func statusMegabytes(pid: Int32, field: String) -> Double? {
    guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8) else { return nil }
    for line in status.split(separator: "\n") where line.hasPrefix(field) {
        let kilobytes = line.split(separator: " ").compactMap { Double($0) }.first ?? 0
        return kilobytes / 1024
    }
    return nil
}

/// Writes a line straight to standard output, so a piped run shows figures as they come.
func emit(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// Runs `body` in a detached task while the calling thread waits on a POSIX semaphore, so the
/// thread never parks the way Swift's async main does (valgrind cannot follow that).
func blockingMainThread(_ body: @escaping @Sendable () async throws -> Void) throws {
    let semaphore = UnsafeMutablePointer<sem_t>.allocate(capacity: 1)
    sem_init(semaphore, 0, 0)
    let outcome = OutcomeBox()
    let signal = UncheckedPointer(UnsafeMutableRawPointer(semaphore))
    Task.detached {
        do { try await body() } catch { outcome.error = error }
        sem_post(signal.pointer.assumingMemoryBound(to: sem_t.self))
    }
    while sem_wait(semaphore) != 0 {}
    sem_destroy(semaphore)
    semaphore.deallocate()
    if let error = outcome.error { throw error }
}

/// Where a detached task leaves its error for the thread that waited for it (written before the
/// semaphore is posted, read after it is taken).
final class OutcomeBox: @unchecked Sendable {
    var error: (any Error)?
}
