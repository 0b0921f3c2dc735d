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
    public func snapshotHoldings() async -> Int {
        let date = now()
        let day = calendar.day(of: date)
        let book = self.book.withLock { $0 }
        var values: [(String, Amount)] = []
        for account in book.accounts.values {
            do {
                var value = Amount.zero
                for (asset, quantity) in account.positions {
                    try value += quantity * (book.prices[asset]?.price ?? 0)
                }
                if value > 0 { values.append((account.accountID, value)) }
            } catch {
                logger.error("holdings of an account are out of range; not recorded",
                             metadata: ["account": "\(account.accountID)"])
            }
        }
        do {
            // Off the socket thread, on GRDB's writer; the book is only read here.
            try await database.write { [values] db in
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
    func chargeCustodyFees(_ request: CustodyFeeRequest) async throws -> CustodyFeeReply {
        guard let days = calendar.daysIn(month: request.month) else {
            throw RPCError.invalidArgument("month must be YYYY-MM, e.g. 2026-11")
        }
        let date = now()
        // CRY-11 charges on the month's average daily value, known only once the month is over.
        guard request.month < calendar.month(of: date) else {
            throw RPCError.failedPrecondition(
                "custody fees for \(request.month) can be charged once that month has ended "
                + "(it is \(calendar.month(of: date)) now)", ruleID: "CRY-11")
        }
        return try await mutate { [self] book, db in
            var charges: [CustodyFeeCharged] = []
            var changed: [AccountRecord] = []
            for (accountID, values) in try CryptoStore.snapshots(month: request.month, db).sorted(by: { $0.key < $1.key }) {
                if let row = try CryptoStore.custodyCharge(accountID: accountID, month: request.month, db) {
                    charges.append(CustodyFeeCharged(accountID: accountID, month: request.month,
                                                     averageDailyValue: row.averageDailyValue,
                                                     fee: row.fee, days: Int32(clamping: row.days)))
                    continue
                }
                guard let (average, fee) = try? Fees.custodyFee(dailyValues: values, daysInMonth: days,
                                                                settings: settings) else {
                    logger.error("custody fee out of range; not charged", metadata: ["account": "\(accountID)"])
                    continue
                }
                guard fee > 0 else { continue }
                var account = book.account(accountID)
                guard (try? account.cash -= fee) != nil else {
                    logger.error("custody fee out of range; not charged", metadata: ["account": "\(accountID)"])
                    continue
                }
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
            for account in changed { book.accounts[account.accountID] = account }
            return CustodyFeeReply(charges: charges)
        }
    }
}
