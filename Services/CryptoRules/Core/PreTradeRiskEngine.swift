import Foundation

/// One ordered list of named pre-trade checks, each refusing with its rule id and plain
/// words (compare Nautilus Trader's RiskEngine). The first refusal wins.
public struct PreTradeRiskEngine: Sendable {
    /// The working state one evaluation passes from check to check.
    public struct Draft: Sendable {
        public let intent: OrderIntent
        public let account: AccountSnapshot
        public let mark: MarkPrice?
        public let now: Date
        // Filled in by the checks, in order.
        var asset: CryptoAsset = .btc
        var side: OrderSide = .buy
        var type: CryptoOrderType = .market
        var timeInForce: TimeInForce = .ioc
        var quantity: Amount?
        var tradeValue: Amount = 0
        var markPrice: Amount?
        var commission: Amount = 0
    }

    /// A named check; `run` returns nil to pass.
    public struct Check: Sendable {
        public let name: String
        public let ruleID: String
        let run: @Sendable (inout Draft, PreTradeRiskEngine) throws(AmountOverflow) -> Refusal?
    }

    public let settings: CryptoSettings
    public let calendar: TradingCalendar

    public init(settings: CryptoSettings) {
        self.settings = settings
        self.calendar = TradingCalendar(settings: settings)
    }

    /// The checks, in the order they run.
    public static let checks: [Check] = [
        Check(name: "mobile number verified", ruleID: "ACC-03", run: Checks.mobileVerified),
        Check(name: "trading permission", ruleID: "CRY-01", run: Checks.permission),
        Check(name: "investor eligibility", ruleID: "CRY-02", run: Checks.eligibility),
        Check(name: "asset", ruleID: "CRY-03", run: Checks.asset),
        Check(name: "order type and form", ruleID: "CRY-04", run: Checks.orderForm),
        Check(name: "time in force", ruleID: "CRY-08", run: Checks.timeInForce),
        Check(name: "trading hours", ruleID: "CRY-07", run: Checks.tradingHours),
        Check(name: "fresh mark price", ruleID: "", run: Checks.markPrice),
        Check(name: "quantity and value", ruleID: "CRY-04", run: Checks.quantityAndValue),
        Check(name: "minimum order", ruleID: "CRY-05", run: Checks.minimumSize),
        Check(name: "no margin", ruleID: "CRY-06", run: Checks.noMargin),
        Check(name: "no short selling", ruleID: "CRY-06", run: Checks.noShortSelling),
        Check(name: "holdings cap", ruleID: "CRY-09", run: Checks.holdingsCap),
    ]

    /// Runs every check; returns the priced order or the first refusal.
    public func evaluate(_ intent: OrderIntent, account: AccountSnapshot, mark: MarkPrice?, now: Date)
        -> Result<PricedOrder, Refusal> {
        var draft = Draft(intent: intent, account: account, mark: mark, now: now)
        do {
            for check in Self.checks {
                if let refusal = try check.run(&draft, self) { return .failure(refusal) }
            }
            return .success(try priced(draft))
        } catch {
            // Only values far outside any real order or balance get here (inputs are bounded).
            return .failure(Refusal("CRY-04", "An amount in this order or account is too large to check; "
                                    + "use realistic amounts.", kind: .invalidInput))
        }
    }

    private func priced(_ draft: Draft) throws(AmountOverflow) -> PricedOrder {
        let intent = draft.intent
        let commission = draft.commission
        return PricedOrder(
            asset: draft.asset, side: draft.side, type: draft.type, quantity: draft.quantity,
            cashValue: intent.cashValue, limitPrice: intent.limitPrice, timeInForce: draft.timeInForce,
            tradeValue: draft.tradeValue, commission: commission,
            reservedCash: draft.side == .buy ? try draft.tradeValue + commission : 0,
            reservedQuantity: draft.side == .sell ? draft.quantity ?? 0 : 0,
            expiresAt: calendar.expiry(of: draft.timeInForce, acceptedAt: draft.now))
    }

    /// The holdings cap of an account: the lesser of a fraction of equity and an absolute amount.
    public func holdingsCap(totalEquity: Amount) throws(AmountOverflow) -> Amount {
        min(try max(totalEquity, 0) * settings.capEquityFraction, settings.capAbsolute)
    }

