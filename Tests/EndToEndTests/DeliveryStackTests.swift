import Foundation
import SLSBus
import SLSMessages
import SLSTesting
import Testing
import ZeroMQ

/// Report delivery as a real process on a secured bus: the reporting team sets a user up, the
/// reporting system hands statements over by call and by event, and OpenSSH's sftp fetches them.
@Suite("Report delivery on the stack", .serialized)
struct DeliveryStackTests {
    @Test("DLV-08, DLV-10: set-up by operations, statements by call and by event, kill -9 loses nothing acknowledged")
    func statementsSurviveKill() async throws {
        let stack = try Stack()
        defer { stack.stopAll() }
        try stack.startEventBus()
        try stack.startService("report-delivery", port: stack.ports.delivery)
        #expect(try stack.waitUntilServing(["report-delivery"]))
        let context = ZMQContext()
        func client(_ identity: String) throws -> RPCClient {
            try RPCClient(context: context, configuration: .init(
                endpoint: stack.endpoint(stack.ports.delivery), caller: identity, defaultTimeout: .seconds(10),
                security: try stack.client(identity, of: "report-delivery")))
        }
        let operations = try client("operations"), reporting = try client("reporting"), portal = try client("portal")
        defer { operations.close(); reporting.close(); portal.close() }
        let reportingEvents = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                                 producer: "reporting", security: try stack.client("reporting", of: "event-bus"))
        defer { reportingEvents.close() }

        // DLV-10 by the reporting team (operations): user, ssh-keygen key, address, PGP key.
        let key = try StockTools.sshKeygen("rsa", bits: 2048, in: try StockTools.scratch())
        let gnupg = try StackGnuPG()
        // ACC-05: the account service announces Carol's account first.
        let accounts = try EventPublisher(context: context, endpoint: stack.endpoint(stack.ports.publishers),
                                          producer: "accounts", security: try stack.client("accounts", of: "event-bus"))
        defer { accounts.close() }
        var created: Access?
        for _ in 0..<100 where created == nil {
            try accounts.publish(AccountOpened(accountID: "U7", userName: "carol"))
            try await Task.sleep(for: .milliseconds(50))
            created = try? await operations.call(ReportDeliveryAPI.createUser, CreateUserRequest(userName: "carol"))
        }
        #expect(created != nil)
        _ = try await operations.call(ReportDeliveryAPI.addPublicKey, AddPublicKeyRequest(
            userName: "carol", publicKey: try String(contentsOfFile: key + ".pub", encoding: .utf8)))
        let ready = try await operations.call(ReportDeliveryAPI.setAddresses,
                                              SetAddressesRequest(userName: "carol", addresses: ["127.0.0.1"]))
        _ = try await operations.call(ReportDeliveryAPI.setPgpKey, SetPgpKeyRequest(userName: "carol", publicKey: gnupg.publicKey))
        #expect(ready.ready)

        // The portal may not hand statements over; the reporting system may.
        let content = Data("Statement 2026-10 for carol\n".utf8)
        await #expect(throws: RPCError.self) {
            _ = try await portal.call(ReportDeliveryAPI.deliverStatement, Statement(
                statementID: "forged", userName: "carol", name: "x.pdf", period: "2026-10", content: content))
        }
        let receipt = try await reporting.call(ReportDeliveryAPI.deliverStatement, Statement(
            statementID: "carol-2026-10", userName: "carol", name: "statement-2026-10.pdf", period: "2026-10",
            content: content))
        #expect(receipt.state == .delivered)

        // By event: the reporting system publishes StatementIssued.
        var byEvent: StatementList?
        for _ in 0..<100 {
            try reportingEvents.publish(StatementIssued(statement: Statement(
                statementID: "carol-2026-09", userName: "carol", name: "statement-2026-09.pdf", period: "2026-09",
                content: Data("Statement 2026-09\n".utf8))))
            try await Task.sleep(for: .milliseconds(100))
            byEvent = try await operations.call(ReportDeliveryAPI.listStatements, ListStatementsRequest(userName: "carol"))
            if byEvent?.statements.count == 2 { break }
        }
        #expect(byEvent?.statements.count == 2)

        // kill -9, restart: what was acknowledged is still there, the folder has no half-written file.
        stack.stop("sls-report-delivery", signal: SIGKILL)
        try stack.startService("report-delivery", port: stack.ports.delivery)
        #expect(try stack.waitUntilServing(["report-delivery"]))
        let after = try await operations.call(ReportDeliveryAPI.listStatements, ListStatementsRequest(userName: "carol"))
        #expect(Set(after.statements.map(\.statementID)) == ["carol-2026-10", "carol-2026-09"])
        #expect(after.statements.allSatisfy { $0.state == .delivered })

        let local = try StockTools.scratch()
        let batch = local.appendingPathComponent("batch")
        try "get statement-2026-10.pdf.gpg\nls\n".write(to: batch, atomically: true, encoding: .utf8)
        let fetched = try StockTools.outcome("sh", ["-c", "cd \"$0\" && exec sftp \"$@\"", local.path, "-b", batch.path,
            "-i", key, "-P", String(stack.ports.sftp), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
            "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes", "carol@127.0.0.1"])
        #expect(fetched.status == 0, "\(fetched.stderr)")
        #expect(!fetched.stdout.contains(".tmp"))
        let decrypted = try StockTools.outcome("gpg", ["--batch", "--decrypt", local.appendingPathComponent("statement-2026-10.pdf.gpg").path],
                                               environment: ["GNUPGHOME": gnupg.home.path])
        #expect(decrypted.stdout == "Statement 2026-10 for carol\n")
        // The host key fingerprints are in GetInfo.
        let info = try await operations.call(ReportDeliveryAPI.getInfo, ServiceInfoRequest())
        #expect(info.details.contains { $0.name == "sftp_port" && $0.value == String(stack.ports.sftp) })
        #expect(info.details.contains { $0.name == "host_key ssh-ed25519" && $0.value.hasPrefix("SHA256:") })
    }
}

/// A user's own GnuPG home with a key pair.
struct StackGnuPG {
    let home: URL
    let publicKey: String

    init() throws {
        home = try StockTools.scratch().appendingPathComponent("gnupg")
        try FileManager.default.createDirectory(at: home, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let env = ["GNUPGHOME": home.path]
        _ = try StockTools.outcome("gpg", ["--batch", "--pinentry-mode", "loopback", "--passphrase", "",
                                           "--quick-gen-key", "Carol <carol@example.com>", "default", "default", "never"],
                                   environment: env)
        publicKey = try StockTools.outcome("gpg", ["--armor", "--export", "carol@example.com"], environment: env).stdout
    }
}
