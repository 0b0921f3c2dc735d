import CryptoRulesCore
import Foundation

/// Builders for the rule tests: an eligible, funded account and a fresh BTC price.
enum Fixture {
    static let settings = CryptoSettings()
    static let engine = PreTradeRiskEngine(settings: settings)

    /// A New York wall-clock time.
    static func newYork(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0, _ second: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "America/New_York")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute,
                                                  second: second))!
    }

    /// A UTC instant (for DST tests, where New York wall-clock times are ambiguous or missing).
    static func utc(_ year: Int, _ month: Int, _ day: Int, _ hour: Int, _ minute: Int = 0, _ second: Int = 0) -> Date {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return calendar.date(from: DateComponents(year: year, month: month, day: day, hour: hour, minute: minute,
                                                  second: second))!
    }

    /// Tuesday 24 November 2026, 10:00 New York: an ordinary weekday.
    static let weekday = newYork(2026, 11, 24, 10)

    static let profile = InvestorProfile(hongKongResident: true, professionalInvestor: true, investorType: .individual,
                                         assetsHKD: 9_000_000, mobileVerified: true)

    static func account(cash: Amount = 100_000, equity: Amount = 1_000_000, btc: Amount = 0,
                        pendingSells: Amount = 0, openBuys: Amount = 0, reservedCash: Amount = 0,
                        monthVolume: Amount = 0) -> AccountSnapshot {
        AccountSnapshot(profile: profile, permissionGranted: true, totalEquity: equity, cash: cash,
                        reservedCash: reservedCash, openBuyValue: [.btc: openBuys], positions: [.btc: btc],
                        pendingSells: [.btc: pendingSells], monthVolume: monthVolume)
    }

    static func mark(_ price: Amount = 50_000, at date: Date = weekday) -> MarkPrice {
        MarkPrice(price: price, asOf: date)
    }

    static func marketBuy(_ cash: Amount) -> OrderIntent {
        OrderIntent(asset: .btc, side: .buy, type: .market, cashValue: cash, timeInForce: .ioc)
    }

    static func limit(_ side: OrderSide, quantity: Amount? = nil, cash: Amount? = nil, price: Amount,
                      tif: TimeInForce = .ioc) -> OrderIntent {
        OrderIntent(asset: .btc, side: side, type: .limit, quantity: quantity, cashValue: cash, limitPrice: price,
                    timeInForce: tif)
    }

    static func evaluate(_ intent: OrderIntent, account: AccountSnapshot = account(), mark: MarkPrice? = mark(),
                         at now: Date = weekday) -> Result<PricedOrder, Refusal> {
        engine.evaluate(intent, account: account, mark: mark, now: now)
    }

    static func d(_ text: String) -> Amount { Amount(text)! }
}

extension Result {
    var refusal: Failure? {
        if case .failure(let error) = self { return error }
        return nil
    }

    var order: Success? {
        if case .success(let value) = self { return value }
        return nil
    }
}
