import Logging
import SLSRuntime
import Synchronization
import Testing

@Suite("Log lines cannot be forged or made huge")
struct SafeLogHandlerTests {
    private func logged(_ body: (Logger) -> Void) -> [String] {
        let lines = Mutex<[String]>([])
        let logger = Logger(label: "test") { label in
            SafeLogHandler(label: label) { line in lines.withLock { $0.append(line) } }
        }
        body(logger)
        return lines.withLock { $0 }
    }

    @Test func aNewlineInAValueCannotStartAForgedLine() {
        let lines = logged { logger in
            logger.warning("event dropped", metadata: ["account": "U1\n2026-01-01T00:00:00Z info x: granted"])
        }
        #expect(lines.count == 1)
        #expect(lines[0].filter { $0 == "\n" }.count == 1, "one entry, one line")
        #expect(lines[0].contains(#"account="U1\n2026-01-01T00:00:00Z info x: granted""#))
    }

    @Test func controlAndInvisibleCharactersAreShownEscaped() {
        #expect(SafeLogHandler.escaped("a\u{1B}[31mred\u{0}") == #"a\u{1b}[31mred\u{0}"#)
        #expect(SafeLogHandler.escaped("a\u{2028}b") == #"a\u{2028}b"#)
        #expect(SafeLogHandler.escaped("say \"hi\"") == #""say \"hi\"""#)
        #expect(SafeLogHandler.escaped("") == #""""#)
    }

    @Test func aMegabyteValueBecomesABoundedToken() {
        let huge = String(repeating: "x", count: 1 << 20)
        let lines = logged { logger in
            logger.info("\(huge)", metadata: ["id": "\(huge)"])
        }
        #expect(lines[0].utf8.count < 2000)
        #expect(lines[0].contains("…(+1048376 bytes)"))
        #expect(lines[0].contains("…(+1047576 bytes)"))
    }
}
