import CryptoRulesCore
import Foundation
import GRDB

/// The crypto-rules tables: their migrations, and reading and writing them through one GRDB record
/// type per table (`Rows/`). Amounts are stored as decimal text, never as floating point.
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

    /// Loads each record of `type`; one that cannot be used is reported in `skipped` and left out.
    private static func each<R: FetchableRecord & TableRecord>(
        _ type: R.Type, _ db: Database, key: (R) -> String, skipped: inout [UnusableRow], _ load: (R) throws -> Void
    ) throws {
        for record in try R.fetchAll(db) {
            do {
                try load(record)
            } catch let error as UnusableRow {
                skipped.append(UnusableRow(table: R.databaseTableName, key: key(record), reason: error.reason))
            }
        }
    }

    /// Reads everything into memory at start-up. Rows holding values that are out of range
    /// (or a price dated later than `latestAcceptedMs`) are left out and returned in `skipped`.
    static func loadBook(_ db: Database, latestAcceptedMs: Int64, skipped: inout [UnusableRow]) throws -> AccountBook {
        var book = AccountBook()
        try each(AccountRow.self, db, key: \.accountID, skipped: &skipped) { row in
            var account = AccountRecord(accountID: row.accountID)
            if row.hasProfile {
                account.profile = InvestorProfile(
                    hongKongResident: row.hongKongResident, professionalInvestor: row.professionalInvestor,
                    investorType: row.investorType.flatMap(InvestorType.init(rawValue:)),
                    assetsHKD: try StoredAmount.read(row.assetsHKD, column: "assets_hkd"),
                    mobileVerified: row.mobileVerified)
            }
            account.mobileVerified = row.mobileVerified
            account.permissionGranted = row.permissionGranted
            account.permissionDecidedMs = row.permissionDecidedMs
            account.totalEquity = try StoredAmount.read(row.totalEquity, column: "total_equity")
            account.cash = try StoredAmount.read(row.cash, column: "cash")
            book.accounts[account.accountID] = account
        }
        try each(PositionRow.self, db, key: \.accountID, skipped: &skipped) { row in
            guard let asset = CryptoAsset(rawValue: row.asset) else { return }
            let quantity = try StoredAmount.read(row.quantity, column: "quantity")
            book.accounts[row.accountID, default: AccountRecord(accountID: row.accountID)].positions[asset] = quantity
        }
        try each(MonthVolumeRow.self, db, key: \.accountID, skipped: &skipped) { row in
            let volume = try StoredAmount.read(row.volume, column: "volume")
            book.accounts[row.accountID, default: AccountRecord(accountID: row.accountID)].monthVolume[row.month] = volume
        }
        for row in try OrderRow.filter(Column("status") == OrderStatus.open.rawValue).fetchAll(db) {
            do {
                if let order = try order(from: row) { book.put(order) }
            } catch let error as UnusableRow {
                skipped.append(UnusableRow(table: OrderRow.databaseTableName, key: row.orderID, reason: error.reason))
            }
        }
        try each(MarkPriceRow.self, db, key: \.asset, skipped: &skipped) { row in
            guard let asset = CryptoAsset(rawValue: row.asset) else { return }
            // A price is an input: held to the input range, so a poisoned one cannot come back.
            guard let price = Amount(input: row.price) else {
                throw UnusableRow(table: "", key: "", reason: "price is out of range or not a decimal")
            }
            guard price > 0 else { throw UnusableRow(table: "", key: "", reason: "the price is not positive") }
            guard row.asOfMs <= latestAcceptedMs else {
                throw UnusableRow(table: "", key: "", reason: "the price is dated in the future")
            }
            book.prices[asset] = MarkPrice(price: price, asOf: Date(unixMs: row.asOfMs))
        }
        return book
    }

    private static func order(from row: OrderRow) throws -> OrderRecord? {
        guard let asset = CryptoAsset(rawValue: row.asset), let side = OrderSide(rawValue: row.side),
              let type = CryptoOrderType(rawValue: row.type), let tif = TimeInForce(rawValue: row.timeInForce),
              let status = OrderStatus(rawValue: row.status) else { return nil }
        var order = OrderRecord(
            orderID: row.orderID, accountID: row.accountID, clientOrderID: row.clientOrderID,
            asset: asset, side: side, type: type, quantity: try StoredAmount.read(row.quantity, column: "quantity"),
            cashValue: try StoredAmount.read(row.cashValue, column: "cash_value"),
            limitPrice: try StoredAmount.read(row.limitPrice, column: "limit_price"),
            timeInForce: tif, status: status,
            reservedCash: try StoredAmount.read(row.reservedCash, column: "reserved_cash"),
            capValue: try StoredAmount.read(row.capValue, column: "cap_value"),
            reservedQuantity: try StoredAmount.read(row.reservedQuantity, column: "reserved_quantity"),
            acceptedMs: row.acceptedMs, expiresMs: row.expiresMs)
        order.filledQuantity = try StoredAmount.read(row.filledQuantity, column: "filled_quantity")
        order.fillCount = row.fillCount
        order.commissionCharged = try StoredAmount.read(row.commissionCharged, column: "commission_charged")
        order.closeReason = row.closeReason
        return order
    }

    /// A closed order, from the database (memory holds open orders only).
    static func order(id: String, _ db: Database) throws -> OrderRecord? {
        try OrderRow.fetchOne(db, key: id).flatMap { try order(from: $0) }
    }

    /// The order an account placed with a client order id, open or closed.
    static func order(accountID: String, clientOrderID: String, _ db: Database) throws -> OrderRecord? {
        try OrderRow.filter(Column("account_id") == accountID && Column("client_order_id") == clientOrderID)
            .fetchOne(db).flatMap { try order(from: $0) }
    }

    static func save(_ account: AccountRecord, _ db: Database) throws {
        let profile = account.profile
        try AccountRow(
            accountID: account.accountID, hasProfile: profile != nil,
            hongKongResident: profile?.hongKongResident ?? false,
            professionalInvestor: profile?.professionalInvestor ?? false,
            investorType: profile?.investorType?.rawValue, assetsHKD: StoredAmount.text(profile?.assetsHKD ?? 0),
            mobileVerified: account.mobileVerified, permissionGranted: account.permissionGranted,
            permissionDecidedMs: account.permissionDecidedMs, totalEquity: StoredAmount.text(account.totalEquity),
            cash: StoredAmount.text(account.cash)
        ).upsert(db)
        for (asset, quantity) in account.positions {
            try PositionRow(accountID: account.accountID, asset: asset.rawValue, quantity: StoredAmount.text(quantity))
                .upsert(db)
        }
        for (month, volume) in account.monthVolume {
            try MonthVolumeRow(accountID: account.accountID, month: month, volume: StoredAmount.text(volume)).upsert(db)
        }
    }

    static func save(_ order: OrderRecord, _ db: Database) throws {
        try OrderRow(
            orderID: order.orderID, accountID: order.accountID, clientOrderID: order.clientOrderID,
            asset: order.asset.rawValue, side: order.side.rawValue, type: order.type.rawValue,
            quantity: order.quantity.map(StoredAmount.text), cashValue: order.cashValue.map(StoredAmount.text),
            limitPrice: order.limitPrice.map(StoredAmount.text), timeInForce: order.timeInForce.rawValue,
            status: order.status.rawValue, filledQuantity: StoredAmount.text(order.filledQuantity),
            fillCount: order.fillCount, commissionCharged: StoredAmount.text(order.commissionCharged),
            reservedCash: StoredAmount.text(order.reservedCash), capValue: StoredAmount.text(order.capValue),
            reservedQuantity: StoredAmount.text(order.reservedQuantity), acceptedMs: order.acceptedMs,
            expiresMs: order.expiresMs, closeReason: order.closeReason
        ).upsert(db)
    }

    /// Records a fill; false when its id was seen before (the venue repeated it).
    static func insertFill(id: String, orderID: String, quantity: Amount, price: Amount, commission: Amount,
                           timeMs: Int64, _ db: Database) throws -> Bool {
        try FillRow(fillID: id, orderID: orderID, quantity: StoredAmount.text(quantity), price: StoredAmount.text(price),
                    commission: StoredAmount.text(commission), timeMs: timeMs).insert(db, onConflict: .ignore)
        return db.changesCount > 0
    }

    static func fillExists(_ id: String, _ db: Database) throws -> Bool {
        try FillRow.exists(db, key: id)
    }

    static func save(price: MarkPrice, asset: CryptoAsset, _ db: Database) throws {
        try MarkPriceRow(asset: asset.rawValue, price: StoredAmount.text(price.price), asOfMs: price.asOf.unixMs)
            .upsert(db)
    }

    /// Keeps the first snapshot of each day.
    static func saveSnapshot(accountID: String, day: String, value: Amount, _ db: Database) throws {
        try HoldingSnapshotRow(accountID: accountID, day: day, value: StoredAmount.text(value))
            .insert(db, onConflict: .ignore)
    }

    static func hasSnapshot(day: String, _ db: Database) throws -> Bool {
        try HoldingSnapshotRow.filter(Column("day") == day).fetchCount(db) > 0
    }

    /// Daily values per account for a month ("YYYY-MM").
    static func snapshots(month: String, _ db: Database) throws -> [String: [Amount]] {
        var values: [String: [Amount]] = [:]
        for row in try HoldingSnapshotRow.filter(Column("day").like("\(month)-%")).fetchAll(db) {
            values[row.accountID, default: []].append(try StoredAmount.read(row.value, column: "value"))
        }
        return values
    }

    static func custodyCharge(accountID: String, month: String, _ db: Database) throws -> CustodyChargeRow? {
        try CustodyChargeRow.fetchOne(db, key: ["account_id": accountID, "month": month])
    }

    static func saveCustodyCharge(accountID: String, month: String, average: Amount, fee: Amount, days: Int,
                                  _ db: Database) throws {
        try CustodyChargeRow(accountID: accountID, month: month, averageDailyValue: StoredAmount.text(average),
                             fee: StoredAmount.text(fee), days: days).insert(db)
    }
}
