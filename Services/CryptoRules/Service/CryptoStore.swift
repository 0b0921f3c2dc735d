import CryptoRulesCore
import Foundation
import GRDB

/// The crypto-rules tables. Amounts are stored as decimal text, never as floating point.
enum CryptoStore {
    static func registerMigrations(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("crypto.v1") { db in
            try db.create(table: "account") { t in
                t.primaryKey("account_id", .text)
                t.column("has_profile", .boolean).notNull().defaults(to: false)
                t.column("hong_kong_resident", .boolean).notNull().defaults(to: false)
                t.column("professional_investor", .boolean).notNull().defaults(to: false)
                t.column("investor_type", .text)
                t.column("assets_hkd", .text).notNull().defaults(to: "0")
                t.column("mobile_verified", .boolean).notNull().defaults(to: false)
                t.column("permission_granted", .boolean).notNull().defaults(to: false)
                t.column("permission_decided_ms", .integer).notNull().defaults(to: 0)
                t.column("total_equity", .text).notNull().defaults(to: "0")
                t.column("cash", .text).notNull().defaults(to: "0")
            }
            try db.create(table: "position") { t in
                t.column("account_id", .text).notNull()
                t.column("asset", .text).notNull()
                t.column("quantity", .text).notNull()
                t.primaryKey(["account_id", "asset"])
            }
            try db.create(table: "month_volume") { t in
                t.column("account_id", .text).notNull()
                t.column("month", .text).notNull()
                t.column("volume", .text).notNull()
                t.primaryKey(["account_id", "month"])
            }
            try db.create(table: "crypto_order") { t in
                t.primaryKey("order_id", .text)
                t.column("account_id", .text).notNull()
                t.column("client_order_id", .text).notNull()
                t.column("asset", .text).notNull()
                t.column("side", .text).notNull()
                t.column("type", .text).notNull()
                t.column("quantity", .text)
                t.column("cash_value", .text)
                t.column("limit_price", .text)
                t.column("time_in_force", .text).notNull()
                t.column("status", .text).notNull()
                t.column("filled_quantity", .text).notNull()
                t.column("fill_count", .integer).notNull()
                t.column("commission_charged", .text).notNull()
                t.column("reserved_cash", .text).notNull()
                t.column("cap_value", .text).notNull()
                t.column("reserved_quantity", .text).notNull()
                t.column("accepted_ms", .integer).notNull()
                t.column("expires_ms", .integer)
                t.column("close_reason", .text).notNull()
            }
            try db.create(index: "crypto_order_open", on: "crypto_order", columns: ["status"])
            try db.create(table: "fill") { t in
                t.primaryKey("fill_id", .text)
                t.column("order_id", .text).notNull()
                t.column("quantity", .text).notNull()
                t.column("price", .text).notNull()
                t.column("commission", .text).notNull()
                t.column("time_ms", .integer).notNull()
            }
            try db.create(table: "mark_price") { t in
                t.primaryKey("asset", .text)
                t.column("price", .text).notNull()
                t.column("as_of_ms", .integer).notNull()
            }
            try db.create(table: "holding_snapshot") { t in
                t.column("account_id", .text).notNull()
                t.column("day", .text).notNull()
                t.column("value", .text).notNull()
                t.primaryKey(["account_id", "day"])
            }
            try db.create(table: "custody_charge") { t in
                t.column("account_id", .text).notNull()
                t.column("month", .text).notNull()
                t.column("average_daily_value", .text).notNull()
                t.column("fee", .text).notNull()
                t.column("days", .integer).notNull()
                t.primaryKey(["account_id", "month"])
            }
        }
        registerIndexes(&migrator)
    }

    private static func registerIndexes(_ migrator: inout DatabaseMigrator) {
        migrator.registerMigration("crypto.v2 client order index") { db in
            try db.create(index: "crypto_order_client", on: "crypto_order", columns: ["account_id", "client_order_id"])
        }
    }

    /// A stored value that is no longer accepted (written before inputs were bounded, or
    /// edited by hand): its row is left out of memory and reported, never trusted.
    struct UnusableRow: Error, CustomStringConvertible {
        let table: String
        let key: String
        let reason: String
        var description: String { "\(table) row \(key): \(reason)" }
    }

    private static func amount(_ row: Row, _ column: String) throws -> Amount {
        try optionalAmount(row, column) ?? 0
    }

    private static func optionalAmount(_ row: Row, _ column: String) throws -> Amount? {
        guard let text = row[column] as String? else { return nil }
        guard let value = Amount(input: text) else {
            throw UnusableRow(table: "", key: "", reason: "\(column) is out of range or not a decimal")
        }
        return value
    }

    /// Runs `load` for one row; a row it cannot use is reported and left out.
    private static func each(_ rows: [Row], table: String, key: String, skipped: inout [UnusableRow],
                             _ load: (Row) throws -> Void) {
        for row in rows {
            do {
                try load(row)
            } catch let error as UnusableRow {
                skipped.append(UnusableRow(table: table, key: row[key] ?? "?", reason: error.reason))
            } catch {
                skipped.append(UnusableRow(table: table, key: row[key] ?? "?", reason: "\(type(of: error))"))
            }
        }
    }

