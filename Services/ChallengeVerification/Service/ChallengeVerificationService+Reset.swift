import ChallengeVerificationCore
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSStorage

/// ACC-06 Decided: a forgotten password is reset with a code sent by SMS to the verified mobile
/// number, and the reset ends every open login of that user.
extension ChallengeVerificationService {
    /// Sends a code when the user exists and has a verified number and is under the hourly limit.
    /// The reply is the same in every case (no destination, no limit error), so the reset page tells
    /// a stranger nothing about which user names exist or their numbers.
    func startPasswordReset(_ request: StartPasswordResetRequest) async throws -> PasswordResetStarted {
        guard !request.userName.isEmpty else { throw RPCError.invalidArgument("user_name is empty") }
        let at = now()
        let resetID = randomHexID() + randomHexID()
        let code = ChallengeRules.numericCode(digits: 6)
        let expires = at.addingTimeInterval(settings.challenges.codeLifetime)
        _ = try await database.write { [settings] db -> String in
            guard let user = try CVUserRow.fetchOne(db, key: request.userName), user.mobileVerified,
                  !user.mobileNumber.isEmpty else { return "" }
            let hourAgo = at.addingTimeInterval(-3600).unixMs
            guard try CodeSendRow.filter(Column("user_name") == user.userName && Column("sent_ms") > hourAgo).fetchCount(db)
                    < settings.maxSendsPerUserPerHour else { return "" }
            try PasswordResetRow(resetID: resetID, userName: user.userName,
                                 codeHash: Self.codeHash(loginID: resetID, code: code), issuedMs: at.unixMs, usedMs: nil).insert(db)
            try CodeSendRow(userName: user.userName, sentMs: at.unixMs).insert(db)
            try Outbox.append(SmsCodeRequested(loginID: resetID, userName: user.userName, mobileNumber: user.mobileNumber,
                                               code: code, voice: false, expiresUnixMs: expires.unixMs),
                              in: db, nowUnixMs: at.unixMs)
            return Self.masked(user.mobileNumber)
        }
        outbox.notify()
        return PasswordResetStarted(resetID: resetID, sentTo: "", expiresUnixMs: expires.unixMs)
    }

    /// Checks the code (once, within 5 minutes, in constant time, with the lockout), sets the new
    /// password (ACC-01) and ends the user's open logins.
    func completePasswordReset(_ request: CompletePasswordResetRequest) async throws -> PasswordResetCompleted {
        if let problem = PasswordRules.problem(with: request.newPassword) {
            throw RPCError.invalidArgument("new_password: \(problem)", ruleID: "ACC-01")
        }
        let at = now()
        // The code first (cheap, and it uses the reset up): only a right code costs a password hash.
        let checked: Result<String, RPCError> = try await database.write { [settings] db in
            // An unknown reset and a wrong code look alike.
            guard var reset = try PasswordResetRow.fetchOne(db, key: request.resetID) else {
                return .failure(RPCError(.unauthenticated, "the code is wrong or has expired", ruleID: "ACC-06"))
            }
            var pending = PendingChallenge(loginID: reset.resetID, kind: .sms, issuedAt: Date(unixMs: reset.issuedMs))
            pending.answeredAt = reset.usedMs.map(Date.init(unixMs:))
            if let refusal = ChallengeRules.refusal(pending, loginID: reset.resetID, now: at, settings: settings.challenges) {
                return .failure(RPCError.failedPrecondition(refusal.description, ruleID: refusal.ruleID))
            }
            // Resets count their own failures: wrong reset codes cannot lock the user's SMS login.
            var counter = try Self.counter(reset.userName, "reset", db)
            guard !counter.isLocked(at: at) else {
                return .failure(RPCError.failedPrecondition("password resets are locked after too many wrong codes",
                                                            ruleID: "CHL-09"))
            }
            guard Self.codeMatches(request.code, loginID: reset.resetID, stored: reset.codeHash) else {
                counter.recordFailure(at: at, policy: settings.lockout)
                try Self.save(counter, reset.userName, "reset", db)
                try Self.appendAudit(reset.userName, at: at, address: "", factor: "reset", outcome: "refused",
                                     ruleID: "ACC-06", db)
                return .failure(RPCError(.unauthenticated, "the code is wrong or has expired", ruleID: "ACC-06"))
            }
            counter.recordSuccess()
            try Self.save(counter, reset.userName, "reset", db)
            reset.usedMs = at.unixMs
            try reset.update(db)
            return .success(reset.userName)
        }
        let userName: String
        switch checked {
        case .success(let name): userName = name
        case .failure(let error): throw error
        }
        let hasher = settings.hasher, password = request.newPassword
        let encoded = try await pool.run { try hasher.hash(password) }
        let ended = try await database.write { db -> UInt32 in
            guard var user = try CVUserRow.fetchOne(db, key: userName) else { throw RPCError.notFound("the user is gone") }
            user.passwordHash = encoded
            try user.update(db)
            try db.execute(sql: "UPDATE login SET refused_ms = ? WHERE user_name = ? AND verified_ms IS NULL AND refused_ms IS NULL",
                           arguments: [at.unixMs, user.userName])
            let ended = UInt32(db.changesCount)
            try Self.appendAudit(user.userName, at: at, address: "", factor: "reset", outcome: "verified", ruleID: "ACC-06", db)
            try Outbox.append(PasswordWasReset(userName: user.userName, resetUnixMs: at.unixMs), in: db, nowUnixMs: at.unixMs)
            return ended
        }
        outbox.notify()
        return PasswordResetCompleted(changedUnixMs: at.unixMs, loginsEnded: ended)
    }
}
