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
    public var quantity: Decimal?
    public var cashValue: Decimal?
    public var limitPrice: Decimal?
    public var timeInForce: TimeInForce?

    public init(asset: CryptoAsset?, side: OrderSide?, type: CryptoOrderType?, quantity: Decimal? = nil,
                cashValue: Decimal? = nil, limitPrice: Decimal? = nil, timeInForce: TimeInForce?) {
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
    public var assetsHKD: Decimal
    public var mobileVerified: Bool

    public init(hongKongResident: Bool, professionalInvestor: Bool, investorType: InvestorType?,
                assetsHKD: Decimal, mobileVerified: Bool) {
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
    public var totalEquity: Decimal
    public var cash: Decimal
    /// Cash held back by open buy orders.
    public var reservedCash: Decimal
    /// Value of open buy orders, counted against the holdings cap.
    public var openBuyValue: [CryptoAsset: Decimal]
    public var positions: [CryptoAsset: Decimal]
    /// Quantity held back by open sell orders.
    public var pendingSells: [CryptoAsset: Decimal]
    /// Trade value so far this month, for the commission tier.
    public var monthVolume: Decimal

    public init(profile: InvestorProfile?, permissionGranted: Bool, totalEquity: Decimal = 0, cash: Decimal = 0,
                reservedCash: Decimal = 0, openBuyValue: [CryptoAsset: Decimal] = [:],
                positions: [CryptoAsset: Decimal] = [:], pendingSells: [CryptoAsset: Decimal] = [:],
                monthVolume: Decimal = 0) {
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

    public var availableCash: Decimal { cash - reservedCash }
}

/// A mark price and when it was true.
public struct MarkPrice: Sendable, Hashable {
    public var price: Decimal
    public var asOf: Date

    public init(price: Decimal, asOf: Date) {
        self.price = price
        self.asOf = asOf
    }
}
