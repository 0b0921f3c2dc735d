import Foundation
import QRCode
import SLSTesting
import Testing

@Suite("QR codes: libqrencode, drawn by libpng, read back by zbar")
struct QRCodeTests {
    @Test func thePNGScansBackToTheSameText() throws {
        let link = "https://ibkey.example.com/activate?s=K7QXM2WD9HZP4TNA"
        let png = try QRCode(link).png()
        #expect(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        #expect(try Zbar.scan(png) == link)
    }

    @Test func theTerminalDrawingHasOneCellPerModuleAcrossAndHalfDown() throws {
        let code = try QRCode("K7QX-M2WD-9HZP-4TNA")
        let lines = code.terminalText(margin: 2).split(separator: "\n")
        #expect(lines.count == (code.width + 4 + 1) / 2)
        #expect(lines.allSatisfy { $0.count == code.width + 4 })
        // The quiet zone is light: drawn as full blocks on the default (dark-background) terminal.
        #expect(lines[0].allSatisfy { $0 == "█" })
    }

    @Test func emptyAndOversizedTextAreRefused() {
        #expect(throws: QRCodeError.empty) { _ = try QRCode("") }
        #expect(throws: QRCodeError.self) { _ = try QRCode(String(repeating: "x", count: 5000)) }
    }
}
