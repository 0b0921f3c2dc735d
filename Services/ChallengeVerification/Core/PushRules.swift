import DeviceSignatures
import Foundation

/// CHL-02: push approval with number matching. The phone fetches its pending requests with a
/// signed poll and answers with a signed decision carrying the number the login screen shows;
/// signatures are over a timestamp that must be fresh, so an old one cannot be replayed.
public enum PushRules {
    /// What the phone signs to poll.
    public static func pollMessage(deviceID: String, signedUnixMs: Int64) -> Data {
        Data("sls.challenge.v1.Poll\n\(deviceID)\n\(signedUnixMs)".utf8)
    }

    /// What the phone signs to answer.
    public static func answerMessage(loginID: String, deviceID: String, approve: Bool, number: UInt32,
                                     signedUnixMs: Int64) -> Data {
        Data("sls.challenge.v1.Push\n\(loginID)\n\(deviceID)\n\(approve ? "approve" : "decline")\n\(number)\n\(signedUnixMs)".utf8)
    }

    /// What the phone signs to refresh its push registration (ENR-12).
    public static func refreshMessage(deviceID: String, pushToken: String, signedUnixMs: Int64) -> Data {
        Data("sls.challenge.v1.RefreshPush\n\(deviceID)\n\(pushToken)\n\(signedUnixMs)".utf8)
    }

    /// Why a signed message is not accepted at `nowUnixMs` (stale, from the future, or not signed by
    /// the device's key), or nil.
    public static func problem(signature: Data, message: Data, publicKey: Data, signedUnixMs: Int64, nowUnixMs: Int64,
                               windowMs: Int64) -> String? {
        guard signedUnixMs > nowUnixMs &- windowMs, signedUnixMs < nowUnixMs &+ windowMs else {
            return "the phone's signed time is more than \(windowMs / 1000) s away from the server's: a stale or replayed message"
        }
        guard DeviceSignature.verify(signature, of: message, by: publicKey) else {
            return "the signature is not the phone's"
        }
        return nil
    }

    /// The number the login screen shows (10 to 99) and the three the phone offers, in random order.
    public static func numbers() -> (number: UInt32, choices: [UInt32]) {
        var generator = SystemRandomNumberGenerator()
        var choices = Set<UInt32>()
        while choices.count < 3 { choices.insert(UInt32.random(in: 10...99, using: &generator)) }
        let all = Array(choices).shuffled(using: &generator)
        return (all[0], all.shuffled(using: &generator))
    }
}
