import CryptoRulesCore
import Foundation
import SLSBus
import SLSMessages

/// Conversions between the wire messages and the rules' own types.
enum ProtoMapping {
    static func asset(_ asset: Asset) -> CryptoAsset? {
        switch asset {
        case .btc: .btc
        case .eth: .eth
        case .unspecified, .unrecognized: nil
        }
    }

    static func asset(_ asset: CryptoAsset) -> Asset {
        switch asset {
        case .btc: .btc
        case .eth: .eth
        }
    }

    static func side(_ side: SLSMessages.OrderSide) -> CryptoRulesCore.OrderSide? {
        switch side {
        case .buy: .buy
        case .sell: .sell
        case .unspecified, .unrecognized: nil
        }
    }

    static func side(_ side: CryptoRulesCore.OrderSide) -> SLSMessages.OrderSide {
        side == .buy ? .buy : .sell
    }

    static func type(_ type: OrderType) -> CryptoOrderType? {
        switch type {
        case .market: .market
        case .limit: .limit
        case .unspecified, .unrecognized: nil
        }
    }

    static func type(_ type: CryptoOrderType) -> OrderType {
        type == .market ? .market : .limit
    }

    static func timeInForce(_ tif: SLSMessages.TimeInForce) -> CryptoRulesCore.TimeInForce? {
        switch tif {
        case .ioc: .ioc
        case .minutes: .minutes
        case .day: .day
        case .gtc: .gtc
        case .unspecified, .unrecognized: nil
        }
    }

    static func timeInForce(_ tif: CryptoRulesCore.TimeInForce) -> SLSMessages.TimeInForce {
        switch tif {
        case .ioc: .ioc
        case .minutes: .minutes
        case .day: .day
        case .gtc: .gtc
        }
    }

    static func status(_ status: OrderStatus) -> SLSMessages.OrderStatus {
        switch status {
        case .open: .open
        case .filled: .filled
        case .cancelled: .cancelled
        case .expired: .expired
        case .rejected: .rejected
        }
    }

    /// Parses an optional decimal field; empty means absent.
    static func amount(_ text: String, field: String) throws -> Amount? {
        guard !text.isEmpty else { return nil }
        guard let value = Amount(input: text) else {
            throw RPCError.invalidArgument(
                "\(field) must be a plain decimal number such as 10.50, with at most 18 decimals and less than "
                + "1,000,000,000,000,000 in size", ruleID: "CRY-04")
        }
        return value
    }

    /// Runs `body`, turning arithmetic that does not fit into INVALID_ARGUMENT.
    static func checked<T>(_ what: String, _ body: () throws -> T) throws -> T {
        do {
            return try body()
        } catch is AmountOverflow {
            throw RPCError.invalidArgument("\(what): an amount is out of range")
        }
    }

    static func requireAccount(_ accountID: String) throws -> String {
        guard !accountID.isEmpty, accountID.count <= 64 else {
            throw RPCError.invalidArgument("account_id is required (at most 64 characters)")
        }
        return accountID
    }

    static func intent(_ request: OrderRequest) throws -> OrderIntent {
        OrderIntent(asset: asset(request.asset), side: side(request.side), type: type(request.type),
                    quantity: try amount(request.quantity, field: "quantity"),
                    cashValue: try amount(request.cashValue, field: "cash_value"),
                    limitPrice: try amount(request.limitPrice, field: "limit_price"),
                    timeInForce: timeInForce(request.timeInForce))
    }

    static func message(_ order: OrderRecord) -> Order {
        Order(orderID: order.orderID, accountID: order.accountID, asset: asset(order.asset), side: side(order.side),
              type: type(order.type), quantity: order.quantity.map(Money.text) ?? "",
              cashValue: order.cashValue.map(Money.text) ?? "", limitPrice: order.limitPrice.map(Money.text) ?? "",
              timeInForce: timeInForce(order.timeInForce), status: status(order.status),
              filledQuantity: Money.text(order.filledQuantity), reservedCash: Money.text(order.reservedCash),
              acceptedUnixMs: order.acceptedMs, expiresUnixMs: order.expiresMs ?? 0,
              clientOrderID: order.clientOrderID, closeReason: order.closeReason)
    }

    /// The status code a refusal travels with.
    static func error(_ refusal: Refusal) -> RPCError {
        switch refusal.kind {
        case .invalidInput: RPCError(.invalidArgument, refusal.message, ruleID: refusal.ruleID)
        case .notPermitted: RPCError(.permissionDenied, refusal.message, ruleID: refusal.ruleID)
        case .ruleViolation: RPCError(.failedPrecondition, refusal.message, ruleID: refusal.ruleID)
        case .missingInput: RPCError(.unavailable, refusal.message, ruleID: refusal.ruleID)
        }
    }
}
