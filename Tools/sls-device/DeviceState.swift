import Crypto
import Foundation

/// What the simulated IB Key app keeps on its phone, in one JSON file readable by its owner only:
/// the device keys (private halves never leave it), the platform, the PIN's salted hash on
/// Android, and the users it holds IB Key for.
struct DeviceState: Codable {
    var deviceID: String
    var platform: String
    /// P-256 signing key, raw (32 bytes), base64.
    var signingKey: Data
    /// P-256 key-agreement key, raw, base64.
    var agreementKey: Data
    /// Android: SHA-256 of salt + PIN; the PIN itself is never stored.
    var pinSalt: Data?
    var pinHash: Data?
    var pushToken: String
    var users: [String]
    /// challenge verification's key-agreement public key, fetched when needed (the OCRA key's other half).
    var serverAgreementKey: Data?

    static func new(platform: String, pin: String?) -> DeviceState {
        var state = DeviceState(deviceID: "sim-\(UUID().uuidString.prefix(8).lowercased())", platform: platform,
                                signingKey: P256.Signing.PrivateKey().rawRepresentation,
                                agreementKey: P256.KeyAgreement.PrivateKey().rawRepresentation,
                                pinSalt: nil, pinHash: nil, pushToken: "push-\(UUID().uuidString.lowercased())", users: [],
                                serverAgreementKey: nil)
        if let pin { state.setPIN(pin) }
        return state
    }

    mutating func setPIN(_ pin: String) {
        let salt = Data((0..<16).map { _ in UInt8.random(in: .min ... .max) })
        pinSalt = salt
        pinHash = Data(SHA256.hash(data: salt + Data(pin.utf8)))
    }

    /// Android: whether `pin` is the phone's PIN (the local confirmation of ENR-08).
    func checks(pin: String?) -> Bool {
        guard platform == "android" else { return true }
        guard let pin, let pinSalt, let pinHash else { return false }
        return Data(SHA256.hash(data: pinSalt + Data(pin.utf8))) == pinHash
    }

    var signing: P256.Signing.PrivateKey {
        get throws { try P256.Signing.PrivateKey(rawRepresentation: signingKey) }
    }

    var agreement: P256.KeyAgreement.PrivateKey {
        get throws { try P256.KeyAgreement.PrivateKey(rawRepresentation: agreementKey) }
    }

    static func load(_ path: String) throws -> DeviceState? {
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count <= 1 << 20 else { throw DeviceError("\(path) is too large to be a phone's state") }
        do {
            return try JSONDecoder().decode(DeviceState.self, from: data)
        } catch {
            throw DeviceError("\(path) is not a phone's state file: \(error)")
        }
    }

    /// Writes the state atomically, mode 0600.
    func save(_ path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let temporary = path + ".tmp"
        guard FileManager.default.createFile(atPath: temporary, contents: try encoder.encode(self),
                                             attributes: [.posixPermissions: 0o600]),
              rename(temporary, path) == 0 else {
            throw DeviceError("cannot write the phone's state to \(path): \(String(cString: strerror(errno)))")
        }
    }
}

struct DeviceError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
