import Foundation
import Logging
import SLSStorage
import Testing

@Suite("Data files are private whatever the umask")
struct PrivateFilesTests {
    @Test func theDataFolderIs0700AndItsFiles0600() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("private-\(UUID())").path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let previous = umask(0o022)
        defer { umask(previous) }
        // An older version left the folder open to everyone: it is narrowed.
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o755])
        let pool = try ServiceDatabase.open(dataDirectory: root, name: "svc", logger: Logger(label: "test"))
        try pool.write { try $0.execute(sql: "CREATE TABLE t (x)") }
        func mode(_ path: String) throws -> Int {
            try (FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
        }
        #expect(try mode(root) == 0o700)
        for name in try FileManager.default.contentsOfDirectory(atPath: root) {
            #expect(try mode("\(root)/\(name)") == 0o600, "\(name)")
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).contains("svc.sqlite-wal"))
    }
}
