import Foundation

/// The assets that can be traded (CRY-03).
public enum CryptoAsset: String, Sendable, Hashable, CaseIterable, Codable {
    case btc = "BTC"
    case eth = "ETH"
}

public enum OrderSide: String, Sendable, Hashable, Codable {
    case buy, sell
}

/// Order types the venue takes (CRY-04).
public enum CryptoOrderType: String, Sendable, Hashable, Codable {
    case market, limit
}

public enum TimeInForce: String, Sendable, Hashable, Codable {
    /// Immediate or cancel.
    case ioc
    /// Cancelled if not filled within the Minutes lifetime (5 minutes).
    case minutes
    /// Cancelled at the end of the trading day.
    case day
    /// Good till cancelled.
    case gtc
}

public enum InvestorType: String, Sendable, Hashable, Codable {
    case individual, institution
}

/// An order as the user gave it, amounts already parsed.
public struct OrderIntent: Sendable, Hashable {
    public var asset: CryptoAsset?
    public var side: OrderSide?
    public var type: CryptoOrderType?
    public var quantity: Amount?
    public var cashValue: Amount?
    public var limitPrice: Amount?
    public var timeInForce: TimeInForce?

    public init(asset: CryptoAsset?, side: OrderSide?, type: CryptoOrderType?, quantity: Amount? = nil,
                cashValue: Amount? = nil, limitPrice: Amount? = nil, timeInForce: TimeInForce?) {
        self.asset = asset
        self.side = side
        self.type = type
        self.quantity = quantity
        self.cashValue = cashValue
        self.limitPrice = limitPrice
        self.timeInForce = timeInForce
    }
}

/// What the account service told us about a client (ACC-05), for eligibility.
public struct InvestorProfile: Sendable, Hashable {
    public var hongKongResident: Bool
    public var professionalInvestor: Bool
    public var investorType: InvestorType?
    /// Investable assets (individuals) or total assets (institutions), in HKD.
    public var assetsHKD: Amount
    public var mobileVerified: Bool

    public init(hongKongResident: Bool, professionalInvestor: Bool, investorType: InvestorType?,
                assetsHKD: Amount, mobileVerified: Bool) {
        self.hongKongResident = hongKongResident
        self.professionalInvestor = professionalInvestor
        self.investorType = investorType
        self.assetsHKD = assetsHKD
        self.mobileVerified = mobileVerified
    }
}

/// Everything about one account that the order checks read.
public struct AccountSnapshot: Sendable, Hashable {
    public var profile: InvestorProfile?
    public var permissionGranted: Bool
    public var totalEquity: Amount
    public var cash: Amount
    /// Cash held back by open buy orders.
    public var reservedCash: Amount
    /// Value of open buy orders, counted against the holdings cap.
    public var openBuyValue: [CryptoAsset: Amount]
    public var positions: [CryptoAsset: Amount]
    /// Quantity held back by open sell orders.
    public var pendingSells: [CryptoAsset: Amount]
    /// Trade value so far this month, for the commission tier.
    public var monthVolume: Amount

    public init(profile: InvestorProfile?, permissionGranted: Bool, totalEquity: Amount = 0, cash: Amount = 0,
                reservedCash: Amount = 0, openBuyValue: [CryptoAsset: Amount] = [:],
                positions: [CryptoAsset: Amount] = [:], pendingSells: [CryptoAsset: Amount] = [:],
                monthVolume: Amount = 0) {
        self.profile = profile
        self.permissionGranted = permissionGranted
        self.totalEquity = totalEquity
        self.cash = cash
        self.reservedCash = reservedCash
        self.openBuyValue = openBuyValue
        self.positions = positions
        self.pendingSells = pendingSells
        self.monthVolume = monthVolume
    }

    public var availableCash: Amount {
        get throws(AmountOverflow) { try cash - reservedCash }
    }
}

/// A mark price and when it was true.
public struct MarkPrice: Sendable, Hashable {
    public var price: Amount
    public var asOf: Date

    public init(price: Amount, asOf: Date) {
        self.price = price
        self.asOf = asOf
    }
}
