import Foundation

/// Every value of the crypto rules that the articles leave open or that an operator may
/// need to change. Defaults are the articles' figures and DOMAIN.md's **Decided** values.
public struct CryptoSettings: Sendable {
    /// CRY-05: minimum trade value, USD.
    public var minimumOrderValue: Amount = 10
    /// CRY-09: holdings cap as a fraction of total equity...
    public var capEquityFraction: Amount = Amount("0.10")!
    /// ...and as an absolute amount, USD; the lesser applies.
    public var capAbsolute: Amount = 1_000_000
    /// CRY-02: investable assets an individual must exceed, HKD.
    public var individualAssetsHKD: Amount = 8_000_000
    /// CRY-02: total assets an institution must exceed, HKD.
    public var institutionAssetsHKD: Amount = 40_000_000
    /// CRY-07, Decided: the wall clock of the trading hours ("EST" read as New York time).
    public var marketTimeZone = TimeZone(identifier: "America/New_York")!
    /// CRY-07: the weekend closing-only window runs from Friday at this hour...
    public var weekendStartHour = 16
    /// ...to Sunday at this hour.
    public var weekendEndHour = 3
    /// CRY-08, Decided: the trading day (Day orders) ends at this hour, market time.
    public var tradingDayEndHour = 16
    /// CRY-08: lifetime of a Minutes order.
    public var minutesOrderLifetime: TimeInterval = 300
    /// CRY-08: an IOC order the venue has not filled within this time is cancelled here.
    public var iocCancelAfter: TimeInterval = 10
    /// CRY-10, Decided: commission tiers by the month's volume before the order:
    /// (volume up to, rate); the last tier has no upper bound.
    public var commissionTiers: [CommissionTier] = [
        CommissionTier(upTo: 100_000, rate: Amount("0.0030")!),
        CommissionTier(upTo: 1_000_000, rate: Amount("0.0025")!),
        CommissionTier(upTo: nil, rate: Amount("0.0020")!),
    ]
    /// CRY-10: minimum commission per order, USD.
    public var minimumCommission: Amount = Amount("2.25")!
    /// CRY-11: custody fee per month on the average daily value held.
    public var custodyMonthlyRate: Amount = Amount("0.0008")!
    /// A mark price older than this is not used: orders that need one are refused.
    public var maxPriceAge: TimeInterval = 60
    /// Open orders one account may have at once; a further order is refused until one closes.
    /// Bounds the memory one account can take (open orders are kept in memory).
    public var maxOpenOrdersPerAccount = 100
    /// Quantities sent to the venue are rounded down to these increments.
    public var quantityIncrement: [CryptoAsset: Amount] = [
        .btc: Amount("0.00000001")!, .eth: Amount("0.00000001")!,
    ]

    public init() {}

    /// Parses tiers written as `100000:0.0030,1000000:0.0025,:0.0020`.
    public static func parseTiers(_ text: String) -> [CommissionTier]? {
        var tiers: [CommissionTier] = []
        for part in text.split(separator: ",") {
            let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
            guard pieces.count == 2, let rate = Money.parse(String(pieces[1])), rate >= 0 else { return nil }
            if pieces[0].isEmpty {
                tiers.append(CommissionTier(upTo: nil, rate: rate))
            } else {
                guard let bound = Money.parse(String(pieces[0])) else { return nil }
                tiers.append(CommissionTier(upTo: bound, rate: rate))
            }
        }
        guard let last = tiers.last, last.upTo == nil, tiers.dropLast().allSatisfy({ $0.upTo != nil }) else { return nil }
        return tiers
    }
}

/// One commission tier (CRY-10): the rate for a month's volume up to `upTo` (nil: no bound).
public struct CommissionTier: Sendable, Hashable {
    public var upTo: Amount?
    public var rate: Amount

    public init(upTo: Amount?, rate: Amount) {
        self.upTo = upTo
        self.rate = rate
    }
}
