import ChallengeVerificationCore
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSStorage

/// CHL-02, CHL-04: push approval with number matching, and the login's state for the screen that waits.
extension ChallengeVerificationService {
    /// How far a phone's signed time may be from the server's.
    static let pushWindowMs: Int64 = 60_000

    /// Asks the chosen phone (a `PushRequested` event for the push gateway, no secret in it).
    func sendPush(_ request: ChooseFactorRequest) async throws -> PushSent {
        let at = now()
        let (number, choices) = PushRules.numbers()
        try await database.write { [settings] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), login.verifiedMs == nil, login.refusedMs == nil,
                  at.timeIntervalSince(Date(unixMs: login.startedMs)) < settings.loginLifetime else {
                throw RPCError(.notFound, "no login \(request.loginID.prefix(64)) waiting for a factor: start again",
                               ruleID: "CHL-08")
            }
            // CHL-07, CHL-12: step-up and second-device verifications are challenge/response only.
            guard login.purpose == 0 else {
                throw RPCError.failedPrecondition("step-up and second-device verifications use challenge/response",
                                                  ruleID: "CHL-07")
            }
            guard let phone = try PhoneRow.fetchOne(db, key: ["user_name": login.userName, "device_id": request.deviceID]),
                  phone.active, !phone.pushToken.isEmpty else {
                throw RPCError.failedPrecondition("that phone has no push registration: use challenge/response (CHL-04)",
                                                  ruleID: "CHL-02")
            }
            if try Self.counter(login.userName, "ibKey", db).isLocked(at: at) {
                throw RPCError.failedPrecondition("IB Key is locked after too many wrong answers", ruleID: "CHL-09")
            }
            login.factor = "push"
            login.deviceID = request.deviceID
            login.challengeIssuedMs = at.unixMs
            login.pushNumber = Int(number)
            login.pushChoices = choices.map(String.init).joined(separator: ",")
            try login.update(db)
            try Outbox.append(PushRequested(loginID: login.loginID, deviceID: phone.deviceID, pushToken: phone.pushToken),
                              in: db, nowUnixMs: at.unixMs)
        }
        outbox.notify()
        return PushSent(loginID: request.loginID, number: number,
                        expiresUnixMs: at.addingTimeInterval(settings.challenges.challengeLifetime).unixMs)
    }

    /// The phone's pending requests, for a poll signed with its device key.
    func pollPush(_ request: PollPushRequest) async throws -> PendingPushList {
        let at = now()
        return try await database.read { [settings] db in
            // Only the rows of the key that signed: a device id is the phone's word, not proof.
            let message = PushRules.pollMessage(deviceID: request.deviceID, signedUnixMs: request.signedUnixMs)
            let users = try Self.phonesProven(by: request.signature, message: message, signedUnixMs: request.signedUnixMs,
                                              deviceID: request.deviceID, nowUnixMs: at.unixMs, db).map(\.userName)
            let since = at.addingTimeInterval(-settings.challenges.challengeLifetime).unixMs
            let pending = try Self.pendingPushRequest(deviceID: request.deviceID, users: users, sinceUnixMs: since)
                .fetchAll(db)
            return PendingPushList(requests: pending.map { login in
                PendingPush(loginID: login.loginID, userName: login.userName, clientAddress: login.clientAddress,
                            choices: login.pushChoices.split(separator: ",").compactMap { UInt32($0) })
            })
        }
    }

    /// The phone's signed decision: approve with the screen's number, or decline ("not me").
    func answerPush(_ request: AnswerPushRequest) async throws -> AnswerPushReply {
        let at = now()
        let outcome: Result<String, RPCError> = try await database.write { [self] db in
            guard var login = try LoginRow.fetchOne(db, key: request.loginID), login.deviceID == request.deviceID,
                  let phone = try PhoneRow.fetchOne(db, key: ["user_name": login.userName, "device_id": request.deviceID]),
                  phone.active else {
                throw RPCError(.notFound, "no push for this phone and login", ruleID: "CHL-02")
            }
            let message = PushRules.answerMessage(loginID: request.loginID, deviceID: request.deviceID,
                                                  approve: request.approve, number: request.number,
                                                  signedUnixMs: request.signedUnixMs)
            if let problem = PushRules.problem(signature: request.signature, message: message,
                                               publicKey: Data(phone.signingKey), signedUnixMs: request.signedUnixMs,
                                               nowUnixMs: at.unixMs, windowMs: Self.pushWindowMs) {
                return .failure(RPCError.permissionDenied(problem, ruleID: "CHL-02"))
            }
            // CHL-04: a login that switched to challenge/response no longer takes the push.
            guard login.factor == "push", let issued = login.challengeIssuedMs else {
                return .failure(RPCError.failedPrecondition("this login no longer waits for a push", ruleID: "CHL-04"))
            }
            var pending = PendingChallenge(loginID: login.loginID, kind: .challengeResponse, issuedAt: Date(unixMs: issued))
            pending.answeredAt = (login.verifiedMs ?? login.refusedMs).map(Date.init(unixMs:))
            if let refusal = ChallengeRules.refusal(pending, loginID: request.loginID, now: at, settings: settings.challenges) {
                return .failure(RPCError.failedPrecondition(refusal.description, ruleID: refusal.ruleID))
            }
            if !request.approve {
                login.refusedMs = at.unixMs
                try login.update(db)
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "push",
                                     outcome: "declined", ruleID: "CHL-02", db)
                try Outbox.append(SuspiciousLogin(userName: login.userName, clientAddress: login.clientAddress,
                                                  declinedUnixMs: at.unixMs), in: db, nowUnixMs: at.unixMs)
                return .success("refused")
            }
            var counter = try Self.counter(login.userName, "ibKey", db)
            guard !counter.isLocked(at: at) else {
                return .failure(RPCError.failedPrecondition("IB Key is locked after too many wrong answers", ruleID: "CHL-09"))
            }
            guard Int(request.number) == login.pushNumber else {
                // One try per push: a wrong number ends this login, so the numbers cannot be tried in turn.
                let locked = counter.recordFailure(at: at, policy: settings.lockout)
                try Self.save(counter, login.userName, "ibKey", db)
                login.refusedMs = at.unixMs
                try login.update(db)
                try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "push",
                                     outcome: locked ? "locked" : "refused", ruleID: "CHL-02", db)
                if locked {
                    try Outbox.append(FactorLocked(userName: login.userName, factor: .ibKeyPush,
                                                   lockedUntilUnixMs: (counter.lockedUntil ?? at).unixMs,
                                                   permanent: counter.lockedForGood), in: db, nowUnixMs: at.unixMs)
                }
                return .failure(RPCError(.unauthenticated, "the number does not match the login screen's: this login "
                                         + "is refused; start again", ruleID: "CHL-02"))
            }
            counter.recordSuccess()
            try Self.save(counter, login.userName, "ibKey", db)
            login.verifiedMs = at.unixMs
            try login.update(db)
            try Self.appendAudit(login.userName, at: at, address: login.clientAddress, factor: "push", outcome: "verified",
                                 ruleID: "", db)
            try Outbox.append(LoginDecided(userName: login.userName, clientAddress: login.clientAddress, factor: .ibKeyPush,
                                           outcome: "verified", decidedUnixMs: at.unixMs), in: db, nowUnixMs: at.unixMs)
            return .success("verified")
        }
        outbox.notify()
        switch outcome {
        case .success(let result): return AnswerPushReply(outcome: result)
        case .failure(let error): throw error
        }
    }

    /// What the waiting login screen polls.
    func loginStatus(_ request: LoginStatusRequest) async throws -> LoginStatus {
        let at = now()
        return try await database.read { [settings] db in
            guard let login = try LoginRow.fetchOne(db, key: request.loginID) else {
                throw RPCError.notFound("no login \(request.loginID.prefix(64))")
            }
            let state: String
            if login.verifiedMs != nil {
                state = "verified"
            } else if login.refusedMs != nil {
                state = "refused"
            } else if at.timeIntervalSince(Date(unixMs: login.startedMs)) >= settings.loginLifetime {
                state = "expired"
            } else {
                state = "pending"
            }
            return LoginStatus(loginID: login.loginID, state: state)
        }
    }

    /// ENR-12: the phone's new push registration, signed with its device key; applies to every user of the phone.
    func refreshPush(_ request: RefreshPushRequest) async throws -> RefreshPushReply {
        guard !request.pushToken.isEmpty, request.pushToken.utf8.count <= 512 else {
            throw RPCError.invalidArgument("push_token is 1 to 512 bytes")
        }
        let at = now()
        let refreshed = try await database.write { db -> UInt32 in
            let message = PushRules.refreshMessage(deviceID: request.deviceID, pushToken: request.pushToken,
                                                   signedUnixMs: request.signedUnixMs)
            let phones = try Self.phonesProven(by: request.signature, message: message, signedUnixMs: request.signedUnixMs,
                                               deviceID: request.deviceID, nowUnixMs: at.unixMs, db)
            for var phone in phones {
                phone.pushToken = request.pushToken
                try phone.update(db)
            }
            return UInt32(phones.count)
        }
        return RefreshPushReply(refreshed: refreshed)
    }

    /// Up to 100 active phone rows with `deviceID` (searched by the `phone_device_id` index).
    static func activePhonesRequest(_ deviceID: String) -> QueryInterfaceRequest<PhoneRow> {
        PhoneRow.filter(Column("device_id") == deviceID && Column("active") == true).limit(100)
    }

    /// Up to 20 push logins for `deviceID` and `users` still waiting for an answer, issued after
    /// `sinceUnixMs` (searched by the `login_device_id` index).
    static func pendingPushRequest(deviceID: String, users: [String], sinceUnixMs: Int64) -> QueryInterfaceRequest<LoginRow> {
        LoginRow.filter(Column("device_id") == deviceID && Column("factor") == "push"
                        && users.contains(Column("user_name"))
                        && Column("verified_ms") == nil && Column("refused_ms") == nil
                        && Column("challenge_issued_ms") > sinceUnixMs).limit(20)
    }

    /// The active phone rows with `deviceID` whose signing key made `signature` over `message`
    /// within the time window; PERMISSION_DENIED when none did.
    static func phonesProven(by signature: Data, message: Data, signedUnixMs: Int64, deviceID: String, nowUnixMs: Int64,
                             _ db: Database) throws -> [PhoneRow] {
        let phones = try activePhonesRequest(deviceID).fetchAll(db)
        guard !phones.isEmpty else { throw RPCError.notFound("no active IB Key phone \(deviceID.prefix(64))") }
        var problem = "the signature is not the phone's"
        let proven = phones.filter { phone in
            if let why = PushRules.problem(signature: signature, message: message, publicKey: Data(phone.signingKey),
                                           signedUnixMs: signedUnixMs, nowUnixMs: nowUnixMs, windowMs: pushWindowMs) {
                problem = why
                return false
            }
            return true
        }
        guard !proven.isEmpty else { throw RPCError.permissionDenied(problem, ruleID: "CHL-02") }
        return proven
    }
}
