import Crypto
import Foundation

/// One audit record: who, when, from where, which factor, outcome, rule id.
public struct AuditRecord: Sendable, Equatable, Codable {
    public var userName: String
    public var atUnixMs: Int64
    public var address: String
    public var factor: String
    public var outcome: String
    public var ruleID: String

    public init(userName: String, atUnixMs: Int64, address: String, factor: String, outcome: String, ruleID: String) {
        self.userName = userName
        self.atUnixMs = atUnixMs
        self.address = address
        self.factor = factor
        self.outcome = outcome
        self.ruleID = ruleID
    }

    /// The bytes hashed: fields length-prefixed, so no two records share them.
    var canonicalBytes: [UInt8] {
        var bytes: [UInt8] = []
        for field in [userName, String(atUnixMs), address, factor, outcome, ruleID] {
            let utf8 = Array(field.utf8)
            bytes += withUnsafeBytes(of: UInt32(utf8.count).bigEndian) { Array($0) } + utf8
        }
        return bytes
    }
}

/// A tamper-evident audit log: each record carries the hash of the one before, so changing or
/// removing any record breaks every hash after it.
public enum AuditChain {
    /// The hash of the first record's predecessor.
    public static let genesis = [UInt8](repeating: 0, count: 32)

    /// The hash of `record` following `previous`.
    public static func hash(_ record: AuditRecord, after previous: [UInt8]) -> [UInt8] {
        Array(SHA256.hash(data: previous + record.canonicalBytes))
    }

    /// The index of the first record whose stored hash does not follow, or nil when the chain holds.
    public static func firstBreak(_ chain: [(record: AuditRecord, hash: [UInt8])]) -> Int? {
        var verifier = Verifier()
        for entry in chain where !verifier.accept(entry.record, hash: entry.hash) {
            return verifier.checked
        }
        return nil
    }

    /// Checks a chain one record at a time, oldest first, so a log of any length is checked in
    /// constant memory.
    public struct Verifier: Sendable {
        private var previous = AuditChain.genesis
        /// Records accepted so far: the index of the next one.
        public private(set) var checked = 0

        public init() {}

        /// Whether `record`, stored with `hash`, follows the records accepted so far. After a
        /// refusal the verifier stays where it was.
        public mutating func accept(_ record: AuditRecord, hash stored: [UInt8]) -> Bool {
            guard AuditChain.hash(record, after: previous) == stored else { return false }
            previous = stored
            checked += 1
            return true
        }
    }
}
