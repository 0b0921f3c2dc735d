import ArgumentParser
import CryptoRulesCore
import Foundation
import SLSRuntime

/// The crypto rules' settings: flags first, then `SLS_CRYPTO_*` environment variables, then
/// the defaults of DOMAIN.md (the articles' figures and its Decided values).
struct CryptoOptions: ParsableArguments {
    @Option(help: "Refuse orders when the mark price is older than this (env SLS_CRYPTO_MAX_PRICE_AGE_SECONDS).")
    var maxPriceAgeSeconds = Double(Environment.string("SLS_CRYPTO_MAX_PRICE_AGE_SECONDS", default: "60")) ?? 60

    @Option(help: "Wall clock of the trading hours, CRY-07 (env SLS_CRYPTO_MARKET_TIME_ZONE).")
    var marketTimeZone = Environment.string("SLS_CRYPTO_MARKET_TIME_ZONE", default: "America/New_York")

    @Option(help: "Hour the trading day ends, Day orders expire, CRY-08 (env SLS_CRYPTO_TRADING_DAY_END_HOUR).")
    var tradingDayEndHour = Environment.int("SLS_CRYPTO_TRADING_DAY_END_HOUR", default: 16)

    @Option(help: "Lifetime of a Minutes order, CRY-08 (env SLS_CRYPTO_MINUTES_ORDER_SECONDS).")
    var minutesOrderSeconds = Double(Environment.string("SLS_CRYPTO_MINUTES_ORDER_SECONDS", default: "300")) ?? 300

    @Option(help: "Cancel an IOC order the venue has not filled after this long (env SLS_CRYPTO_IOC_CANCEL_SECONDS).")
    var iocCancelSeconds = Double(Environment.string("SLS_CRYPTO_IOC_CANCEL_SECONDS", default: "10")) ?? 10

    @Option(help: "Commission tiers by month volume, CRY-10: upTo:rate,...,:rate (env SLS_CRYPTO_COMMISSION_TIERS).")
    var commissionTiers = Environment.string("SLS_CRYPTO_COMMISSION_TIERS", default: "100000:0.0030,1000000:0.0025,:0.0020")

    @Option(help: "Minimum commission per order in USD, CRY-10 (env SLS_CRYPTO_MINIMUM_COMMISSION).")
    var minimumCommission = Environment.string("SLS_CRYPTO_MINIMUM_COMMISSION", default: "2.25")

    @Option(help: "Minimum trade value in USD, CRY-05 (env SLS_CRYPTO_MINIMUM_ORDER_VALUE).")
    var minimumOrderValue = Environment.string("SLS_CRYPTO_MINIMUM_ORDER_VALUE", default: "10")

    @Option(help: "Open orders one account may have at once (env SLS_CRYPTO_MAX_OPEN_ORDERS).")
    var maxOpenOrders = Environment.int("SLS_CRYPTO_MAX_OPEN_ORDERS", default: 100)

    @Option(help: "Seconds between expiry sweeps of open orders (env SLS_CRYPTO_EXPIRY_SWEEP_SECONDS).")
    var expirySweepSeconds = Double(Environment.string("SLS_CRYPTO_EXPIRY_SWEEP_SECONDS", default: "1")) ?? 1

    @Option(help: "Seconds between holdings snapshots for custody fees, CRY-11; one per day is kept (env SLS_CRYPTO_SNAPSHOT_SECONDS).")
    var snapshotSeconds = Double(Environment.string("SLS_CRYPTO_SNAPSHOT_SECONDS", default: "3600")) ?? 3600

    @Option(parsing: .unconditional, help: "Shifts the service's clock, for rehearsals and tests only; keep 0 in production (env SLS_CRYPTO_CLOCK_OFFSET_SECONDS).")
    var clockOffsetSeconds = Double(Environment.string("SLS_CRYPTO_CLOCK_OFFSET_SECONDS", default: "0")) ?? 0

    /// The settings these options describe; fails with a message naming the bad option.
    func settings() throws -> CryptoSettings {
        let badVariables = Environment.problems(numbers: [
            "SLS_CRYPTO_MAX_PRICE_AGE_SECONDS", "SLS_CRYPTO_TRADING_DAY_END_HOUR", "SLS_CRYPTO_MINUTES_ORDER_SECONDS",
            "SLS_CRYPTO_IOC_CANCEL_SECONDS", "SLS_CRYPTO_EXPIRY_SWEEP_SECONDS", "SLS_CRYPTO_SNAPSHOT_SECONDS",
            "SLS_CRYPTO_CLOCK_OFFSET_SECONDS", "SLS_CRYPTO_MAX_OPEN_ORDERS"])
        guard badVariables.isEmpty else { throw ValidationError(badVariables.joined(separator: "; ")) }
        var settings = CryptoSettings()
        guard maxPriceAgeSeconds > 0 else { throw ValidationError("--max-price-age-seconds must be more than 0") }
        settings.maxPriceAge = maxPriceAgeSeconds
        guard let zone = TimeZone(identifier: marketTimeZone) else {
            throw ValidationError("--market-time-zone '\(marketTimeZone)' is not a time zone (e.g. America/New_York)")
        }
        settings.marketTimeZone = zone
        guard (0...23).contains(tradingDayEndHour) else { throw ValidationError("--trading-day-end-hour must be 0 to 23") }
        settings.tradingDayEndHour = tradingDayEndHour
        guard minutesOrderSeconds > 0, iocCancelSeconds > 0, expirySweepSeconds > 0, snapshotSeconds > 0 else {
            throw ValidationError("durations must be more than 0 seconds")
        }
        settings.minutesOrderLifetime = minutesOrderSeconds
        settings.iocCancelAfter = iocCancelSeconds
        guard let tiers = CryptoSettings.parseTiers(commissionTiers) else {
            throw ValidationError("--commission-tiers must look like 100000:0.0030,1000000:0.0025,:0.0020")
        }
        settings.commissionTiers = tiers
        guard let minimum = Money.parse(minimumCommission), minimum >= 0 else {
            throw ValidationError("--minimum-commission must be a decimal amount such as 2.25")
        }
        settings.minimumCommission = minimum
        guard let minimumOrder = Money.parse(minimumOrderValue), minimumOrder > 0 else {
            throw ValidationError("--minimum-order-value must be a decimal amount such as 10")
        }
        settings.minimumOrderValue = minimumOrder
        guard (1...100_000).contains(maxOpenOrders) else {
            throw ValidationError("--max-open-orders must be 1 to 100000; got \(maxOpenOrders)")
        }
        settings.maxOpenOrdersPerAccount = maxOpenOrders
        return settings
    }
}
