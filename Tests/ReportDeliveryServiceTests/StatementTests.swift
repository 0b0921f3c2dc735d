import Foundation
import GRDB
import ReportDeliveryCore
@testable import ReportDeliveryService
import SLSBus
import SLSMessages
import SLSTesting
import Testing

@Suite("Report delivery: statements, retention, Message Center", .serialized)
struct StatementTests {
    static let content = Data("ACTIVITY STATEMENT October 2026\nNet liquidation value: 1,234,567.89 USD\n".utf8)

    static func statement(_ id: String = "stmt-2026-10", user: String = "alice", content: Data = content) -> SLSMessages.Statement {
        SLSMessages.Statement(statementID: id, userName: user, name: "activity-2026-10.pdf", period: "2026-10", content: content)
    }

    @Test("DLV-08: a statement is encrypted with the user's PGP key; sftp fetches it and gpg --decrypt gives it back")
    func encryptedDelivery() async throws {
        let harness = try DeliveryHarness()
        let key = try await harness.setUp()
        let gnupg = try UserGnuPG()
        _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "alice", publicKey: gnupg.armoredPublicKey))
        let receipt = try await harness.service.deliver(Self.statement())
        let again = try await harness.service.deliver(Self.statement())
        let local = try StockTools.scratch()
        let fetched = try harness.sftp("alice", key: key, ["get activity-2026-10.pdf.gpg"], in: local)
        await harness.shutdown()
        #expect(receipt.state == .delivered && receipt.fileName == "activity-2026-10.pdf.gpg")
        #expect(again.note.contains("not delivered again"))
        #expect(fetched.status == 0, "\(fetched.stderr)")
        let onDisk = try Data(contentsOf: URL(fileURLWithPath: harness.folders.folder(of: "alice") + "/activity-2026-10.pdf.gpg"))
        #expect(onDisk.range(of: Data("Net liquidation".utf8)) == nil, "the file is not encrypted")
        let decrypted = try gnupg.decrypt(local.appendingPathComponent("activity-2026-10.pdf.gpg"))
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(Data(decrypted.stdout.utf8) == Self.content)
        #expect(try await harness.outbox(StatementDelivered.self).count == 1)
    }

    @Test("DLV-08: without a PGP key the statement is held, never in clear, and delivered once a key is registered")
    func heldUntilKey() async throws {
        let harness = try DeliveryHarness()
        try await harness.setUp()
        let receipt = try await harness.service.deliver(Self.statement())
        let folder = harness.folders.folder(of: "alice")
        #expect(receipt.state == .held)
        #expect(receipt.note.contains("no PGP public key"))
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
        let messages = try await harness.service.listMessages(ListMessagesRequest(userName: "alice"))
        #expect(messages.messages.first?.subject == "A statement is waiting for your PGP key")
        // Nothing of the statement is readable in the database files or anywhere under the data folder.
        #expect(try Self.traces(of: "Net liquidation", under: harness.root).isEmpty)

        let gnupg = try UserGnuPG()
        _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "alice", publicKey: gnupg.armoredPublicKey))
        let list = try await harness.service.listStatements(ListStatementsRequest(userName: "alice"))
        await harness.shutdown()
        #expect(list.statements.map(\.state) == [.delivered])
        let decrypted = try gnupg.decrypt(URL(fileURLWithPath: folder + "/activity-2026-10.pdf.gpg"))
        #expect(Data(decrypted.stdout.utf8) == Self.content)
        #expect(try await harness.outbox(StatementHeld.self).count == 1)
    }

    @Test("DLV-08: plain delivery only when the setting allows it")
    func plainDeliverySetting() async throws {
        var settings = DeliverySettings()
        settings.allowPlainDelivery = true
        let harness = try DeliveryHarness(settings: settings)
        try await harness.setUp()
        let receipt = try await harness.service.deliver(Self.statement())
        await harness.shutdown()
        #expect(receipt.state == .delivered && receipt.fileName == "activity-2026-10.pdf")
        #expect(try Data(contentsOf: URL(fileURLWithPath: harness.folders.folder(of: "alice") + "/activity-2026-10.pdf")) == Self.content)
    }

    @Test("DLV-03: every private key format is refused for SSH and PGP; no trace in the database, data folder or logs")
    func privateKeysLeaveNoTrace() async throws {
        let harness = try DeliveryHarness()
        _ = try await harness.createUser("alice")
        let folder = try StockTools.scratch()
        var secrets: [String] = []
        secrets.append(try String(contentsOfFile: try StockTools.sshKeygen("ed25519", in: folder), encoding: .utf8))
        secrets.append(try String(contentsOfFile: try StockTools.sshKeygen("rsa", bits: 2048, format: "PEM", in: folder), encoding: .utf8))
        secrets.append(try String(contentsOfFile: try StockTools.sshKeygen("ecdsa", bits: 256, format: "PKCS8", in: folder), encoding: .utf8))
        let ppk = folder.appendingPathComponent("user.ppk").path
        try StockTools.run("puttygen", ["-q", "-t", "rsa", "-b", "2048", "-o", ppk, "--new-passphrase", "/dev/null"])
        secrets.append(try String(contentsOfFile: ppk, encoding: .utf8))
        let sshcom = folder.appendingPathComponent("sshcom").path
        try StockTools.run("puttygen", [ppk, "-O", "private-sshcom", "-o", sshcom, "--new-passphrase", "/dev/null"])
        secrets.append(try String(contentsOfFile: sshcom, encoding: .utf8))
        let gnupg = try UserGnuPG()
        for secret in secrets {
            await #expect(throws: RPCError.self) {
                _ = try await harness.service.addPublicKey(AddPublicKeyRequest(userName: "alice", publicKey: secret))
            }
        }
        do {
            _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "alice", publicKey: gnupg.armoredSecretKey))
            Issue.record("a PGP secret key was accepted")
        } catch let error as RPCError {
            #expect(error.ruleID == "DLV-03")
        }
        // A secret PGP key dressed up as a public one is caught by GnuPG's own reading.
        let disguised = gnupg.armoredSecretKey.replacingOccurrences(of: "PRIVATE KEY BLOCK", with: "PUBLIC KEY BLOCK")
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "alice", publicKey: disguised))
        }
        await harness.shutdown()
        secrets.append(gnupg.armoredSecretKey)
        // Distinctive lines of every key body: none is in the database (and its WAL), the data
        // folder (GnuPG home included) or the logs.
        let probes = secrets.flatMap { secret in
            secret.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
                .filter { $0.count >= 40 && !$0.contains(" ") && !$0.contains(":") }
                .dropFirst(2).prefix(2)   // the first lines of a format are the same in every key
        }
        #expect(probes.count >= 10)
        for probe in probes {
            let traces = try Self.traces(of: probe, under: harness.root)
            #expect(traces.isEmpty, "found in the data folder: \(traces)")
            #expect(!harness.logs.text.contains(probe), "found in the logs")
        }
        let access = try await harness.service.database.read { try ReportDeliveryService.access(of: "alice", $0) }
        #expect(access.publicKeys.isEmpty && access.pgpFingerprint.isEmpty)
    }

    @Test("DLV-07: a statement is kept at 99 days and purged at 100, with an event and a log line; uploads too")
    func retention() async throws {
        let harness = try DeliveryHarness()
        let key = try await harness.setUp()
        let gnupg = try UserGnuPG()
        _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "alice", publicKey: gnupg.armoredPublicKey))
        _ = try await harness.service.deliver(Self.statement())
        let local = try StockTools.scratch()
        try "notes".write(to: local.appendingPathComponent("notes.txt"), atomically: true, encoding: .utf8)
        #expect(try harness.sftp("alice", key: key, ["put notes.txt"], in: local).status == 0)
        let file = harness.folders.folder(of: "alice") + "/activity-2026-10.pdf.gpg"

        harness.clock.advance(99 * 86_400)
        #expect(try await harness.service.purgeExpired() == 0)
        #expect(FileManager.default.fileExists(atPath: file))

        // A minute past the 100th day of the upload too (it was written a moment after the clock's start).
        harness.clock.advance(86_400 + 60)
        #expect(try await harness.service.purgeExpired() == 2)
        await harness.shutdown()
        #expect(!FileManager.default.fileExists(atPath: file))
        #expect(!FileManager.default.fileExists(atPath: harness.folders.folder(of: "alice") + "/notes.txt"))
        let purged = try await harness.outbox(FilePurged.self)
        #expect(Set(purged.map(\.fileName)) == ["activity-2026-10.pdf.gpg", "notes.txt"])
        #expect(purged.first { $0.statementID == "stmt-2026-10" } != nil)
        let list = try await harness.service.listStatements(ListStatementsRequest(userName: "alice"))
        #expect(list.statements.first?.state == .purged)
        #expect(harness.logs.text.contains("purged (DLV-07)"))
    }

    @Test("DLV-09: the message is in the primary language (then the secondary); e-mail and SMS carry a summary only")
    func messageCenter() async throws {
        let harness = try DeliveryHarness()
        try await harness.setUp()
        let prefs = try await harness.service.setPreferences(Preferences(userName: "alice", primaryLanguage: "zh-Hant",
                                                                          secondaryLanguage: "pt", channels: [.email, .sms, .email]))
        #expect(prefs.channels == [.email, .sms])
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.setPreferences(Preferences(userName: "alice", primaryLanguage: "xx"))
        }
        let gnupg = try UserGnuPG()
        _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "alice", publicKey: gnupg.armoredPublicKey))
        _ = try await harness.service.deliver(Self.statement())
        let messages = try await harness.service.listMessages(ListMessagesRequest(userName: "alice", limit: 1))
        await harness.shutdown()
        let message = try #require(messages.messages.first)
        #expect(message.language == "zh-Hant" && message.subject.contains("結單"))
        #expect(message.body.contains("Novo extrato"), "the secondary language follows")
        let notifications = try await harness.outbox(NotificationRequested.self).suffix(2)
        #expect(notifications.map(\.channel) == [.email, .sms])
        for notification in notifications {
            #expect(notification.language == "zh-Hant")
            #expect(!notification.summary.contains("1,234,567") && !notification.summary.contains("2026-10")
                    && !notification.summary.contains(".pdf"))
        }
    }

    @Test("Statements: bad names, empty content, unknown users and a reused id are refused naming the field")
    func statementValidation() async throws {
        let harness = try DeliveryHarness()
        try await harness.setUp()
        let bad: [(SLSMessages.Statement, String)] = [
            (SLSMessages.Statement(statementID: "s1", userName: "alice", name: "../x.pdf", period: "2026-10", content: Self.content), "name"),
            (SLSMessages.Statement(statementID: "s1", userName: "alice", name: "x.pdf", period: "October", content: Self.content), "period"),
            (SLSMessages.Statement(statementID: "", userName: "alice", name: "x.pdf", period: "2026-10", content: Self.content), "statement_id"),
            (SLSMessages.Statement(statementID: "s1", userName: "alice", name: "x.pdf", period: "2026-10", content: Data()), "content"),
        ]
        for (statement, field) in bad {
            do {
                _ = try await harness.service.deliver(statement)
                Issue.record("accepted a statement with a bad \(field)")
            } catch let error as RPCError {
                #expect(error.code == .invalidArgument && error.message.hasPrefix(field), "\(error.message)")
            }
        }
        await #expect(throws: RPCError.self) { _ = try await harness.service.deliver(Self.statement(user: "nobody")) }
        try await harness.setUp("bob")
        _ = try await harness.service.deliver(Self.statement("shared"))
        do {
            _ = try await harness.service.deliver(Self.statement("shared", user: "bob"))
            Issue.record("a statement id was reused for another user")
        } catch let error as RPCError {
            #expect(error.code == .alreadyExists)
        }
        await harness.shutdown()
    }

    @Test("A second statement with the same file name is refused (it would replace the first and be purged early)")
    func sameName() async throws {
        var settings = DeliverySettings()
        settings.allowPlainDelivery = true
        let harness = try DeliveryHarness(settings: settings)
        try await harness.setUp()
        _ = try await harness.service.deliver(Self.statement("october"))
        do {
            _ = try await harness.service.deliver(Self.statement("october-corrected"))
            Issue.record("a second statement with the same name was accepted")
        } catch let error as RPCError {
            #expect(error.code == .alreadyExists && error.message.contains("october"))
        }
        await harness.shutdown()
    }

    @Test("DLV-09: the Message Center keeps each user's newest messages, whatever other users receive")
    func messagesBoundedPerUser() async throws {
        var settings = DeliverySettings()
        settings.allowPlainDelivery = true
        settings.maxMessagesPerUser = 2
        let harness = try DeliveryHarness(settings: settings)
        try await harness.setUp("alice")
        try await harness.setUp("bob")
        for month in 1...3 {
            _ = try await harness.service.deliver(SLSMessages.Statement(
                statementID: "alice-\(month)", userName: "alice", name: "a-\(month).pdf", period: "2026-0\(month)",
                content: Self.content))
        }
        let alice = try await harness.service.listMessages(ListMessagesRequest(userName: "alice"))
        let bob = try await harness.service.listMessages(ListMessagesRequest(userName: "bob"))
        await harness.shutdown()
        #expect(alice.messages.map(\.statementID) == ["alice-3", "alice-2"])
        #expect(bob.messages.count == 1, "bob's set-up message is still there")
    }

    @Test("DLV-08: deliveries at the same moment cannot both pass: one id, one name, one file (found by the fuzz campaign)")
    func simultaneousDeliveries() async throws {
        let harness = try DeliveryHarness()
        try await harness.setUp("keyed")
        try await harness.setUp("bare")
        let gnupg = try UserGnuPG()
        _ = try await harness.service.setPgpKey(SetPgpKeyRequest(userName: "keyed", publicKey: gnupg.armoredPublicKey))
        let service = harness.service
        for round in 0..<5 {
            // One id for two users (one held, one encrypted): exactly one gets it.
            let id = "twin-\(round)"
            async let first = try? service.deliver(SLSMessages.Statement(
                statementID: id, userName: "bare", name: "b\(round).txt", period: "2026-10", content: Self.content))
            async let second = try? service.deliver(SLSMessages.Statement(
                statementID: id, userName: "keyed", name: "k\(round).txt", period: "2026-10", content: Self.content))
            let outcomes = [await first, await second].compactMap { $0 }
            #expect(outcomes.count == 1, "round \(round): \(outcomes.count) deliveries accepted one id")
            // Two ids, one name, one user: exactly one is delivered, and its file is its own.
            async let a = try? service.deliver(SLSMessages.Statement(
                statementID: "a-\(round)", userName: "keyed", name: "same-\(round).txt", period: "2026-10",
                content: Data("first \(round)".utf8)))
            async let b = try? service.deliver(SLSMessages.Statement(
                statementID: "b-\(round)", userName: "keyed", name: "same-\(round).txt", period: "2026-10",
                content: Data("second \(round)".utf8)))
            let named = [await a, await b].compactMap { $0 }
            #expect(named.count == 1, "round \(round): \(named.count) statements got one name")
        }
        // Every delivered record has its own file, and every file its record.
        for user in ["keyed", "bare"] {
            let records = try await service.listStatements(ListStatementsRequest(userName: user)).statements
            let files = Set(try FileManager.default.contentsOfDirectory(atPath: harness.folders.folder(of: user)))
            #expect(Set(records.filter { $0.state == .delivered }.map(\.fileName)) == files, "\(user)")
        }
        await harness.shutdown()
    }

    @Test("A write a crash interrupted is given up (or held again) at start-up, never left half-claimed")
    func interruptedWrites() async throws {
        let harness = try DeliveryHarness()
        try await harness.setUp()
        try await harness.service.database.write { db in
            try StatementRow(statementID: "lost", userName: "alice", name: "lost.pdf", period: "2026-10", state: "writing",
                             fileName: "lost.pdf.gpg", receivedMs: 1, deliveredMs: nil, purgedMs: nil, sizeBytes: 3,
                             sealed: nil).insert(db)
            try StatementRow(statementID: "was-held", userName: "alice", name: "held.pdf", period: "2026-10",
                             state: "writing", fileName: "held.pdf.gpg", receivedMs: 1, deliveredMs: nil, purgedMs: nil,
                             sizeBytes: 3, sealed: Data([1, 2, 3])).insert(db)
        }
        try "half".write(toFile: harness.folders.folder(of: "alice") + "/lost.pdf.gpg", atomically: true, encoding: .utf8)
        try await harness.service.recoverInterruptedWrites()
        let states = try await harness.service.listStatements(ListStatementsRequest(userName: "alice")).statements
        await harness.shutdown()
        #expect(states.map(\.statementID) == ["was-held"] && states.first?.state == .held)
        #expect(!FileManager.default.fileExists(atPath: harness.folders.folder(of: "alice") + "/lost.pdf.gpg"))
    }

    /// Files under `folder` whose bytes contain `text`.
    static func traces(of text: String, under folder: URL) throws -> [String] {
        let needle = Data(text.utf8)
        var found: [String] = []
        let walker = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey])
        while let url = walker?.nextObject() as? URL {
            guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true,
                  let data = try? Data(contentsOf: url) else { continue }
            if data.range(of: needle) != nil { found.append(url.lastPathComponent) }
        }
        return found
    }
}
