/// ACC-01: a password is 6 to 40 characters long and holds at least one letter and one digit.
public enum PasswordRules {
    public static let length = 6...40

    /// Why `password` is not acceptable, naming the rule that failed; nil when it is. Never
    /// repeats the password.
    public static func problem(with password: String) -> String? {
        let count = password.count
        guard length.contains(count) else {
            return "a password is \(length.lowerBound) to \(length.upperBound) characters long; this one has \(count) (ACC-01)"
        }
        guard password.contains(where: \.isLetter) else { return "a password holds at least one letter (ACC-01)" }
        guard password.contains(where: \.isNumber) else { return "a password holds at least one digit (ACC-01)" }
        guard !password.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            return "a password holds no control characters"
        }
        return nil
    }
}
