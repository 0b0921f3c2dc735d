import Crypto
import Foundation

/// An OCRA suite (RFC 6287), e.g. `OCRA-1:HOTP-SHA1-6:QN08` or `OCRA-1:HOTP-SHA256-8:QN06-PSHA1`.
public struct OCRASuite: Sendable, Equatable {
    public enum Hash: String, Sendable { case sha1 = "SHA1", sha256 = "SHA256", sha512 = "SHA512" }
    public enum QuestionFormat: Character, Sendable { case numeric = "N", alphanumeric = "A", hex = "H" }

    /// The suite as written; it is part of every computed message.
    public let text: String
    public let hash: Hash
    /// Digits of the response (4 to 10).
    public let digits: Int
    public let usesCounter: Bool
    public let questionFormat: QuestionFormat
    /// Most characters a question may have (4 to 64).
    public let questionLength: Int
    /// The hash of the PIN that goes into the message (`P`), if any.
    public let passwordHash: Hash?
    /// Bytes of session information (`S`), if any.
    public let sessionLength: Int?
    /// Seconds per time step (`T`), if any.
    public let timeStep: Int?

    /// Parses `text`. Throws ``OCRAError/badSuite(_:)`` saying what is wrong.
    public init(_ text: String) throws(OCRAError) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard text.utf8.count <= 64, parts.count == 3, parts[0] == "OCRA-1" else {
            throw .badSuite("an OCRA suite is OCRA-1:HOTP-<hash>-<digits>:<inputs>")
        }
        let function = parts[1].split(separator: "-")
        guard function.count == 3, function[0] == "HOTP", let hash = Hash(rawValue: String(function[1])),
              let digits = Int(function[2]), (4...10).contains(digits) else {
            throw .badSuite("the crypto function is HOTP-SHA1, -SHA256 or -SHA512 with 4 to 10 digits")
        }
        var usesCounter = false
        var question: (QuestionFormat, Int)?
        var password: Hash?
        var session: Int?
        var step: Int?
        for input in parts[2].split(separator: "-") {
            switch input.first {
            case "C" where input == "C": usesCounter = true
            case "Q":
                guard input.count == 4, let format = QuestionFormat(rawValue: input[input.index(after: input.startIndex)]),
                      let length = Int(input.dropFirst(2)), (4...64).contains(length) else {
                    throw .badSuite("the question is Q<N|A|H><04..64>")
                }
                question = (format, length)
            case "P":
                guard let hash = Hash(rawValue: String(input.dropFirst())) else { throw .badSuite("the PIN hash is PSHA1, PSHA256 or PSHA512") }
                password = hash
            case "S":
                guard input.count == 4, let length = Int(input.dropFirst()), (1...512).contains(length) else {
                    throw .badSuite("session information is S<001..512>")
                }
                session = length
            case "T":
                guard input.count >= 3, let count = Int(input.dropFirst().dropLast()), count > 0 else {
                    throw .badSuite("a time step is T<n><S|M|H>")
                }
                // RFC 6287 bounds the step (1-59 S, 1-59 M, 1-48 H); a suite arrives in events, so
                // an unbounded count would make the multiplication trap.
                switch input.last {
                case "S" where count <= 59: step = count
                case "M" where count <= 59: step = count * 60
                case "H" where count <= 48: step = count * 3600
                default: throw .badSuite("a time step is T<n><S|M|H>: 1-59 S, 1-59 M or 1-48 H")
                }
            default: throw .badSuite("unknown data input '\(input.prefix(8))'")
            }
        }
        guard let question else { throw .badSuite("the suite has no question (Q...)") }
        self.text = text
        self.hash = hash
        self.digits = digits
        self.usesCounter = usesCounter
        (questionFormat, questionLength) = question
        passwordHash = password
        sessionLength = session
        timeStep = step
    }
}

/// The inputs of one OCRA computation besides the key and the suite.
public struct OCRAInput: Sendable {
    public var counter: UInt64?
    public var question: String
    /// The PIN itself: the suite's `P` hash of it goes into the message.
    public var pin: String?
    /// The suite's `P` hash of the PIN, when the PIN itself is not known (the server's side).
    public var pinHash: [UInt8]?
    public var session: [UInt8]?
    /// Time steps since the Unix epoch (`T`).
    public var timeSteps: UInt64?

    public init(question: String, counter: UInt64? = nil, pin: String? = nil, pinHash: [UInt8]? = nil,
                session: [UInt8]? = nil, timeSteps: UInt64? = nil) {
        self.question = question
        self.pinHash = pinHash
        self.counter = counter
        self.pin = pin
        self.session = session
        self.timeSteps = timeSteps
    }
}

