/// ENR-05: an Android activation sets a PIN of 4 to 6 characters, letters, digits and special
/// characters allowed; iOS sets none (the phone's own unlock confirms).
public enum PinRule {
    /// Why `pin` is not acceptable on `platform`, or nil when it is. Never repeats the PIN.
    public static func problem(with pin: String?, on platform: DevicePlatform, settings: EnrollmentSettings) -> String? {
        switch platform {
        case .ios:
            return pin == nil || pin == "" ? nil
                : "an iOS activation sends no PIN: the phone's own unlock confirms it, and the server never sees it"
        case .android:
            guard let pin, !pin.isEmpty else {
                return "an Android activation sets a PIN of \(settings.pinLength.lowerBound) to \(settings.pinLength.upperBound) characters"
            }
            // Printable ASCII without the space: letters, digits and special characters.
            guard pin.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) }) else {
                return "a PIN holds letters, digits and special characters only (printable ASCII, no spaces)"
            }
            guard settings.pinLength.contains(pin.unicodeScalars.count) else {
                return "a PIN is at least \(settings.pinLength.lowerBound) and up to \(settings.pinLength.upperBound) characters; "
                    + "this one has \(pin.unicodeScalars.count)"
            }
            return nil
        }
    }
}
