import Logging
import ServiceLifecycle

/// A piece of work a service repeats on a timer (an expiry sweep, a snapshot, a heartbeat),
/// declared once and run as a `Service` of the host's `ServiceGroup`.
///
/// The body runs at once, then every `interval`, until graceful shutdown. An error it throws is
/// logged and the job goes on at the next tick: a job that must stop the process on failure
/// throws ``PeriodicJob/Fatal`` instead.
public struct PeriodicJob: Service {
    /// Thrown by a body to stop the job, and with it the whole service, with a clear log line.
    public struct Fatal: Error, CustomStringConvertible {
        public let description: String
        public init(_ description: String) { self.description = description }
    }

    public let name: String
    public let interval: Duration
    private let body: @Sendable () async throws -> Void
    private let logger: Logger

    public init(name: String, every interval: Duration, logger: Logger, body: @escaping @Sendable () async throws -> Void) {
        self.name = name
        self.interval = interval
        self.body = body
        self.logger = logger
    }

    public func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while !Task.isCancelled {
                    do {
                        try await body()
                    } catch let fatal as Fatal {
                        throw fatal
                    } catch {
                        logger.error("periodic job failed; it runs again at the next tick",
                                     metadata: ["job": "\(name)", "error": "\(type(of: error))"])
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {
            // Graceful shutdown: the job simply stops.
        }
    }
}
