import SLSProtoC

/// The link between a generated Swift message and the C struct protoc-c generated for it.
///
/// Only generated code conforms. Encoding builds the C struct in a ``CArena`` and lets
/// protobuf-c pack it; decoding lets protobuf-c unpack and copies the result into Swift.
protocol CBridged: ProtoMessage {
    associatedtype CStruct
    static var wireLayout: WireLayout { get }
    static func cInit(_ c: UnsafeMutablePointer<CStruct>)
    static func cPackedSize(_ c: UnsafePointer<CStruct>) -> Int
    static func cPack(_ c: UnsafePointer<CStruct>, _ out: UnsafeMutablePointer<UInt8>) -> Int
    static func cUnpack(_ bytes: UnsafeBufferPointer<UInt8>, _ allocator: UnsafeMutablePointer<ProtobufCAllocator>)
        -> UnsafeMutablePointer<CStruct>?
    func fill(_ c: UnsafeMutablePointer<CStruct>, _ arena: CArena)
    init(_c c: UnsafePointer<CStruct>) throws
}

/// protobuf-c reads its input through a non-null pointer even when it is empty.
private let emptyInput: [UInt8] = [0]

extension CBridged {
    /// Decodes through protobuf-c; generated `init(serializedBytes:)` forwards here.
    ///
    /// protobuf-c allocates the unpacked message and each string from a ``CArena``, which
    /// frees everything at once when the Swift value has been built.
    static func decodeThroughC(_ bytes: [UInt8]) throws -> Self {
        try bytes.withUnsafeBufferPointer { buffer throws(ProtoDecodingError) in
            try wireLayout.check(buffer)
        }
        let arena = CArena.make()
        var allocator = arena.protobufAllocator
        let unpacked = withUnsafeMutablePointer(to: &allocator) { allocator in
            bytes.isEmpty
                ? emptyInput.withUnsafeBufferPointer { cUnpack(UnsafeBufferPointer(start: $0.baseAddress, count: 0), allocator) }
                : bytes.withUnsafeBufferPointer { cUnpack($0, allocator) }
        }
        guard let unpacked else {
            throw ProtoDecodingError("bytes are not a valid \(protoName) (\(bytes.count) bytes)")
        }
        return try withExtendedLifetime(arena) { try Self(_c: unpacked) }
    }

    /// Encodes through protobuf-c; generated `serializedBytes()` forwards here.
    func encodeThroughC() -> [UInt8] {
        let arena = CArena.make()
        // The C struct lives in the arena: keep it until protobuf-c has packed it.
        return withExtendedLifetime(arena) {
            let c = arena.message(self)
            let size = Self.cPackedSize(c)
            guard size > 0 else { return [] }
            return [UInt8](unsafeUninitializedCapacity: size) { buffer, count in
                count = Self.cPack(c, buffer.baseAddress!)
            }
        }
    }
}
