import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Waits for SIGINT or SIGTERM, which start a clean shutdown instead of killing the process.
public enum ShutdownSignal {
    /// Returns the name of the first of SIGINT or SIGTERM the process receives.
    public static func wait() async -> String {
        let (names, continuation) = AsyncStream.makeStream(of: String.self)
        let sources = [(SIGINT, "SIGINT"), (SIGTERM, "SIGTERM")].map { number, name in
            signal(number, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { continuation.yield(name) }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        for await name in names {
            return name
        }
        return "end of signal stream"
    }
}
