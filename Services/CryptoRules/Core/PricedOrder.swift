import Foundation

/// An order that passed every check, with the amounts the service records and the venue gets.
public struct PricedOrder: Sendable, Hashable {
    public var asset: CryptoAsset
    public var side: OrderSide
    public var type: CryptoOrderType
    /// Quantity for the venue: given, converted from a limit order's cash value at the limit
    /// price, or (market sell) estimated at the mark price. Nil for a market buy, which the
    /// venue fills by cash value.
    public var quantity: Amount?
    /// Cash value as given (market orders, limit orders given in cash).
    public var cashValue: Amount?
    public var limitPrice: Amount?
    public var timeInForce: TimeInForce
    /// Quantity times limit price, or the cash value.
    public var tradeValue: Amount
    /// CRY-10 estimate for the whole order.
    public var commission: Amount
    /// Cash held back while a buy is open: value plus commission. Zero for sells.
    public var reservedCash: Amount
    /// Quantity held back while a sell is open. Zero for buys.
    public var reservedQuantity: Amount
    /// When an unfilled order is cancelled; nil for GTC.
    public var expiresAt: Date?
}
