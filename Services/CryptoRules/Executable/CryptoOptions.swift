import ArgumentParser
import CryptoRulesCore
import Foundation
import SLSRuntime

/// The crypto rules' settings: flags first, then `SLS_CRYPTO_*` environment variables, then
/// the defaults of DOMAIN.md (the articles' figures and its Decided values).
struct CryptoOptions: ParsableArguments {
    /// Each setting once: flag, variable, default, range and help.
    enum Settings {
        static let maxPriceAgeSeconds = Setting(
            flag: "max-price-age-seconds", variable: "SLS_CRYPTO_MAX_PRICE_AGE_SECONDS", default: 60.0,
            range: 0.001...86_400, summary: "Refuse orders when the mark price is older than this.")
        static let marketTimeZone = Setting(
            flag: "market-time-zone", variable: "SLS_CRYPTO_MARKET_TIME_ZONE", default: "America/New_York",
            summary: "Wall clock of the trading hours, CRY-07.")
        static let tradingDayEndHour = Setting(
            flag: "trading-day-end-hour", variable: "SLS_CRYPTO_TRADING_DAY_END_HOUR", default: 16, range: 0...23,
            summary: "Hour the trading day ends and Day orders expire, CRY-08.")
        static let minutesOrderSeconds = Setting(
            flag: "minutes-order-seconds", variable: "SLS_CRYPTO_MINUTES_ORDER_SECONDS", default: 300.0,
            range: 0.001...86_400, summary: "Lifetime of a Minutes order, CRY-08.")
        static let iocCancelSeconds = Setting(
            flag: "ioc-cancel-seconds", variable: "SLS_CRYPTO_IOC_CANCEL_SECONDS", default: 10.0, range: 0.001...86_400,
            summary: "Cancel an IOC order the venue has not filled after this long.")
        static let commissionTiers = Setting(
            flag: "commission-tiers", variable: "SLS_CRYPTO_COMMISSION_TIERS",
            default: "100000:0.0030,1000000:0.0025,:0.0020",
            summary: "Commission tiers by month volume, CRY-10: upTo:rate,...,:rate.")
        static let minimumCommission = Setting(
            flag: "minimum-commission", variable: "SLS_CRYPTO_MINIMUM_COMMISSION", default: "2.25",
            summary: "Minimum commission per order in USD, CRY-10.")
        static let minimumOrderValue = Setting(
            flag: "minimum-order-value", variable: "SLS_CRYPTO_MINIMUM_ORDER_VALUE", default: "10",
            summary: "Minimum trade value in USD, CRY-05.")
        static let maxOpenOrders = Setting(
            flag: "max-open-orders", variable: "SLS_CRYPTO_MAX_OPEN_ORDERS", default: 100, range: 1...100_000,
            summary: "Open orders one account may have at once (they are kept in memory).")
        static let expirySweepSeconds = Setting(
            flag: "expiry-sweep-seconds", variable: "SLS_CRYPTO_EXPIRY_SWEEP_SECONDS", default: 1.0, range: 0.01...3600,
            summary: "Seconds between expiry sweeps of open orders.")
        static let snapshotSeconds = Setting(
            flag: "snapshot-seconds", variable: "SLS_CRYPTO_SNAPSHOT_SECONDS", default: 3600.0, range: 1...86_400,
            summary: "Seconds between holdings snapshots for custody fees, CRY-11; one per day is kept.")
        static let clockOffsetSeconds = Setting(
            flag: "clock-offset-seconds", variable: "SLS_CRYPTO_CLOCK_OFFSET_SECONDS", default: 0.0,
            range: -31_536_000...31_536_000,
            summary: "Shifts the service's clock, for rehearsals and tests only; keep 0 in production.")
    }
    private typealias S = Settings

    @Option(name: .customLong(S.maxPriceAgeSeconds.flag), help: S.maxPriceAgeSeconds.help)
    var maxPriceAgeSeconds = S.maxPriceAgeSeconds.initial

    @Option(name: .customLong(S.marketTimeZone.flag), help: S.marketTimeZone.help)
    var marketTimeZone = S.marketTimeZone.initial

    @Option(name: .customLong(S.tradingDayEndHour.flag), help: S.tradingDayEndHour.help)
    var tradingDayEndHour = S.tradingDayEndHour.initial

    @Option(name: .customLong(S.minutesOrderSeconds.flag), help: S.minutesOrderSeconds.help)
    var minutesOrderSeconds = S.minutesOrderSeconds.initial

    @Option(name: .customLong(S.iocCancelSeconds.flag), help: S.iocCancelSeconds.help)
    var iocCancelSeconds = S.iocCancelSeconds.initial

    @Option(name: .customLong(S.commissionTiers.flag), help: S.commissionTiers.help)
    var commissionTiers = S.commissionTiers.initial

    @Option(name: .customLong(S.minimumCommission.flag), help: S.minimumCommission.help)
    var minimumCommission = S.minimumCommission.initial

    @Option(name: .customLong(S.minimumOrderValue.flag), help: S.minimumOrderValue.help)
    var minimumOrderValue = S.minimumOrderValue.initial

    @Option(name: .customLong(S.maxOpenOrders.flag), help: S.maxOpenOrders.help)
    var maxOpenOrders = S.maxOpenOrders.initial

    @Option(name: .customLong(S.expirySweepSeconds.flag), help: S.expirySweepSeconds.help)
    var expirySweepSeconds = S.expirySweepSeconds.initial

    @Option(name: .customLong(S.snapshotSeconds.flag), help: S.snapshotSeconds.help)
    var snapshotSeconds = S.snapshotSeconds.initial

    @Option(name: .customLong(S.clockOffsetSeconds.flag), parsing: .unconditional, help: S.clockOffsetSeconds.help)
    var clockOffsetSeconds = S.clockOffsetSeconds.initial

    /// The settings these options describe; fails with a message naming the bad option.
    func settings() throws -> CryptoSettings {
        try S.maxPriceAgeSeconds.check(maxPriceAgeSeconds)
        try S.marketTimeZone.check(marketTimeZone)
        try S.tradingDayEndHour.check(tradingDayEndHour)
        try S.minutesOrderSeconds.check(minutesOrderSeconds)
        try S.iocCancelSeconds.check(iocCancelSeconds)
        try S.commissionTiers.check(commissionTiers)
        try S.minimumCommission.check(minimumCommission)
        try S.minimumOrderValue.check(minimumOrderValue)
        try S.maxOpenOrders.check(maxOpenOrders)
        try S.expirySweepSeconds.check(expirySweepSeconds)
        try S.snapshotSeconds.check(snapshotSeconds)
        try S.clockOffsetSeconds.check(clockOffsetSeconds)
        var settings = CryptoSettings()
        settings.maxPriceAge = maxPriceAgeSeconds
        guard let zone = TimeZone(identifier: marketTimeZone) else {
            throw ValidationError("--market-time-zone '\(marketTimeZone)' is not a time zone (e.g. America/New_York)")
        }
        settings.marketTimeZone = zone
        settings.tradingDayEndHour = tradingDayEndHour
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
        settings.maxOpenOrdersPerAccount = maxOpenOrders
        return settings
    }
}
