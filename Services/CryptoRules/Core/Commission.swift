import Foundation

/// Commission (CRY-10) and custody fees (CRY-11).
public enum Fees {
    /// The commission rate for an order, by the month's trade volume before it.
    public static func commissionRate(monthVolume: Amount, settings: CryptoSettings) -> Amount {
        for tier in settings.commissionTiers {
            guard let bound = tier.upTo else { return tier.rate }
            if monthVolume <= bound { return tier.rate }
        }
        return settings.commissionTiers.last?.rate ?? 0
    }

    /// Commission of a whole order of `tradeValue`: the tier rate, at least the minimum, in cents.
    public static func commission(tradeValue: Amount, monthVolume: Amount, settings: CryptoSettings)
        throws(AmountOverflow) -> Amount {
        let raw = try tradeValue * commissionRate(monthVolume: monthVolume, settings: settings)
        return Money.cents(max(raw, settings.minimumCommission))
    }

    /// Commission of one fill. The order's minimum is charged with its first fill; later
    /// fills pay the rate only.
    public static func fillCommission(fillValue: Amount, isFirstFill: Bool, monthVolume: Amount,
                                      settings: CryptoSettings) throws(AmountOverflow) -> Amount {
        let raw = try fillValue * commissionRate(monthVolume: monthVolume, settings: settings)
        return Money.cents(isFirstFill ? max(raw, settings.minimumCommission) : raw)
    }

    /// CRY-11: the month's custody fee on the daily values held (one per calendar day of the
    /// month; days without a snapshot count as nothing held), in cents.
    public static func custodyFee(dailyValues: [Amount], daysInMonth: Int, settings: CryptoSettings)
        throws(AmountOverflow) -> (average: Amount, fee: Amount) {
        guard daysInMonth > 0 else { return (0, 0) }
        var total = Amount.zero
        for value in dailyValues { total = try total + value }
        let average = try total / Amount(daysInMonth)
        return (Money.cents(average), Money.cents(try average * settings.custodyMonthlyRate))
    }
}