    /// Position value plus open buys, counted against the cap; nil without a price.
    public func holdingsUsed(_ account: AccountSnapshot, asset: CryptoAsset, price: Amount?)
        throws(AmountOverflow) -> Amount? {
        let held = account.positions[asset] ?? 0
        guard held == 0 || price != nil else { return nil }
        return try held * (price ?? 0) + (account.openBuyValue[asset] ?? 0)
    }
}

/// The checks' bodies, one function per rule.
enum Checks {
    typealias Draft = PreTradeRiskEngine.Draft

    static func mobileVerified(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard draft.account.profile?.mobileVerified == true else {
            return Refusal("ACC-03", "Your mobile number is not verified, so trading is restricted; "
                           + "verify it with the code we send by SMS, then try again.", kind: .notPermitted)
        }
        return nil
    }

    static func permission(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard draft.account.permissionGranted else {
            return Refusal("CRY-01", "This account has no Cryptocurrency trading permission; "
                           + "request it in the portal first.", kind: .notPermitted)
        }
        return nil
    }

    static func eligibility(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        // The permission was granted to an eligible account; the profile may have changed since.
        guard var refusal = Eligibility.refusal(for: draft.account.profile, settings: engine.settings) else { return nil }
        refusal = Refusal(refusal.ruleID, refusal.message, kind: .notPermitted)
        return refusal
    }

    static func asset(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard let asset = draft.intent.asset else {
            return Refusal("CRY-03", "Only Bitcoin (BTC) and Ether (ETH) can be traded; choose one of them.",
                           kind: .invalidInput)
        }
        draft.asset = asset
        return nil
    }

    static func orderForm(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        let intent = draft.intent
        guard let side = intent.side else {
            return Refusal("CRY-04", "Say whether the order buys or sells.", kind: .invalidInput)
        }
        draft.side = side
        if let refusal = positive(intent.quantity, "quantity") ?? positive(intent.cashValue, "cash value")
            ?? positive(intent.limitPrice, "limit price") {
            return refusal
        }
        switch intent.type {
        case .market?:
            guard intent.quantity == nil, intent.cashValue != nil else {
                return Refusal("CRY-04", "A market order is given in cash value only (e.g. USD 10,000 of BTC); "
                               + "give a cash value, or use a limit order to give a quantity.", kind: .invalidInput)
            }
            guard intent.limitPrice == nil else {
                return Refusal("CRY-04", "A market order takes no limit price; remove it or use a limit order.",
                               kind: .invalidInput)
            }
        case .limit?:
            guard intent.limitPrice != nil else {
                return Refusal("CRY-04", "A limit order needs a limit price.", kind: .invalidInput)
            }
            guard (intent.quantity == nil) != (intent.cashValue == nil) else {
                return Refusal("CRY-04", "Give a limit order either a quantity or a cash value, not both or neither.",
                               kind: .invalidInput)
            }
        case nil:
            return Refusal("CRY-04", "Only Market and Limit orders are taken; choose one.", kind: .invalidInput)
        }
        draft.type = intent.type!
        return nil
    }

    private static func positive(_ value: Amount?, _ name: String) -> Refusal? {
        guard let value, value <= 0 else { return nil }
        return Refusal("CRY-04", "The \(name) must be more than zero.", kind: .invalidInput)
    }

    static func timeInForce(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        let allowed: [TimeInForce]
        switch (draft.side, draft.type) {
        case (.buy, .market): allowed = [.ioc]
        case (.buy, .limit): allowed = [.ioc, .minutes]
        case (.sell, _): allowed = [.ioc, .minutes, .day, .gtc]
        }
        guard let chosen = draft.intent.timeInForce, allowed.contains(chosen) else {
            let names = allowed.map { $0.rawValue.uppercased() }.joined(separator: " or ")
            return Refusal("CRY-08", "A \(draft.type.rawValue) \(draft.side.rawValue) order takes \(names) "
                           + "as its time in force; choose one of them.", kind: .invalidInput)
        }
        draft.timeInForce = chosen
        return nil
    }

