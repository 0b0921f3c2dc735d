/// DLV-06: a path inside a user's folder, as the SFTP client names it.
///
/// The client sees its folder as `/`. A path is normalised by its text alone: `.` and empty parts
/// drop out and `..` goes up one level but never above `/`, so `../../etc/passwd`, `/etc/passwd`
/// and `/../x` all name files inside the folder. Symbolic links are not followed when the path is
/// opened (the SFTP session opens every part with `O_NOFOLLOW`), which closes the other way out.
public struct VirtualPath: Sendable, Equatable, CustomStringConvertible {
    /// The parts below the folder; empty for the folder itself.
    public let components: [String]

    public static let root = VirtualPath(components: [])
    /// The longest path accepted, in bytes.
    public static let maxBytes = 1024
    /// The longest single name accepted, in bytes (ext4's limit).
    public static let maxNameBytes = 255

    public init(components: [String]) {
        self.components = components
    }

    /// Normalises `text` relative to `/` (the folder).
    public init(_ text: String) throws(VirtualPathError) {
        guard text.utf8.count <= Self.maxBytes else { throw .tooLong(limit: Self.maxBytes) }
        var parts: [String] = []
        for part in text.split(separator: "/", omittingEmptySubsequences: true) {
            switch part {
            case ".": continue
            case "..": if !parts.isEmpty { parts.removeLast() }
            default:
                guard part.utf8.count <= Self.maxNameBytes else { throw .nameTooLong(limit: Self.maxNameBytes) }
                parts.append(String(part))
            }
        }
        components = parts
    }

    /// The path the client is shown: `/` and the parts.
    public var description: String { "/" + components.joined(separator: "/") }

    public var isRoot: Bool { components.isEmpty }
    public var name: String { components.last ?? "/" }
    public var parent: VirtualPath { VirtualPath(components: Array(components.dropLast())) }
}

public enum VirtualPathError: Error, Sendable, Equatable, CustomStringConvertible {
    case tooLong(limit: Int)
    case nameTooLong(limit: Int)

    public var description: String {
        switch self {
        case .tooLong(let limit): "the path is longer than \(limit) bytes"
        case .nameTooLong(let limit): "a name in the path is longer than \(limit) bytes"
        }
    }
}
