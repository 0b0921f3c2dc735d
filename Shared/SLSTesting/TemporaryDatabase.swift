import Foundation
import GRDB
import Logging
import SLSStorage

/// A service database in a folder of its own under the system's temporary directory,
/// opened exactly as a service opens it (WAL, migrations), removed when the value goes away.
public final class TemporaryDatabase: @unchecked Sendable {
    /// The folder holding the database file.
    public let directory: String
    public let name: String
    private let migrations: @Sendable (inout DatabaseMigrator) -> Void
    public private(set) var pool: DatabasePool

    public init(name: String = "test", migrations: @escaping @Sendable (inout DatabaseMigrator) -> Void = { _ in })
        throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("\(name)-\(UUID())").path
        self.name = name
        self.migrations = migrations
        pool = try ServiceDatabase.open(dataDirectory: directory, name: name, logger: Logger(label: "test"),
                                        migrations: migrations)
    }

    /// Opens the same file again, as a restarted service would.
    public func reopen() throws -> DatabasePool {
        pool = try ServiceDatabase.open(dataDirectory: directory, name: name, logger: Logger(label: "test"),
                                        migrations: migrations)
        return pool
    }

    deinit {
        try? FileManager.default.removeItem(atPath: directory)
    }
}
