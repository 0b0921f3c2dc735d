import ArgumentParser

/// One setting, declared once: its flag, environment variable, default, allowed values and
/// help. Flags win over the environment, which wins over the default.
///
/// ```swift
/// static let maxRepeated = Setting(flag: "max-repeated", variable: "SLS_MAX_REPEATED", default: 1000,
///                                  range: 1...100_000, summary: "Most elements in one repeated field.")
/// @Option(name: .customLong(S.maxRepeated.flag), help: S.maxRepeated.help)
/// var maxRepeated = S.maxRepeated.initial
/// ```
/// and `try S.maxRepeated.check(maxRepeated)` in `validate()`, whose message names the flag,
/// the variable and the allowed values.
public struct Setting<Value: SettingValue>: Sendable {
    public let flag: String
    public let variable: String
    public let defaultValue: Value
    public let summary: String
    private let range: ClosedRange<Value>?

    public init(flag: String, variable: String, default defaultValue: Value, range: ClosedRange<Value>? = nil,
                summary: String) {
        self.flag = flag
        self.variable = variable
        self.defaultValue = defaultValue
        self.range = range
        self.summary = summary
    }

    /// The value before flags: the environment's when it is set and valid, else the default.
    public var initial: Value {
        environmentText.flatMap(Value.init(settingText:)) ?? defaultValue
    }

    /// `--help` text: the summary, the variable and the allowed values (ArgumentParser adds the
    /// value in force, the environment's when set).
    public var help: ArgumentHelp {
        var text = "\(summary) (env \(variable)"
        if let range { text += "; \(range.lowerBound) to \(range.upperBound)" }
        return ArgumentHelp(stringLiteral: text + ")")
    }

    /// Throws a message naming the flag and the variable when `value` (or the variable) is not allowed.
    public func check(_ value: Value) throws {
        if let text = environmentText, Value(settingText: text) == nil {
            throw ValidationError("\(variable)='\(text.prefix(64))' is not \(Value.settingKind)")
        }
        if let range, !range.contains(value) {
            throw ValidationError("--\(flag) (env \(variable)) must be \(range.lowerBound) to \(range.upperBound); "
                                  + "got \(value)")
        }
    }

    private var environmentText: String? {
        let text = Environment.string(variable, default: "")
        return text.isEmpty ? nil : text
    }
}

/// A type a ``Setting`` can hold: parsed from the environment's text.
public protocol SettingValue: Comparable, Sendable, CustomStringConvertible {
    init?(settingText: String)
    /// What a valid value is, for errors ("a whole number").
    static var settingKind: String { get }
}

extension Int: SettingValue {
    public init?(settingText: String) { self.init(settingText) }
    public static var settingKind: String { "a whole number" }
}

extension Double: SettingValue {
    public init?(settingText: String) { self.init(settingText) }
    public static var settingKind: String { "a number" }
}

extension String: SettingValue {
    public init?(settingText: String) { self = settingText }
    public static var settingKind: String { "text" }
}
