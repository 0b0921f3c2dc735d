import Foundation
import SLSBus
import SLSMessages
import Synchronization
import ZeroMQ

/// What enrollment asks of challenge verification: its key-agreement key (to seal DSC+ seeds for
/// it), and a password then an SMS code (ENR-08's second way to add a user to a phone).
public protocol ChallengeGateway: Sendable {
    func agreementKey() async throws -> Data
    /// Checks the password and sends a code by SMS; returns the login id and where the code went.
    func passwordThenSMS(userName: String, password: String) async throws -> (loginID: String, sentTo: String)
    /// Checks the code; returns the user it verified.
    func confirm(loginID: String, code: String) async throws -> String
}

/// Challenge verification over the bus, as the enrollment service's own identity.
public final class BusChallengeGateway: ChallengeGateway {
    private let client: RPCClient
    private let cachedKey = Mutex<Data?>(nil)

    public init(client: RPCClient) {
        self.client = client
    }

    public func agreementKey() async throws -> Data {
        if let key = cachedKey.withLock({ $0 }) { return key }
        let key = try await client.call(ChallengeVerificationAPI.getAgreementKey, AgreementKeyRequest()).publicKey
        cachedKey.withLock { $0 = key }
        return key
    }

    public func passwordThenSMS(userName: String, password: String) async throws -> (loginID: String, sentTo: String) {
        let login = try await client.call(ChallengeVerificationAPI.beginLogin,
                                          BeginLoginRequest(userName: userName, password: password))
        guard login.factors.contains(where: { $0.factor == .smsCode }) else {
            throw RPCError.failedPrecondition("the account has no verified mobile number to send the code to",
                                              ruleID: "ACC-03")
        }
        let sent = try await client.call(ChallengeVerificationAPI.chooseFactor,
                                         ChooseFactorRequest(loginID: login.loginID, factor: .smsCode))
        return (login.loginID, sent.sentTo)
    }

    public func confirm(loginID: String, code: String) async throws -> String {
        try await client.call(ChallengeVerificationAPI.answerChallenge,
                              AnswerChallengeRequest(loginID: loginID, response: code)).userName
    }
}