    /// Reads everything into memory at start-up. Rows holding values that are out of range
    /// (or a price dated later than `latestAcceptedMs`) are left out and returned in `skipped`.
    static func loadBook(_ db: Database, latestAcceptedMs: Int64, skipped: inout [UnusableRow]) throws -> AccountBook {
        var book = AccountBook()
        each(try Row.fetchAll(db, sql: "SELECT * FROM account"), table: "account", key: "account_id",
             skipped: &skipped) { row in
            var account = AccountRecord(accountID: row["account_id"])
            if row["has_profile"] as Bool {
                account.profile = InvestorProfile(
                    hongKongResident: row["hong_kong_resident"], professionalInvestor: row["professional_investor"],
                    investorType: (row["investor_type"] as String?).flatMap(InvestorType.init(rawValue:)),
                    assetsHKD: try amount(row, "assets_hkd"), mobileVerified: row["mobile_verified"])
            }
            account.mobileVerified = row["mobile_verified"]
            account.permissionGranted = row["permission_granted"]
            account.permissionDecidedMs = row["permission_decided_ms"]
            account.totalEquity = try amount(row, "total_equity")
            account.cash = try amount(row, "cash")
            book.accounts[account.accountID] = account
        }
        each(try Row.fetchAll(db, sql: "SELECT * FROM position"), table: "position", key: "account_id",
             skipped: &skipped) { row in
            guard let asset = CryptoAsset(rawValue: row["asset"]) else { return }
            let quantity = try amount(row, "quantity")
            book.accounts[row["account_id"], default: AccountRecord(accountID: row["account_id"])]
                .positions[asset] = quantity
        }
        each(try Row.fetchAll(db, sql: "SELECT * FROM month_volume"), table: "month_volume", key: "account_id",
             skipped: &skipped) { row in
            let volume = try amount(row, "volume")
            book.accounts[row["account_id"], default: AccountRecord(accountID: row["account_id"])]
                .monthVolume[row["month"]] = volume
        }
        each(try Row.fetchAll(db, sql: "SELECT * FROM crypto_order WHERE status = 'OPEN'"), table: "crypto_order",
             key: "order_id", skipped: &skipped) { row in
            if let order = try order(from: row) { book.put(order) }
        }
        each(try Row.fetchAll(db, sql: "SELECT * FROM mark_price"), table: "mark_price", key: "asset",
             skipped: &skipped) { row in
            guard let asset = CryptoAsset(rawValue: row["asset"]) else { return }
            let price = try amount(row, "price")
            let asOfMs: Int64 = row["as_of_ms"]
            guard price > 0 else { throw UnusableRow(table: "", key: "", reason: "the price is not positive") }
            guard asOfMs <= latestAcceptedMs else {
                throw UnusableRow(table: "", key: "", reason: "the price is dated in the future")
            }
            book.prices[asset] = MarkPrice(price: price, asOf: Date(unixMs: asOfMs))
        }
        return book
    }

    private static func order(from row: Row) throws -> OrderRecord? {
        guard let asset = CryptoAsset(rawValue: row["asset"]), let side = OrderSide(rawValue: row["side"]),
              let type = CryptoOrderType(rawValue: row["type"]),
              let tif = TimeInForce(rawValue: row["time_in_force"]),
              let status = OrderStatus(rawValue: row["status"]) else { return nil }
        var order = OrderRecord(
            orderID: row["order_id"], accountID: row["account_id"], clientOrderID: row["client_order_id"],
            asset: asset, side: side, type: type, quantity: try optionalAmount(row, "quantity"),
            cashValue: try optionalAmount(row, "cash_value"), limitPrice: try optionalAmount(row, "limit_price"),
            timeInForce: tif, status: status, reservedCash: try amount(row, "reserved_cash"),
            capValue: try amount(row, "cap_value"), reservedQuantity: try amount(row, "reserved_quantity"),
            acceptedMs: row["accepted_ms"], expiresMs: row["expires_ms"])
        order.filledQuantity = try amount(row, "filled_quantity")
        order.fillCount = row["fill_count"]
        order.commissionCharged = try amount(row, "commission_charged")
        order.closeReason = row["close_reason"]
        return order
    }

