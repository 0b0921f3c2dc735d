import GRDB
import Logging

#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// Opens a service's own SQLite database: one file in its data directory, WAL mode,
/// migrations applied in order (the outbox's first, then the service's).
public enum ServiceDatabase {
    /// Opens (creating when needed) `<dataDirectory>/<name>.sqlite` and migrates it.
    ///
    /// - Parameter migrations: registers the service's migrations; never edit one that
    ///   has shipped, add a new one.
    public static func open(
        dataDirectory: String, name: String, logger: Logger,
        migrations: (inout DatabaseMigrator) -> Void = { _ in }
    ) throws -> DatabasePool {
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let path = dataDirectory.hasSuffix("/") ? "\(dataDirectory)\(name).sqlite" : "\(dataDirectory)/\(name).sqlite"
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            // WAL (DatabasePool's default) with NORMAL sync: durable across a process crash,
            // which is the failure the services must survive; fsync on every checkpoint.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        var migrator = DatabaseMigrator()
        Outbox.registerMigrations(&migrator)
        migrations(&migrator)
        try migrator.migrate(pool)
        logger.info("database open", metadata: ["path": "\(path)", "journal": "wal"])
        return pool
    }
}
