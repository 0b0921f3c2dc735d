import Foundation
import SLSRuntime
import Testing

@Suite("Secret key files")
struct SecretKeyFileTests {
    @Test func aKeyIsMadeOncePrivateAndRefusedWhenOpenToOthers() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("secret-\(UUID()).key").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        let first = try SecretKeyFile.load(path, createIfMissing: true, what: "test key")
        #expect(first.count == 32)
        #expect(try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int == 0o600)
        // Loading again, even asked to create, keeps the same key.
        #expect(try SecretKeyFile.load(path, createIfMissing: true, what: "test key") == first)
        chmod(path, 0o644)
        let open = #expect(throws: SecretKeyFileError.self) { _ = try SecretKeyFile.load(path, createIfMissing: false, what: "test key") }
        #expect(open?.description.contains("chmod 600") == true)
        chmod(path, 0o600)
        try "not hex at all".write(toFile: path, atomically: false, encoding: .utf8)
        #expect(throws: SecretKeyFileError.self) { _ = try SecretKeyFile.load(path, createIfMissing: false, what: "test key") }
        #expect(throws: SecretKeyFileError.self) { _ = try SecretKeyFile.load(path + ".missing", createIfMissing: false, what: "k") }
    }
}
