import GRDB

/// Report delivery's tables and their migrations (record types in `Rows/`).
enum DeliveryStore {
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("delivery.v1") { db in
            try db.create(table: DeliveryUserRow.databaseTableName) { t in
                t.primaryKey("user_name", .text)
                t.column("created_ms", .integer).notNull()
                t.column("ready_ms", .integer)
                t.column("pgp_fingerprint", .text).notNull().defaults(to: "")
                t.column("primary_language", .text).notNull().defaults(to: "en")
                t.column("secondary_language", .text).notNull().defaults(to: "")
                t.column("channels", .text).notNull().defaults(to: "")
            }
            try db.create(table: SSHKeyRow.databaseTableName) { t in
                t.column("user_name", .text).notNull().indexed()
                t.column("fingerprint", .text).notNull()
                t.column("key_type", .text).notNull()
                t.column("bits", .integer).notNull()
                t.column("blob", .blob).notNull()
                t.column("comment", .text).notNull()
                t.column("added_ms", .integer).notNull()
                t.primaryKey(["user_name", "fingerprint"])
            }
            try db.create(table: AddressRow.databaseTableName) { t in
                t.column("user_name", .text).notNull()
                t.column("position", .integer).notNull()
                t.column("address_range", .text).notNull()
                t.primaryKey(["user_name", "position"])
            }
            try db.create(table: StatementRow.databaseTableName) { t in
                t.primaryKey("statement_id", .text)
                t.column("user_name", .text).notNull().indexed()
                t.column("name", .text).notNull()
                t.column("period", .text).notNull()
                t.column("state", .text).notNull().indexed()
                t.column("file_name", .text).notNull()
                t.column("received_ms", .integer).notNull()
                t.column("delivered_ms", .integer)
                t.column("purged_ms", .integer)
                t.column("size_bytes", .integer).notNull()
                t.column("sealed", .blob)
            }
            try db.create(table: CenterMessageRow.databaseTableName) { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("user_name", .text).notNull().indexed()
                t.column("created_ms", .integer).notNull()
                t.column("language", .text).notNull()
                t.column("subject", .text).notNull()
                t.column("body", .text).notNull()
                t.column("statement_id", .text).notNull()
            }
        }

        migrator.registerMigration("delivery.v2") { db in
            // ACC-05: the broker's user names, from AccountOpened.
            try db.create(table: AccountRow.databaseTableName) { t in
                t.primaryKey("user_name", .text)
                t.column("account_id", .text).notNull()
                t.column("opened_ms", .integer).notNull()
            }
        }

        migrator.registerMigration("delivery.v3") { db in
            // DLV-08: statements from events, until delivered.
            try db.create(table: InboxRow.databaseTableName) { t in
                t.primaryKey("statement_id", .text)
                t.column("sealed", .blob).notNull()
                t.column("received_ms", .integer).notNull()
                t.column("attempts", .integer).notNull()
            }
        }
    }
}