    /// A closed order, from the database (memory holds open orders only).
    static func order(id: String, _ db: Database) throws -> OrderRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM crypto_order WHERE order_id = ?", arguments: [id])
            .flatMap { try order(from: $0) }
    }

    /// The order an account placed with a client order id, open or closed.
    static func order(accountID: String, clientOrderID: String, _ db: Database) throws -> OrderRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM crypto_order WHERE account_id = ? AND client_order_id = ? LIMIT 1",
                         arguments: [accountID, clientOrderID]).flatMap { try order(from: $0) }
    }

    static func save(_ account: AccountRecord, _ db: Database) throws {
        let profile = account.profile
        try db.execute(sql: """
            INSERT INTO account (account_id, has_profile, hong_kong_resident, professional_investor, investor_type,
                                 assets_hkd, mobile_verified, permission_granted, permission_decided_ms,
                                 total_equity, cash)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT(account_id) DO UPDATE SET
                has_profile = excluded.has_profile, hong_kong_resident = excluded.hong_kong_resident,
                professional_investor = excluded.professional_investor, investor_type = excluded.investor_type,
                assets_hkd = excluded.assets_hkd, mobile_verified = excluded.mobile_verified,
                permission_granted = excluded.permission_granted,
                permission_decided_ms = excluded.permission_decided_ms,
                total_equity = excluded.total_equity, cash = excluded.cash
            """, arguments: [account.accountID, profile != nil, profile?.hongKongResident ?? false,
                             profile?.professionalInvestor ?? false, profile?.investorType?.rawValue,
                             Money.text(profile?.assetsHKD ?? 0), account.mobileVerified,
                             account.permissionGranted, account.permissionDecidedMs,
                             Money.text(account.totalEquity), Money.text(account.cash)])
        for (asset, quantity) in account.positions {
            try db.execute(sql: "INSERT OR REPLACE INTO position (account_id, asset, quantity) VALUES (?, ?, ?)",
                           arguments: [account.accountID, asset.rawValue, Money.text(quantity)])
        }
        for (month, volume) in account.monthVolume {
            try db.execute(sql: "INSERT OR REPLACE INTO month_volume (account_id, month, volume) VALUES (?, ?, ?)",
                           arguments: [account.accountID, month, Money.text(volume)])
        }
    }

    static func save(_ order: OrderRecord, _ db: Database) throws {
        try db.execute(sql: """
            INSERT OR REPLACE INTO crypto_order (order_id, account_id, client_order_id, asset, side, type, quantity,
                cash_value, limit_price, time_in_force, status, filled_quantity, fill_count, commission_charged,
                reserved_cash, cap_value, reserved_quantity, accepted_ms, expires_ms, close_reason)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [order.orderID, order.accountID, order.clientOrderID, order.asset.rawValue,
                             order.side.rawValue, order.type.rawValue, order.quantity.map(Money.text),
                             order.cashValue.map(Money.text), order.limitPrice.map(Money.text),
                             order.timeInForce.rawValue, order.status.rawValue, Money.text(order.filledQuantity),
                             order.fillCount, Money.text(order.commissionCharged), Money.text(order.reservedCash),
                             Money.text(order.capValue), Money.text(order.reservedQuantity), order.acceptedMs,
                             order.expiresMs, order.closeReason])
    }

    /// Records a fill; false when its id was seen before (the venue repeated it).
    static func insertFill(id: String, orderID: String, quantity: Amount, price: Amount, commission: Amount,
                           timeMs: Int64, _ db: Database) throws -> Bool {
        try db.execute(sql: """
            INSERT OR IGNORE INTO fill (fill_id, order_id, quantity, price, commission, time_ms)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [id, orderID, Money.text(quantity), Money.text(price), Money.text(commission), timeMs])
        return db.changesCount > 0
    }

    static func fillExists(_ id: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM fill WHERE fill_id = ?", arguments: [id]) ?? false
    }

    static func save(price: MarkPrice, asset: CryptoAsset, _ db: Database) throws {
        try db.execute(sql: "INSERT OR REPLACE INTO mark_price (asset, price, as_of_ms) VALUES (?, ?, ?)",
                       arguments: [asset.rawValue, Money.text(price.price), price.asOf.unixMs])
    }

    /// Keeps the first snapshot of each day.
    static func saveSnapshot(accountID: String, day: String, value: Amount, _ db: Database) throws {
        try db.execute(sql: "INSERT OR IGNORE INTO holding_snapshot (account_id, day, value) VALUES (?, ?, ?)",
                       arguments: [accountID, day, Money.text(value)])
    }

    static func hasSnapshot(day: String, _ db: Database) throws -> Bool {
        try Bool.fetchOne(db, sql: "SELECT 1 FROM holding_snapshot WHERE day = ? LIMIT 1", arguments: [day]) ?? false
    }

    /// Daily values per account for a month ("YYYY-MM").
    static func snapshots(month: String, _ db: Database) throws -> [String: [Amount]] {
        var values: [String: [Amount]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT account_id, value FROM holding_snapshot WHERE day LIKE ?",
                                    arguments: ["\(month)-%"]) {
            values[row["account_id"], default: []].append(try amount(row, "value"))
        }
        return values
    }

    static func custodyCharge(accountID: String, month: String, _ db: Database) throws -> Row? {
        try Row.fetchOne(db, sql: "SELECT * FROM custody_charge WHERE account_id = ? AND month = ?",
                         arguments: [accountID, month])
    }

    static func saveCustodyCharge(accountID: String, month: String, average: Amount, fee: Amount, days: Int,
                                  _ db: Database) throws {
        try db.execute(sql: """
            INSERT INTO custody_charge (account_id, month, average_daily_value, fee, days) VALUES (?, ?, ?, ?, ?)
            """, arguments: [accountID, month, Money.text(average), Money.text(fee), days])
    }
}
