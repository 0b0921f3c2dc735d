import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The addresses a user may connect from (ACC-04 logins, DLV-04 SFTP): single addresses and CIDR ranges, IPv4 and IPv6.
public struct IPAllowlist: Sendable, Equatable {
    /// One entry: the network's bytes (4 or 16) and its prefix length.
    public struct Range: Sendable, Equatable, CustomStringConvertible {
        public let network: [UInt8]
        public let prefixLength: Int

        /// `203.0.113.7`, `198.51.100.0/24`, `2001:db8::/32`; host bits must be zero.
        public init(_ text: String) throws(IPAllowlistError) {
            // The entry is repeated in an error only when it could be an address: it is free text,
            // and a pasted secret must not come back in an error.
            let plausible = text.utf8.count <= 64 && text.utf8.allSatisfy { byte in
                (0x30...0x39).contains(byte) || (0x41...0x46).contains(byte) || (0x61...0x66).contains(byte)
                    || byte == UInt8(ascii: ".") || byte == UInt8(ascii: ":") || byte == UInt8(ascii: "/")
            }
            let shown = plausible ? text : ""
            let parts = text.split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count <= 2, text.utf8.count <= 64, let address = IPAllowlist.parse(String(parts[0])) else {
                throw .notAnAddress(shown)
            }
            let bits = address.count * 8
            let length = parts.count == 2 ? Int(parts[1]) : bits
            guard let length, (0...bits).contains(length) else { throw .badPrefix(shown) }
            for bit in length..<bits where address[bit / 8] & (0x80 >> UInt8(bit % 8)) != 0 {
                throw .hostBitsSet(shown)
            }
            network = address
            prefixLength = length
        }

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            for bit in 0..<prefixLength
            where (address[bit / 8] ^ network[bit / 8]) & (0x80 >> UInt8(bit % 8)) != 0 { return false }
            return true
        }

        public var description: String {
            var buffer = [CChar](repeating: 0, count: 64)
            network.withUnsafeBytes { _ = inet_ntop(network.count == 4 ? AF_INET : AF_INET6, $0.baseAddress, &buffer, 64) }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) + "/\(prefixLength)"
        }
    }

    public let ranges: [Range]
    public static let maxRanges = 100

    /// No address at all.
    public static let empty = IPAllowlist(ranges: [])

    /// The union of ranges already checked (e.g. every user's, for a check before login).
    public init(ranges: [Range]) {
        self.ranges = ranges
    }

    public init(_ entries: [String]) throws(IPAllowlistError) {
        guard entries.count <= Self.maxRanges else { throw .tooMany(limit: Self.maxRanges) }
        var ranges: [Range] = []
        for entry in entries { ranges.append(try Range(entry)) }
        self.ranges = ranges
    }

    /// Whether `address` (text) is in one of the ranges; an unparsable address is not.
    /// An IPv4-mapped IPv6 address (`::ffff:203.0.113.7`) counts as its IPv4 address.
    public func allows(_ address: String) -> Bool {
        guard var bytes = Self.parse(address) else { return false }
        if bytes.count == 16, bytes.prefix(10).allSatisfy({ $0 == 0 }), bytes[10] == 0xFF, bytes[11] == 0xFF {
            bytes = Array(bytes.suffix(4))
        }
        return ranges.contains { $0.contains(bytes) }
    }

    static func parse(_ text: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, text, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, text, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }
}

public enum IPAllowlistError: Error, Sendable, Equatable, CustomStringConvertible {
    case notAnAddress(String)
    case badPrefix(String)
    case hostBitsSet(String)
    case tooMany(limit: Int)

    public var description: String {
        switch self {
        case .notAnAddress(let text):
            (text.isEmpty ? "an entry" : "'\(text)'") + " is not an IPv4 or IPv6 address or CIDR range"
        case .badPrefix(let text):
            (text.isEmpty ? "an entry" : "'\(text)'") + ": the prefix length is 0 to 32 (IPv4) or 0 to 128 (IPv6)"
        case .hostBitsSet(let text):
            (text.isEmpty ? "an entry" : "'\(text)'") + ": the address has bits set past the prefix length (write the network)"
        case .tooMany(let limit): "at most \(limit) addresses and ranges"
        }
    }
}
