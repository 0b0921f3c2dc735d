import CQRCode

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A QR code (libqrencode), drawn as a PNG (libpng) or as text for a terminal.
public struct QRCode: Sendable {
    /// Dark modules, row by row, `width` x `width`.
    public let modules: [Bool]
    public let width: Int

    /// Encodes `text` (8-bit mode, error correction level M: a quarter of the code may be damaged).
    ///
    /// - Throws: ``QRCodeError`` when the text is empty or too long for a QR code.
    public init(_ text: String) throws(QRCodeError) {
        guard !text.isEmpty else { throw .empty }
        guard text.utf8.count <= 2048 else { throw .tooLong(bytes: text.utf8.count) }
        let bytes = Array(text.utf8)
        guard let code = bytes.withUnsafeBufferPointer({
            QRcode_encodeData(Int32($0.count), $0.baseAddress, 0, QR_ECLEVEL_M)
        }) else { throw .tooLong(bytes: bytes.count) }
        defer { QRcode_free(code) }
        width = Int(code.pointee.width)
        modules = (0..<(width * width)).map { code.pointee.data[$0] & 1 == 1 }
    }

    /// The code as a PNG: `scale` pixels per module, `margin` modules of white around it (4 is the
    /// standard quiet zone).
    public func png(scale: Int = 8, margin: Int = 4) throws(QRCodeError) -> [UInt8] {
        let matrix = modules.map { UInt8($0 ? 1 : 0) }
        var output: UnsafeMutablePointer<UInt8>?
        let count = matrix.withUnsafeBufferPointer {
            sls_qr_png($0.baseAddress, Int32(width), Int32(scale), Int32(margin), &output)
        }
        guard count > 0, let output else { throw .pngFailed }
        defer { free(output) }
        return Array(UnsafeBufferPointer(start: output, count: count))
    }

    /// The code as lines of text for a terminal, two modules per character cell (upper and lower
    /// half blocks) with a quiet zone. Block characters draw the *light* modules, which scans on a
    /// terminal with a dark background; `darkOnLight` draws the dark ones instead.
    public func terminalText(margin: Int = 2, darkOnLight: Bool = false) -> String {
        let size = width + 2 * margin
        func dark(_ x: Int, _ y: Int) -> Bool {
            let (mx, my) = (x - margin, y - margin)
            return mx >= 0 && my >= 0 && mx < width && my < width && modules[my * width + mx]
        }
        var lines: [String] = []
        for y in stride(from: 0, to: size, by: 2) {
            var line = ""
            for x in 0..<size {
                let upper = dark(x, y) == darkOnLight, lower = y + 1 < size && dark(x, y + 1) == darkOnLight
                switch (!upper, !lower) {
                case (false, false): line += "█"
                case (true, false): line += "▄"
                case (false, true): line += "▀"
                case (true, true): line += " "
                }
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}

public enum QRCodeError: Error, Sendable, Equatable, CustomStringConvertible {
    case empty
    case tooLong(bytes: Int)
    case pngFailed

    public var description: String {
        switch self {
        case .empty: "nothing to encode in a QR code"
        case .tooLong(let bytes): "\(bytes) bytes do not fit in a QR code"
        case .pngFailed: "the QR code could not be drawn as a PNG"
        }
    }
}