/// OCRA (RFC 6287): one-way and mutual challenge/response and signatures, HMAC from swift-crypto.
public enum OCRA {
    /// The response to `input` under `suite` with `key`, zero-padded to the suite's digits.
    public static func response(suite: OCRASuite, key: [UInt8], input: OCRAInput) throws(OCRAError) -> String {
        var message = Array(suite.text.utf8)
        message.append(0)
        if suite.usesCounter {
            guard let counter = input.counter else { throw .missingInput("counter") }
            message += bigEndian(counter)
        }
        message += try questionBytes(input.question, suite: suite)
        if let hash = suite.passwordHash {
            if let pin = input.pin {
                message += digest(hash, Array(pin.utf8))
            } else if let pinHash = input.pinHash, pinHash.count == digest(hash, []).count {
                message += pinHash
            } else {
                throw .missingInput("PIN")
            }
        }
        if let length = suite.sessionLength {
            guard let session = input.session, session.count == length else { throw .missingInput("session information") }
            message += session
        }
        if suite.timeStep != nil {
            guard let steps = input.timeSteps else { throw .missingInput("time") }
            message += bigEndian(steps)
        }
        let mac = hmac(suite.hash, key: key, message: message)
        let offset = Int(mac[mac.count - 1] & 0x0F)
        let binary = (UInt32(mac[offset] & 0x7F) << 24) | (UInt32(mac[offset + 1]) << 16)
            | (UInt32(mac[offset + 2]) << 8) | UInt32(mac[offset + 3])
        var modulus: UInt64 = 1
        for _ in 0..<suite.digits { modulus *= 10 }
        let value = String(UInt64(binary) % modulus)
        return String(repeating: "0", count: suite.digits - value.count) + value
    }

    /// Whether `response` is the one expected, compared in constant time (CHL-09).
    public static func verify(_ response: String, suite: OCRASuite, key: [UInt8], input: OCRAInput) throws(OCRAError) -> Bool {
        ConstantTime.equal(Array(try self.response(suite: suite, key: key, input: input).utf8), Array(response.utf8))
    }

    /// The question as RFC 6287 puts it in the message: 128 bytes, zero-padded on the right.
    static func questionBytes(_ question: String, suite: OCRASuite) throws(OCRAError) -> [UInt8] {
        // Mutual challenge/response concatenates two challenges, so the bound is the message's
        // 128 bytes, not the suite's length for one challenge.
        let limit = suite.questionFormat == .alphanumeric ? 128 : suite.questionFormat == .hex ? 256 : 128
        guard !question.isEmpty, question.utf8.count <= limit else {
            throw .badQuestion("the question has 1 to \(limit) characters")
        }
        var hex: [UInt8]
        switch suite.questionFormat {
        case .numeric:
            guard question.utf8.allSatisfy({ (0x30...0x39).contains($0) }) else { throw .badQuestion("the question is digits") }
            hex = decimalToHex(Array(question.utf8).map { $0 - 0x30 })
        case .hex:
            guard question.utf8.allSatisfy({ nibble($0) != nil }) else { throw .badQuestion("the question is hex digits") }
            hex = Array(question.utf8)
        case .alphanumeric:
            guard question.utf8.allSatisfy({ $0 >= 0x21 && $0 < 0x7F }) else {
                throw .badQuestion("the question is printable ASCII")
            }
            return Array(question.utf8) + [UInt8](repeating: 0, count: 128 - question.utf8.count)
        }
        // Hex digits, padded with '0' on the right to 256 digits, as the RFC's reference code does.
        hex += [UInt8](repeating: 0x30, count: 256 - hex.count)
        return stride(from: 0, to: 256, by: 2).map { nibble(hex[$0])! << 4 | nibble(hex[$0 + 1])! }
    }

    /// Decimal digits (most significant first) to upper-case hex digits without leading zeros.
    static func decimalToHex(_ digits: [UInt8]) -> [UInt8] {
        var number = digits.drop { $0 == 0 }.map { Int($0) }
        guard !number.isEmpty else { return [0x30] }
        var hex: [UInt8] = []
        while !number.isEmpty {
            var remainder = 0
            var quotient: [Int] = []
            for digit in number {
                let value = remainder * 10 + digit
                quotient.append(value / 16)
                remainder = value % 16
            }
            hex.append(Array("0123456789ABCDEF".utf8)[remainder])
            number = Array(quotient.drop { $0 == 0 })
        }
        return hex.reversed()
    }

    static func nibble(_ character: UInt8) -> UInt8? {
        switch character {
        case 0x30...0x39: character - 0x30
        case 0x41...0x46: character - 0x41 + 10
        case 0x61...0x66: character - 0x61 + 10
        default: nil
        }
    }

    static func bigEndian(_ value: UInt64) -> [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
    }

    /// The suite's hash of `bytes` (the `P` input is this of the PIN).
    public static func digest(_ hash: OCRASuite.Hash, _ bytes: [UInt8]) -> [UInt8] {
        switch hash {
        case .sha1: Array(Insecure.SHA1.hash(data: bytes))
        case .sha256: Array(SHA256.hash(data: bytes))
        case .sha512: Array(SHA512.hash(data: bytes))
        }
    }

    static func hmac(_ hash: OCRASuite.Hash, key: [UInt8], message: [UInt8]) -> [UInt8] {
        let key = SymmetricKey(data: key)
        return switch hash {
        case .sha1: Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
        case .sha256: Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
        case .sha512: Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
        }
    }
}

public enum OCRAError: Error, Sendable, Equatable, CustomStringConvertible {
    case badSuite(String)
    case badQuestion(String)
    case missingInput(String)

    public var description: String {
        switch self {
        case .badSuite(let why): "OCRA suite: \(why)"
        case .badQuestion(let why): "OCRA question: \(why)"
        case .missingInput(let what): "OCRA: the suite needs the \(what)"
        }
    }
}
