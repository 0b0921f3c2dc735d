import Foundation

/// One DSC+ card from the inventory file: its serial, its OCRA seed and suite.
public struct CardRecord: Sendable, Equatable {
    public let serial: String
    /// The OCRA key. Never returned by any method nor logged; sealed at rest.
    public let seed: [UInt8]
    /// e.g. `OCRA-1:HOTP-SHA1-8:QN06`.
    public let suite: String
}

/// The DSC+ card inventory file, one card a line: `serial,seed,suite` (seed in hex, 16 to 64
/// bytes), `#` comments and blank lines allowed, as privacyIDEA imports OATH/OCRA tokens.
public enum CardInventory {
    /// Most cards one file may hold.
    public static let maxCards = 100_000

    /// The cards of `text`; throws a message naming the line and the field, never the seed.
    public static func parse(_ text: String) throws(CardInventoryError) -> [CardRecord] {
        var cards: [CardRecord] = []
        var serials = Set<String>()
        for (index, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let number = index + 1
            let fields = line.split(separator: ",", omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces) }
            guard fields.count == 3 else { throw .line(number, "expected serial,seed,suite (3 fields), got \(fields.count)") }
            let serial = fields[0], suite = fields[2]
            guard !serial.isEmpty, serial.utf8.count <= 64,
                  serial.unicodeScalars.allSatisfy({ CharacterSet.alphanumerics.contains($0) && $0.isASCII || $0 == "-" }) else {
                throw .line(number, "serial must be 1 to 64 letters, digits or '-'")
            }
            guard let seed = hex(fields[1]), (16...64).contains(seed.count) else {
                throw .line(number, "seed must be 16 to 64 bytes in hex")
            }
            guard OCRASuite.isValid(suite) else {
                throw .line(number, "suite must be an OCRA suite such as OCRA-1:HOTP-SHA1-8:QN06")
            }
            guard serials.insert(serial).inserted else { throw .line(number, "serial \(serial) appears twice") }
            cards.append(CardRecord(serial: serial, seed: seed, suite: suite))
            guard cards.count <= maxCards else { throw .tooMany(limit: maxCards) }
        }
        return cards
    }

    private static func hex(_ text: String) -> [UInt8]? {
        let digits = Array(text.utf8)
        guard digits.count % 2 == 0, digits.count <= 256 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for pair in stride(from: 0, to: digits.count, by: 2) {
            guard let high = nibble(digits[pair]), let low = nibble(digits[pair + 1]) else { return nil }
            bytes.append(high << 4 | low)
        }
        return bytes
    }

    private static func nibble(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x61...0x66: byte - 0x61 + 10
        case 0x41...0x46: byte - 0x41 + 10
        default: nil
        }
    }
}

/// The card suites DSC+ uses: `OCRA-1:HOTP-<hash>-8:QN<nn>`, a numeric challenge, 8 digits and
/// nothing else (the card checks its own PIN; no counter, session or time).
public enum OCRASuite {
    public static func isValid(_ suite: String) -> Bool {
        let parts = suite.split(separator: ":", omittingEmptySubsequences: false)
        guard suite.utf8.count <= 64, parts.count == 3, parts[0] == "OCRA-1", !parts[2].contains("-"),
              parts[2].hasPrefix("QN") else { return false }
        let function = parts[1].split(separator: "-")
        guard function.count == 3, function[0] == "HOTP", ["SHA1", "SHA256", "SHA512"].contains(function[1]),
              let digits = Int(function[2]), digits == 8 else { return false }  // CHL-05: an 8-digit response
        let inputs = parts[2].split(separator: "-")
        guard let question = inputs.first(where: { $0.hasPrefix("Q") }), question.count == 4,
              ["A", "N", "H"].contains(question.dropFirst().prefix(1)),
              let length = Int(question.dropFirst(2)), (4...64).contains(length) else { return false }
        return true
    }
}

public enum CardInventoryError: Error, Sendable, Equatable, CustomStringConvertible {
    case line(Int, String)
    case tooMany(limit: Int)

    public var description: String {
        switch self {
        case .line(let number, let problem): "inventory line \(number): \(problem)"
        case .tooMany(let limit): "the inventory holds more than \(limit) cards"
        }
    }
}
