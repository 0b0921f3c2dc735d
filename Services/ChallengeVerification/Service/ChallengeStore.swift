import Foundation
import GRDB

/// The challenge-verification tables and their migrations (record types in `Rows/`).
enum ChallengeStore {
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("challenge.v1") { db in
            try db.create(table: CVUserRow.databaseTableName) { t in
                t.primaryKey("user_name", .text)
                t.column("password_hash", .text)
                t.column("ip_restricted", .boolean).notNull().defaults(to: false)
                t.column("ip_allowed", .text).notNull().defaults(to: "")
            }
            try db.create(table: PhoneRow.databaseTableName) { t in
                t.column("user_name", .text).notNull()
                t.column("device_id", .text).notNull()
                t.column("platform", .text).notNull()
                t.column("agreement_key", .blob).notNull()
                t.column("active", .boolean).notNull()
                t.primaryKey(["user_name", "device_id"])
            }
            try db.create(table: LoginRow.databaseTableName) { t in
                t.primaryKey("login_id", .text)
                t.column("user_name", .text).notNull()
                t.column("client_address", .text).notNull()
                t.column("started_ms", .integer).notNull().indexed()
                t.column("device_id", .text).notNull().defaults(to: "")
                t.column("challenge", .text).notNull().defaults(to: "")
                t.column("challenge_issued_ms", .integer)
                t.column("verified_ms", .integer)
            }
            try db.create(table: FailureCounterRow.databaseTableName) { t in
                t.column("user_name", .text).notNull()
                t.column("factor", .text).notNull()
                t.column("counter", .text).notNull()
                t.primaryKey(["user_name", "factor"])
            }
            try db.create(table: AuditRow.databaseTableName) { t in
                t.autoIncrementedPrimaryKey("id")
                t.column("user_name", .text).notNull().indexed()
                t.column("at_ms", .integer).notNull()
                t.column("address", .text).notNull()
                t.column("factor", .text).notNull()
                t.column("outcome", .text).notNull()
                t.column("rule_id", .text).notNull()
                t.column("hash", .blob).notNull()
            }
        }

        migrator.registerMigration("challenge.v2") { db in
            try db.alter(table: PhoneRow.databaseTableName) { t in
                t.add(column: "sealed_pin_hash", .blob).notNull().defaults(to: Data())
            }
        }

        migrator.registerMigration("challenge.v3") { db in
            // CHL-06: SMS and voice codes.
            try db.alter(table: CVUserRow.databaseTableName) { t in
                t.add(column: "account_id", .text).notNull().defaults(to: "")
                t.add(column: "mobile_number", .text).notNull().defaults(to: "")
                t.add(column: "mobile_verified", .boolean).notNull().defaults(to: false)
            }
            try db.alter(table: LoginRow.databaseTableName) { t in
                t.add(column: "factor", .text).notNull().defaults(to: "")
                t.add(column: "code_hash", .blob).notNull().defaults(to: Data())
                t.add(column: "sends", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: CodeSendRow.databaseTableName) { t in
                t.column("user_name", .text).notNull()
                t.column("sent_ms", .integer).notNull()
            }
            try db.create(index: "code_send_user", on: CodeSendRow.databaseTableName, columns: ["user_name", "sent_ms"])
        }

        migrator.registerMigration("challenge.v4") { db in
            // CHL-02: push with number matching.
            try db.alter(table: PhoneRow.databaseTableName) { t in
                t.add(column: "signing_key", .blob).notNull().defaults(to: Data())
                t.add(column: "push_token", .text).notNull().defaults(to: "")
            }
            try db.alter(table: LoginRow.databaseTableName) { t in
                t.add(column: "push_number", .integer).notNull().defaults(to: 0)
                t.add(column: "push_choices", .text).notNull().defaults(to: "")
                t.add(column: "refused_ms", .integer)
            }
        }

        migrator.registerMigration("challenge.v5") { db in
            // CHL-07, CHL-12: why a login was asked for; ACC-06: password resets.
            try db.alter(table: LoginRow.databaseTableName) { t in
                t.add(column: "purpose", .integer).notNull().defaults(to: 0)
            }
            try db.create(table: PasswordResetRow.databaseTableName) { t in
                t.primaryKey("reset_id", .text)
                t.column("user_name", .text).notNull().indexed()
                t.column("code_hash", .blob).notNull()
                t.column("issued_ms", .integer).notNull()
                t.column("used_ms", .integer)
            }
        }

        migrator.registerMigration("challenge.v6") { db in
            // CHL-05: DSC+ cards.
            try db.create(table: CardRow.databaseTableName) { t in
                t.column("user_name", .text).notNull()
                t.column("serial", .text).notNull()
                t.column("sealed_seed", .blob).notNull()
                t.column("suite", .text).notNull()
                t.column("active", .boolean).notNull()
                t.primaryKey(["user_name", "serial"])
            }
        }

        migrator.registerMigration("challenge.v7") { db in
            // Phones poll and sign by device id: without these indexes every poll read every
            // phone and every recent login.
            try db.create(index: "phone_device_id", on: PhoneRow.databaseTableName, columns: ["device_id"])
            try db.create(index: "login_device_id", on: LoginRow.databaseTableName, columns: ["device_id"])
        }
    }
}
