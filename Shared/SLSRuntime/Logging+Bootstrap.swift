import Logging
import Synchronization

private let bootstrapped = Atomic<Bool>(false)

/// Sets up swift-log once per process: one line per entry on standard error, every value
/// escaped and bounded (see ``SafeLogHandler``).
public func bootstrapLogging(level: String) {
    guard !bootstrapped.exchange(true, ordering: .sequentiallyConsistent) else { return }
    let level = Logger.Level(rawValue: level) ?? .info
    LoggingSystem.bootstrap { label in
        var handler = SafeLogHandler(label: label)
        handler.logLevel = level
        return handler
    }
}
