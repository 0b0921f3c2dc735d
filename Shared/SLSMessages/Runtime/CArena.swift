import SLSProtoC

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Owns the C memory of one message being encoded and frees it all at once.
///
/// Generated `fill` functions allocate strings, byte buffers, nested messages and
/// arrays here; the arena lives exactly as long as one `serializedBytes()` call. Small
/// allocations are carved from a block allocated with the arena object itself (one
/// allocation per message; most messages need no other), larger ones get their own
/// zeroed memory.
final class CArena: ManagedBuffer<CArena.State, UInt8> {
    /// Bookkeeping kept in the arena's header.
    struct State {
        var used = 0
        var largeAllocations: [UnsafeMutableRawPointer] = []
    }

    /// With the object's own header, under glibc's per-thread cache limit (1,032 bytes a chunk),
    /// so the memory is recycled without a trip through the main allocator.
    private static let blockSize = 960

    /// A new, empty arena.
    static func make() -> CArena {
        unsafeDowncast(create(minimumCapacity: blockSize) { _ in State() }, to: CArena.self)
    }

    deinit {
        withUnsafeMutablePointerToHeader { state in
            for pointer in state.pointee.largeAllocations { free(pointer) }
        }
    }

    /// Zeroed memory, aligned for any C type (16 bytes).
    fileprivate func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = max(byteCount, 1)
        return withUnsafeMutablePointers { state, elements in
            let block = UnsafeMutableRawPointer(elements)
            // Aligned on the address, not the offset: the block starts wherever the header ends.
            let misalignment = Int(bitPattern: block) & 15
            let start = ((misalignment + state.pointee.used + 15) & ~15) - misalignment
            if start + size <= Self.blockSize {
                state.pointee.used = start + size
                let pointer = block + start
                pointer.initializeMemory(as: UInt8.self, repeating: 0, count: size)
                return pointer
            }
            guard let pointer = calloc(1, size) else {
                fatalError("out of memory encoding a message of \(byteCount) bytes")
            }
            state.pointee.largeAllocations.append(pointer)
            return pointer
        }
    }

    /// A protobuf-c allocator drawing from this arena, for unpacking. Its `free` does
    /// nothing: the arena frees everything when it goes away. Keep the arena alive while
    /// the unpacked message is read.
    var protobufAllocator: ProtobufCAllocator {
        ProtobufCAllocator(
            alloc: { data, size in
                Unmanaged<CArena>.fromOpaque(data!).takeUnretainedValue().allocate(byteCount: size)
            },
            free: { _, _ in },
            allocator_data: Unmanaged.passUnretained(self).toOpaque())
    }

    /// A NUL-terminated copy of `string`, straight from its UTF-8 storage.
    func cString(_ string: String) -> UnsafeMutablePointer<CChar> {
        var string = string
        return string.withUTF8 { utf8 in
            // Zeroed memory: the byte after the copy is the terminator.
            let pointer = allocate(byteCount: utf8.count + 1)
            if let source = utf8.baseAddress { pointer.copyMemory(from: source, byteCount: utf8.count) }
            return pointer.bindMemory(to: CChar.self, capacity: utf8.count + 1)
        }
    }

    /// A copy of `data` as protobuf-c's binary type.
    func binary(_ data: Data) -> ProtobufCBinaryData {
        let pointer = allocate(byteCount: data.count).bindMemory(to: UInt8.self, capacity: data.count)
        data.copyBytes(to: pointer, count: data.count)
        return ProtobufCBinaryData(len: data.count, data: pointer)
    }

    /// A C struct for `message`, initialised by protobuf-c and filled from Swift.
    func message<M: CBridged>(_ message: M) -> UnsafeMutablePointer<M.CStruct> {
        let pointer = allocate(byteCount: MemoryLayout<M.CStruct>.stride)
            .bindMemory(to: M.CStruct.self, capacity: 1)
        M.cInit(pointer)
        message.fill(pointer, self)
        return pointer
    }

    /// A C array holding `elements`, or nil when empty (as protobuf-c expects).
    func array<T>(_ elements: [T]) -> UnsafeMutablePointer<T>? {
        guard !elements.isEmpty else { return nil }
        let pointer = allocate(byteCount: MemoryLayout<T>.stride * elements.count)
            .bindMemory(to: T.self, capacity: elements.count)
        pointer.initialize(from: elements, count: elements.count)
        return pointer
    }

    /// A Swift string from a C string protobuf-c unpacked (nil reads as empty).
    static func string(_ pointer: UnsafePointer<CChar>?) -> String {
        pointer.map { String(cString: $0) } ?? ""
    }

    /// A copy of bytes protobuf-c unpacked.
    static func data(_ binary: ProtobufCBinaryData) -> Data {
        guard binary.len > 0, let bytes = binary.data else { return Data() }
        return Data(bytes: bytes, count: binary.len)
    }

    /// An element of a repeated message field; protobuf-c never leaves one null, but a null must not crash.
    static func nonNull<C>(_ pointer: UnsafeMutablePointer<C>?, field: String) throws -> UnsafePointer<C> {
        guard let pointer else { throw ProtoDecodingError("field \(field) holds a null message") }
        return UnsafePointer(pointer)
    }

    /// The elements of a C array protobuf-c unpacked, converted one by one.
    static func elements<C, T>(
        _ pointer: UnsafeMutablePointer<C>?, count: Int, _ convert: (C) throws -> T
    ) rethrows -> [T] {
        guard let pointer, count > 0 else { return [] }
        return try UnsafeBufferPointer(start: pointer, count: count).map(convert)
    }
}
