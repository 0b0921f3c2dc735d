#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads settings from the environment; flags take precedence over these.
public enum Environment {
    /// The value of `name`, or `fallback` when it is unset or empty.
    public static func string(_ name: String, default fallback: String) -> String {
        guard let raw = getenv(name) else { return fallback }
        let value = String(cString: raw)
        return value.isEmpty ? fallback : value
    }

    /// The integer value of `name`, or `fallback` when unset. A value that is not a number
    /// falls back here and is reported by ``problems(numbers:)`` during validation.
    public static func int(_ name: String, default fallback: Int) -> Int {
        Int(string(name, default: String(fallback))) ?? fallback
    }

    /// One line per variable in `names` that is set but is not a number, for start-up errors.
    public static func problems(numbers names: [String]) -> [String] {
        names.compactMap { name in
            guard let raw = getenv(name) else { return nil }
            let value = String(cString: raw)
            return value.isEmpty || Double(value) != nil ? nil : "\(name)='\(value)' is not a number"
        }
    }
}
