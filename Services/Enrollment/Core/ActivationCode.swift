import Crypto
import Foundation

/// An IB Key activation string (ENR-04): shown under the QR code as "Session ID" (Android) or
/// "Activation Code" (iOS), typed on the phone by a user who cannot scan.
///
/// Easy to type: 32 letters and digits without the look-alikes 0/O and 1/I, upper case, shown in
/// groups (`K7QX-M2WD-9HZP-4TNA`). Typing is forgiving: case, spaces and dashes do not matter.
/// The service keeps only a digest of the string, so it is looked up, never compared as text,
/// and a database leak holds no usable string.
public struct ActivationCode: Sendable, Equatable, CustomStringConvertible {
    /// The alphabet: A-Z and 2-9 without I and O (and never 0 or 1).
    public static let alphabet = Array("ABCDEFGHJKLMNPQRSTUVWXYZ23456789")

    /// The characters, upper case, without separators.
    public let characters: String

    /// A new random string of `length` characters (the system's secure random generator).
    public static func generate(length: Int) -> ActivationCode {
        var generator = SystemRandomNumberGenerator()
        // 32 letters: each random byte's low five bits pick one without bias.
        let text = String((0..<length).map { _ in alphabet[Int(UInt8.random(in: .min ... .max, using: &generator) & 31)] })
        return ActivationCode(characters: text)
    }

    /// Reads a typed or scanned string.
    ///
    /// - Throws: ``ActivationCodeError`` naming what is wrong (length, or the first character
    ///   outside the alphabet and its position) without repeating the input.
    public init(typed text: String, length: Int) throws(ActivationCodeError) {
        guard text.utf8.count <= length * 4 else { throw .tooLong(limit: length * 4) }
        var characters: [Character] = []
        for (position, character) in text.uppercased().enumerated() where character != "-" && character != " " {
            guard Self.alphabet.contains(character) else { throw .notInAlphabet(position: position + 1) }
            characters.append(character)
        }
        guard characters.count == length else { throw .wrongLength(expected: length, got: characters.count) }
        self.characters = String(characters)
    }

    private init(characters: String) {
        self.characters = characters
    }

    /// The string in groups of `group` characters, as the portal shows it.
    public func grouped(by group: Int) -> String {
        stride(from: 0, to: characters.count, by: group).map { start -> String in
            let from = characters.index(characters.startIndex, offsetBy: start)
            let to = characters.index(from, offsetBy: min(group, characters.count - start))
            return String(characters[from..<to])
        }.joined(separator: "-")
    }

    /// What the service stores and looks up: SHA-256 of the characters, hex.
    public var digest: String {
        SHA256.hash(data: Data(characters.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// Never the string itself: values reach logs.
    public var description: String { "ActivationCode(\(characters.count) characters)" }
}

/// A typed activation string that cannot be one.
public enum ActivationCodeError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLong(limit: Int)
    case wrongLength(expected: Int, got: Int)
    case notInAlphabet(position: Int)

    public var description: String {
        switch self {
        case .tooLong(let limit): "the activation string is longer than \(limit) characters"
        case .wrongLength(let expected, let got):
            "the activation string has \(expected) letters and digits (dashes and spaces aside); this one has \(got)"
        case .notInAlphabet(let position):
            "character \(position) of the activation string is not one of A-Z and 2-9 (there is no I, O, 0 or 1)"
        }
    }
}
