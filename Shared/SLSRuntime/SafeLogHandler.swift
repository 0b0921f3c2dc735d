import Logging

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// swift-log's handler for every service: one line per entry, whatever the entry holds.
///
/// Messages and metadata values often carry text from outside (ids, names, reasons). Each is
/// escaped (a line break becomes `\n`, other control characters `\u{..}`, quotes and
/// backslashes are escaped), quoted when it holds a space or `=`, and cut to a bounded length
/// with the number of bytes left out, so no request can forge a log line or make a huge one.
///
/// Line format: `2026-11-26T05:39:38Z info crypto-rules: key=value key="two words" message`.
public struct SafeLogHandler: LogHandler {
    /// Longest metadata value kept, in characters.
    public static let maxValueCharacters = 200
    /// Longest message kept, in characters.
    public static let maxMessageCharacters = 1000

    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    private let label: String
    private let write: @Sendable (String) -> Void

    /// A handler writing each line to standard error.
    public init(label: String) {
        self.init(label: label, write: writeToStandardError)
    }

    /// A handler handing each finished line (with its newline) to `write`.
    public init(label: String, write: @escaping @Sendable (String) -> Void) {
        self.label = label
        self.write = write
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        var merged = metadata
        if let extra = event.metadata {
            merged.merge(extra, uniquingKeysWith: { $1 })
        }
        var line = "\(Self.timestamp()) \(event.level) \(label):"
        for key in merged.keys.sorted() {
            line += " \(Self.escaped(key, limit: 64, quoteIfSpaced: false))=\(Self.escaped(merged[key]!))"
        }
        line += " " + Self.escaped("\(event.message)", limit: Self.maxMessageCharacters, quoteIfSpaced: false)
        write(line + "\n")
    }

    /// `value` as one bounded, unforgeable token of a log line.
    public static func escaped(_ value: Logger.MetadataValue) -> String {
        switch value {
        case .string(let text): escaped(text)
        case .stringConvertible(let value): escaped(value.description)
        case .array(let values): "[" + values.prefix(20).map { escaped($0) }.joined(separator: ",") + "]"
        case .dictionary(let values):
            "{" + values.keys.sorted().prefix(20).map { "\(escaped($0, limit: 64, quoteIfSpaced: false))="
                + escaped(values[$0]!) }.joined(separator: ",") + "}"
        }
    }

    /// `text` with control characters, quotes and backslashes escaped, cut to `limit`
    /// characters (saying how many bytes were left out), quoted when it holds a space or `=`.
    public static func escaped(_ text: String, limit: Int = maxValueCharacters, quoteIfSpaced: Bool = true) -> String {
        var out = ""
        var needsQuotes = text.isEmpty
        var kept = 0
        var keptBytes = 0
        for scalar in text.unicodeScalars {
            if kept == limit { break }
            switch scalar {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case " ", "=":
                needsQuotes = true
                out.unicodeScalars.append(scalar)
            default:
                if scalar.value < 0x20 || (0x7F...0x9F).contains(scalar.value)
                    || scalar.properties.generalCategory == .lineSeparator
                    || scalar.properties.generalCategory == .paragraphSeparator
                    || scalar.properties.generalCategory == .format {
                    out += "\\u{\(String(scalar.value, radix: 16))}"
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
            kept += 1
            keptBytes += UTF8.width(scalar)
        }
        let dropped = text.utf8.count - keptBytes
        if dropped > 0 {
            out += "…(+\(dropped) bytes)"
            needsQuotes = true
        }
        return needsQuotes && quoteIfSpaced ? "\"\(out)\"" : out
    }

    private static func timestamp() -> String {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        var time = tm()
        var seconds = now.tv_sec
        gmtime_r(&seconds, &time)
        var buffer = [CChar](repeating: 0, count: 32)
        let count = strftime(&buffer, buffer.count, "%Y-%m-%dT%H:%M:%S", &time)
        let millis = now.tv_nsec / 1_000_000
        let base = String(decoding: buffer.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return base + "." + String(repeating: "0", count: millis < 10 ? 2 : millis < 100 ? 1 : 0) + "\(millis)Z"
    }
}

/// One write(2) per line, so lines of concurrent threads do not interleave.
private func writeToStandardError(_ line: String) {
    var line = line
    line.withUTF8 { bytes in
        var offset = 0
        while offset < bytes.count {
            let written = systemWrite(STDERR_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
            if written <= 0 { return }
            offset += written
        }
    }
}

#if canImport(Glibc)
private let systemWrite = Glibc.write
#elseif canImport(Darwin)
private let systemWrite = Darwin.write
#endif
