import Foundation

/// The stock QR decoder (zbar's `zbarimg`), reading a PNG as a phone's camera would.
public enum Zbar {
    /// The text of the QR code in `png`, or "" when zbar finds none.
    public static func scan(_ png: [UInt8]) throws -> String {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("qr-\(UUID()).png")
        try Data(png).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        let text = try StockTools.outcome(executable: URL(fileURLWithPath: "/usr/bin/zbarimg"),
                                          ["--raw", "-q", file.path]).stdout
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}
