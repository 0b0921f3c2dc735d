import Foundation

/// The proto3 JSON mapping (https://protobuf.dev/programming-guides/json/) as generated messages'
/// `Codable` conformance follows it, so JSON from grpcurl, `google.protobuf.json_format` or
/// protojson reads here and ours reads there:
///
/// * keys are the fields' `json_name` (lowerCamelCase: `accountId`); the original proto names
///   (`account_id`) are accepted too, but not both for one field;
/// * a key that names no field is refused, naming it and the fields there are;
/// * 64-bit integers are written as strings; strings and numbers are read;
/// * enums are written by name and read by name or number; bytes are base64 (standard or URL-safe);
/// * `null` and absent fields take the proto3 default.
public struct ProtoJSONKey: CodingKey, Hashable {
    public let stringValue: String
    public var intValue: Int? { nil }

    public init(_ name: String) { stringValue = name }
    public init?(stringValue: String) { self.stringValue = stringValue }
    public init?(intValue: Int) { nil }
}

/// JSON that does not fit a message: an unknown field, a field given twice, a bad number.
public struct ProtoJSONError: Error, CustomStringConvertible, Sendable, Equatable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// One field's two accepted JSON names.
public struct ProtoJSONField: Sendable {
    public let jsonName: String
    public let protoName: String

    public init(_ jsonName: String, _ protoName: String) {
        self.jsonName = jsonName
        self.protoName = protoName
    }
}

/// Reading one message's JSON object with the rules above.
public struct ProtoJSONReader {
    private let container: KeyedDecodingContainer<ProtoJSONKey>
    private let message: String

    /// Refuses keys that name no field of `message` (with `fields`), and fields given under both names.
    public init(_ decoder: any Decoder, message: String, fields: [ProtoJSONField]) throws {
        container = try decoder.container(keyedBy: ProtoJSONKey.self)
        self.message = message
        var known: [String: String] = [:]
        for field in fields {
            known[field.jsonName] = field.protoName
            known[field.protoName] = field.protoName
        }
        var seen: Set<String> = []
        for key in container.allKeys {
            guard let field = known[key.stringValue] else {
                let names = fields.map(\.jsonName).joined(separator: ", ")
                // Named back only when it looks like a field name: the key is free text from outside.
                let name = key.stringValue
                let shown = name.utf8.count <= 64 && name.utf8.allSatisfy { byte in
                    (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
                        || byte == UInt8(ascii: "_")
                } ? "'\(name)'" : "(a key that is no field name)"
                throw ProtoJSONError("unknown field \(shown) in \(message)"
                                     + (names.isEmpty ? " (it has no fields)" : "; its fields are \(names)"))
            }
            guard seen.insert(field).inserted else {
                throw ProtoJSONError("field \(field) of \(message) is given twice (by its JSON and its proto name)")
            }
        }
    }

    private func key(_ field: ProtoJSONField) -> ProtoJSONKey? {
        let json = ProtoJSONKey(field.jsonName)
        if container.contains(json) { return json }
        let proto = ProtoJSONKey(field.protoName)
        return container.contains(proto) ? proto : nil
    }

    /// A field of any `Decodable` type (strings, bools, 32-bit numbers, enums, messages, lists of them).
    public func value<T: Decodable>(_ type: T.Type, _ field: ProtoJSONField) throws -> T? {
        guard let key = key(field), try !container.decodeNil(forKey: key) else { return nil }
        return try container.decode(T.self, forKey: key)
    }

    /// A bytes field: standard or URL-safe base64, padding optional.
    public func bytes(_ field: ProtoJSONField) throws -> Data? {
        guard let text = try value(String.self, field) else { return nil }
        return try Self.base64(text, field: field.protoName, message: message)
    }

    public func bytesList(_ field: ProtoJSONField) throws -> [Data]? {
        guard let texts = try value([String].self, field) else { return nil }
        return try texts.map { try Self.base64($0, field: field.protoName, message: message) }
    }

    /// A 64-bit integer field, from a string or a number.
    public func integer<T: FixedWidthInteger & Decodable>(_ type: T.Type, _ field: ProtoJSONField) throws -> T? {
        guard let key = key(field), try !container.decodeNil(forKey: key) else { return nil }
        return try Self.integer(T.self, from: container.superDecoder(forKey: key), field: field.protoName, message: message)
    }

    public func integers<T: FixedWidthInteger & Decodable>(_ type: T.Type, _ field: ProtoJSONField) throws -> [T]? {
        guard let key = key(field), try !container.decodeNil(forKey: key) else { return nil }
        var list = try container.nestedUnkeyedContainer(forKey: key)
        var values: [T] = []
        while !list.isAtEnd {
            values.append(try Self.integer(T.self, from: try list.superDecoder(), field: field.protoName, message: message))
        }
        return values
    }

    private static func integer<T: FixedWidthInteger & Decodable>(_ type: T.Type, from decoder: any Decoder,
                                                                   field: String, message: String) throws -> T {
        let single = try decoder.singleValueContainer()
        if let number = try? single.decode(T.self) { return number }
        if let text = try? single.decode(String.self), let number = T(text) { return number }
        throw ProtoJSONError("field \(field) of \(message) must be a whole number from \(T.min) to \(T.max), "
                             + "as a number or a string")
    }

    private static func base64(_ text: String, field: String, message: String) throws -> Data {
        var standard = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        standard += String(repeating: "=", count: (4 - standard.count % 4) % 4)
        guard let data = Data(base64Encoded: standard) else {
            throw ProtoJSONError("field \(field) of \(message) must be base64")
        }
        return data
    }
}

/// Writing one message's JSON object: json_name keys, 64-bit integers as strings.
public struct ProtoJSONWriter {
    private var container: KeyedEncodingContainer<ProtoJSONKey>

    public init(_ encoder: any Encoder) {
        container = encoder.container(keyedBy: ProtoJSONKey.self)
    }

    public mutating func value<T: Encodable>(_ value: T, _ jsonName: String) throws {
        try container.encode(value, forKey: ProtoJSONKey(jsonName))
    }

    public mutating func optional<T: Encodable>(_ value: T?, _ jsonName: String) throws {
        try container.encodeIfPresent(value, forKey: ProtoJSONKey(jsonName))
    }

    public mutating func integer<T: FixedWidthInteger>(_ value: T, _ jsonName: String) throws {
        try container.encode(String(value), forKey: ProtoJSONKey(jsonName))
    }

    public mutating func integers<T: FixedWidthInteger>(_ values: [T], _ jsonName: String) throws {
        try container.encode(values.map { String($0) }, forKey: ProtoJSONKey(jsonName))
    }
}
