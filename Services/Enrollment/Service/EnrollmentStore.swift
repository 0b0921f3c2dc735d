import Foundation
import GRDB

/// The enrollment tables and their migrations (one GRDB record type per table, in `Rows/`).
enum EnrollmentStore {
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("enrollment.v1") { db in
            try db.create(table: UserRow.databaseTableName) { t in
                t.primaryKey("user_name", .text)
                t.column("account_id", .text).notNull().unique()
                t.column("mobile_number", .text).notNull().defaults(to: "")
                t.column("mobile_verified", .boolean).notNull().defaults(to: false)
                t.column("balance_usd", .text)
            }
            try db.create(table: FactorRow.databaseTableName) { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("user_name", .text).notNull().indexed()
                t.column("kind", .text).notNull()
                t.column("state", .text).notNull()
                t.column("since_ms", .integer).notNull()
                t.column("device_id", .text).notNull().defaults(to: "")
                t.column("platform", .text).notNull().defaults(to: "")
                t.column("device_public_key", .blob).notNull().defaults(to: Data())
                t.column("push_token", .text).notNull().defaults(to: "")
            }
            try db.create(table: ActivationRow.databaseTableName) { t in
                t.primaryKey("digest", .text)
                t.column("user_name", .text).notNull().indexed()
                t.column("issued_ms", .integer).notNull()
                t.column("consumed_ms", .integer)
            }
        }

        migrator.registerMigration("enrollment.v2") { db in
            // ENR-09: strings that move IB Key to a new phone; the phone's key-agreement key.
            try db.alter(table: ActivationRow.databaseTableName) { t in
                t.add(column: "replaces_existing", .boolean).notNull().defaults(to: false)
            }
            try db.alter(table: FactorRow.databaseTableName) { t in
                t.add(column: "device_agreement_key", .blob).notNull().defaults(to: Data())
            }
        }

        migrator.registerMigration("enrollment.v3") { db in
            // ENR-02: the DSC+ card inventory, seeds sealed.
            try db.create(table: CardRow.databaseTableName) { t in
                t.primaryKey("serial", .text)
                t.column("sealed_seed", .blob).notNull()
                t.column("suite", .text).notNull()
                t.column("assigned_user", .text).indexed()
                t.column("imported_ms", .integer).notNull()
            }
            try db.alter(table: FactorRow.databaseTableName) { t in
                t.add(column: "card_serial", .text).notNull().defaults(to: "")
            }
        }

        migrator.registerMigration("enrollment.v4") { db in
            // The Android PIN's hash, sealed by the phone for challenge verification (opaque here).
            try db.alter(table: FactorRow.databaseTableName) { t in
                t.add(column: "sealed_pin_hash", .blob).notNull().defaults(to: Data())
            }
        }

        migrator.registerMigration("enrollment.v5") { db in
            // Every activation looks its phone up by device id: without an index that read every
            // factor, so activations slowed as phones were added.
            try db.create(index: "factor_device_id", on: FactorRow.databaseTableName, columns: ["device_id"])
        }
    }
}
