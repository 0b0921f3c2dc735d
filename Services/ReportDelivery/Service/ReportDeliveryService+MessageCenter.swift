import Foundation
import GRDB
import ReportDeliveryCore
import SLSBus
import SLSMessages
import SLSStorage

/// DLV-09: Message Center preferences, messages and summary notifications.
extension ReportDeliveryService {
    func setPreferences(_ request: Preferences) async throws -> Preferences {
        let userName = try Self.userName(request.userName)
        guard templates.supports(request.primaryLanguage) else {
            throw RPCError.invalidArgument("primary_language must be one of \(templates.languages.joined(separator: ", "))",
                                           ruleID: "DLV-09")
        }
        guard request.secondaryLanguage.isEmpty || templates.supports(request.secondaryLanguage) else {
            throw RPCError.invalidArgument("secondary_language must be empty or one of "
                                           + templates.languages.joined(separator: ", "), ruleID: "DLV-09")
        }
        var channels: [String] = []
        for channel in request.channels {
            switch channel {
            case .email: if !channels.contains("email") { channels.append("email") }
            case .sms: if !channels.contains("sms") { channels.append("sms") }
            default: throw RPCError.invalidArgument("channels: each must be EMAIL or SMS", ruleID: "DLV-09")
            }
        }
        let chosen = channels.joined(separator: ",")
        return try await database.write { db in
            var user = try Self.requireUser(userName, db)
            user.primaryLanguage = request.primaryLanguage
            user.secondaryLanguage = request.secondaryLanguage == request.primaryLanguage ? "" : request.secondaryLanguage
            user.channels = chosen
            try user.update(db)
            return Self.preferences(of: user)
        }
    }

    func listMessages(_ request: ListMessagesRequest) async throws -> MessageList {
        let userName = try Self.userName(request.userName)
        guard (0...200).contains(request.limit) else { throw RPCError.invalidArgument("limit must be 0 to 200") }
        let limit = request.limit == 0 ? 50 : Int(request.limit)
        return try await database.read { db in
            try Self.requireUser(userName, db)
            let rows = try CenterMessageRow.filter(Column("user_name") == userName)
                .order(Column("id").desc).limit(limit).fetchAll(db)
            return MessageList(messages: rows.map {
                CenterMessage(id: $0.id ?? 0, createdUnixMs: $0.createdMs, language: $0.language, subject: $0.subject,
                              body: $0.body, statementID: $0.statementID)
            })
        }
    }

    static func preferences(of user: DeliveryUserRow) -> Preferences {
        Preferences(userName: user.userName, primaryLanguage: user.primaryLanguage,
                    secondaryLanguage: user.secondaryLanguage,
                    channels: user.channels.split(separator: ",").compactMap {
                        switch $0 {
                        case "email": Channel.email
                        case "sms": Channel.sms
                        default: nil
                        }
                    })
    }

    /// Puts a message in the user's Message Center (primary language, then the secondary one) and
    /// asks the chosen gateways for a summary notification. Part of the caller's transaction.
    func notify(_ user: DeliveryUserRow, _ kind: MessageTemplates.Kind, values: [String: String], statementID: String,
                _ db: Database, nowMs: Int64) throws {
        var values = values
        values["retention_days"] = String(settings.retention.days)
        let primary = templates.render(kind, language: user.primaryLanguage, values: values)
        var body = primary.body
        if !user.secondaryLanguage.isEmpty {
            let secondary = templates.render(kind, language: user.secondaryLanguage, values: values)
            body += "\n\n" + secondary.subject + "\n" + secondary.body
        }
        var message = CenterMessageRow(id: nil, userName: user.userName, createdMs: nowMs, language: primary.language,
                                       subject: primary.subject, body: body, statementID: statementID)
        try message.insert(db)
        // Bounded: the user's oldest messages go once they have more than the limit.
        let keep = try Int64.fetchAll(db, CenterMessageRow.filter(Column("user_name") == user.userName)
            .select(Column("id")).order(Column("id").desc).limit(settings.maxMessagesPerUser))
        if let oldestKept = keep.last, keep.count == settings.maxMessagesPerUser {
            try CenterMessageRow.filter(Column("user_name") == user.userName && Column("id") < oldestKept).deleteAll(db)
        }
        for channel in Self.preferences(of: user).channels {
            try Outbox.append(NotificationRequested(userName: user.userName, channel: channel, language: primary.language,
                                                    subject: primary.subject, summary: primary.summary,
                                                    requestedUnixMs: nowMs), in: db, nowUnixMs: nowMs)
        }
    }
}
