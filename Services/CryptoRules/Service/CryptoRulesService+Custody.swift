import CryptoRulesCore
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSStorage

extension CryptoRulesService {
    /// Records today's value held per account (at the latest mark prices), once a day.
    /// Runs on a timer; returns how many accounts were recorded.
    @discardableResult
    public func snapshotHoldings() -> Int {
        let date = now()
        let day = calendar.day(of: date)
        let book = self.book.withLock { $0 }
        var values: [(String, Amount)] = []
        for account in book.accounts.values {
            let value = account.positions.reduce(Amount(0)) { total, position in
                total + position.value * (book.prices[position.key]?.price ?? 0)
            }
            if value > 0 { values.append((account.accountID, value)) }
        }
        do {
            try database.write { db in
                for (accountID, value) in values {
                    try CryptoStore.saveSnapshot(accountID: accountID, day: day, value: value, db)
                }
            }
            return values.count
        } catch {
            logger.error("holdings snapshot failed; will retry", metadata: ["error": "\(type(of: error))"])
            return 0
        }
    }

    /// Charges CRY-11's custody fee for `month` to every account with holdings snapshots;
    /// charging a month twice returns the first charges.
    func chargeCustodyFees(_ request: CustodyFeeRequest) throws -> CustodyFeeReply {
        guard let days = calendar.daysIn(month: request.month) else {
            throw RPCError.invalidArgument("month must be YYYY-MM, e.g. 2026-11")
        }
        let date = now()
        return try mutate { book in
            var charges: [CustodyFeeCharged] = []
            var changed: [AccountRecord] = []
            try database.write { db in
                for (accountID, values) in try CryptoStore.snapshots(month: request.month, db).sorted(by: { $0.key < $1.key }) {
                    if let row = try CryptoStore.custodyCharge(accountID: accountID, month: request.month, db) {
                        charges.append(CustodyFeeCharged(accountID: accountID, month: request.month,
                                                         averageDailyValue: row["average_daily_value"],
                                                         fee: row["fee"], days: row["days"]))
                        continue
                    }
                    let (average, fee) = Fees.custodyFee(dailyValues: values, daysInMonth: days, settings: settings)
                    guard fee > 0 else { continue }
                    var account = book.account(accountID)
                    account.cash -= fee
                    try CryptoStore.saveCustodyCharge(accountID: accountID, month: request.month, average: average,
                                                      fee: fee, days: values.count, db)
                    try CryptoStore.save(account, db)
                    let charge = CustodyFeeCharged(accountID: accountID, month: request.month,
                                                   averageDailyValue: Money.text(average), fee: Money.text(fee),
                                                   days: Int32(values.count))
                    try Outbox.append(charge, in: db, nowUnixMs: date.unixMs)
                    charges.append(charge)
                    changed.append(account)
                }
            }
            for account in changed { book.accounts[account.accountID] = account }
            return CustodyFeeReply(charges: charges)
        }
    }
}
