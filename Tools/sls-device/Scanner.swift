import Foundation

/// Reads the activation string from a QR code PNG with the stock decoder (zbar's `zbarimg`), as the
/// phone's camera would, or takes it as typed.
enum Scanner {
    static func string(qr: String?, typed: String?) throws -> String {
        switch (qr, typed) {
        case (let path?, nil):
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/zbarimg")
            process.arguments = ["--raw", "-q", path]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = Pipe()
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines)
            process.waitUntilExit()
            guard process.terminationStatus == 0, !text.isEmpty else {
                throw DeviceError("no QR code could be read from \(path) (zbarimg exit \(process.terminationStatus))")
            }
            // ENR-11: the code is a link carrying the string; the app takes it from the link.
            guard let components = URLComponents(string: text),
                  let string = components.queryItems?.first(where: { $0.name == "s" })?.value else {
                throw DeviceError("the QR code is not an IB Key activation link")
            }
            return string
        case (nil, let string?):
            return string
        default:
            throw DeviceError("give the activation string either as --qr PNG or as --string TEXT")
        }
    }
}