    static func tradingHours(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard draft.side == .buy, engine.calendar.isClosingOnly(draft.now) else { return nil }
        return Refusal("CRY-07", "From Friday 16:00 to Sunday 03:00 New York time only closing trades (sells) "
                       + "are taken; place the buy after Sunday 03:00 New York time.")
    }

    static func markPrice(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        // Buys need it for the holdings cap, market sells to estimate the quantity.
        let needed = draft.side == .buy || draft.type == .market
        guard let mark = draft.mark, mark.price > 0,
              draft.now.timeIntervalSince(mark.asOf) <= engine.settings.maxPriceAge else {
            if !needed { return nil }
            return Refusal("", "There is no \(draft.asset.rawValue) price younger than "
                           + "\(Int(engine.settings.maxPriceAge)) seconds to check the order against; "
                           + "try again in a moment.", kind: .missingInput)
        }
        draft.markPrice = mark.price
        return nil
    }

    static func quantityAndValue(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        let intent = draft.intent
        let increment = engine.settings.quantityIncrement[draft.asset] ?? 0
        switch draft.type {
        case .market:
            draft.tradeValue = intent.cashValue!
            // The venue fills a market order by cash value; a sell's quantity is estimated here.
            if draft.side == .sell, let price = draft.markPrice {
                draft.quantity = try Money.floor(intent.cashValue! / price, toMultipleOf: increment)
            }
        case .limit:
            let price = intent.limitPrice!
            let quantity: Amount
            if let given = intent.quantity {
                quantity = try Money.floor(given, toMultipleOf: increment)
            } else {
                quantity = try Money.floor(intent.cashValue! / price, toMultipleOf: increment)
            }
            guard quantity > 0 else {
                return Refusal("CRY-05", "The order comes to less than the smallest \(draft.asset.rawValue) quantity "
                               + "(\(Money.text(increment))); make it larger.")
            }
            draft.quantity = quantity
            draft.tradeValue = try quantity * price
        }
        return nil
    }

    static func minimumSize(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard draft.tradeValue >= engine.settings.minimumOrderValue else {
            return Refusal("CRY-05", "The minimum order is USD \(Money.text(engine.settings.minimumOrderValue)) "
                           + "of trade value; this one is USD \(Money.text(Money.cents(draft.tradeValue))).")
        }
        return nil
    }

    static func noMargin(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        draft.commission = try Fees.commission(tradeValue: draft.tradeValue, monthVolume: draft.account.monthVolume,
                                           settings: engine.settings)
        guard draft.side == .buy else { return nil }
        let cost = try draft.tradeValue + draft.commission
        let available = try draft.account.availableCash
        guard cost <= available else {
            return Refusal("CRY-06", "Crypto is bought with cash only, no margin: the order needs "
                           + "USD \(Money.text(Money.cents(cost))) with commission and USD "
                           + "\(Money.text(Money.cents(max(available, 0)))) is available; deposit cash or buy less.")
        }
        return nil
    }

    static func noShortSelling(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard draft.side == .sell else { return nil }
        let held = draft.account.positions[draft.asset] ?? 0
        let pending = draft.account.pendingSells[draft.asset] ?? 0
        let sellable = try held - pending
        guard let quantity = draft.quantity, quantity <= sellable else {
            return Refusal("CRY-06", "Short selling is not allowed: you can sell at most "
                           + "\(Money.text(max(sellable, 0))) \(draft.asset.rawValue) (held less open sells).")
        }
        return nil
    }

    static func holdingsCap(_ draft: inout Draft, _ engine: PreTradeRiskEngine) throws(AmountOverflow) -> Refusal? {
        guard draft.side == .buy else { return nil }
        let cap = try engine.holdingsCap(totalEquity: draft.account.totalEquity)
        let used = try engine.holdingsUsed(draft.account, asset: draft.asset, price: draft.markPrice) ?? 0
        guard try used + draft.tradeValue <= cap else {
            return Refusal("CRY-09", "\(draft.asset.rawValue) holdings are capped at USD \(Money.text(Money.cents(cap))) "
                           + "(the lesser of 10% of equity and USD 1,000,000); with positions and open buys at "
                           + "USD \(Money.text(Money.cents(used))) this order may be at most "
                           + "USD \(Money.text(Money.cents(max(try cap - used, 0)))).")
        }
        return nil
    }
}
