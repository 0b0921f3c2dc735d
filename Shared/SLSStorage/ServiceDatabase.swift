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
        try makePrivateDirectory(dataDirectory)
        let path = dataDirectory.hasSuffix("/") ? "\(dataDirectory)\(name).sqlite" : "\(dataDirectory)/\(name).sqlite"
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        configuration.maximumReaderCount = 4
        configuration.prepareDatabase { db in
            // WAL (DatabasePool's default) with NORMAL sync: durable across a process crash,
            // which is the failure the services must survive; fsync on every checkpoint.
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            // 1 MiB of page cache per connection (SQLite's default is 2 MiB): the services keep
            // what they read often in memory themselves, and this bounds what SQLite holds.
            try db.execute(sql: "PRAGMA cache_size = -1024")
        }
        let pool = try DatabasePool(path: path, configuration: configuration)
        // SQLite gives the -wal and -shm files the main file's mode; make every one private,
        // including files an older version created readable by everyone.
        for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
            try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path + suffix)
        }
        var migrator = DatabaseMigrator()
        Outbox.registerMigrations(&migrator)
        migrations(&migrator)
        try migrator.migrate(pool)
        logger.info("database open", metadata: ["path": "\(path)", "journal": "wal"])
        return pool
    }

    /// Creates `path` (and missing parents) readable by its owner only, and narrows an
    /// existing one to 0700: the data of one user's service is nobody else's business.
    public static func makePrivateDirectory(_ path: String) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try FileManager.default.setAttributes([.posixPermissions: 0o700], ofItemAtPath: path)
    }
}
