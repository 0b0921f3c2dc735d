import Foundation
import ReportDeliveryCore
@testable import ReportDeliveryService
import SLSBus
import SLSMessages
import SLSTesting
import Testing

@Suite("Report delivery: access over SFTP with stock clients", .serialized)
struct AccessTests {
    @Test("DLV-01, DLV-02: keys from ssh-keygen (RSA 2048, Ed25519, ECDSA) log in with OpenSSH sftp",
          arguments: [("rsa", 2048), ("ed25519", nil), ("ecdsa", 256), ("ecdsa", 521)] as [(String, Int?)])
    func sshKeygenKeys(type: String, bits: Int?) async throws {
        let harness = try DeliveryHarness()
        let key = try await harness.setUp(keyType: type, bits: bits)
        let outcome = try harness.sftp("alice", key: key, ["pwd", "ls"])
        await harness.shutdown()
        #expect(outcome.status == 0, "\(outcome.stderr)")
        #expect(outcome.stdout.contains("Remote working directory: /"))
    }

    @Test("DLV-02: a puttygen RSA 2048 key registered as -L (OpenSSH) or -p (RFC 4716) logs in", arguments: ["-L", "-p"])
    func puttygenKeys(export: String) async throws {
        let harness = try DeliveryHarness()
        let folder = try StockTools.scratch()
        let ppk = folder.appendingPathComponent("user.ppk").path
        try StockTools.run("puttygen", ["-q", "-t", "rsa", "-b", "2048", "-o", ppk, "--new-passphrase", "/dev/null"])
        let privateKey = folder.appendingPathComponent("id_rsa").path
        try StockTools.run("puttygen", [ppk, "-O", "private-openssh", "-o", privateKey, "--new-passphrase", "/dev/null"])
        let publicText = try StockTools.run("puttygen", [export, ppk])
        _ = try await harness.createUser("alice")
        let access = try await harness.service.addPublicKey(AddPublicKeyRequest(userName: "alice", publicKey: publicText))
        _ = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["127.0.0.0/16"]))
        let outcome = try harness.sftp("alice", key: privateKey, ["ls"])
        await harness.shutdown()
        #expect(access.publicKeys.first?.bits == 2048)
        #expect(outcome.status == 0, "\(outcome.stderr)")
    }

    @Test("PuTTY's psftp logs in with the .ppk itself, pinning the host key GetInfo publishes")
    func psftp() async throws {
        let harness = try DeliveryHarness()
        let folder = try StockTools.scratch()
        let ppk = folder.appendingPathComponent("user.ppk").path
        try StockTools.run("puttygen", ["-q", "-t", "rsa", "-b", "2048", "-o", ppk, "--new-passphrase", "/dev/null"])
        try await harness.createUser("alice")
        _ = try await harness.service.addPublicKey(AddPublicKeyRequest(userName: "alice",
                                                                       publicKey: try StockTools.run("puttygen", ["-p", ppk])))
        _ = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["127.0.0.1"]))
        try "from putty\n".write(to: folder.appendingPathComponent("up.txt"), atomically: true, encoding: .utf8)
        let batch = folder.appendingPathComponent("batch")
        try "put up.txt\nls\nget up.txt back.txt\nquit\n".write(to: batch, atomically: true, encoding: .utf8)
        let hostKey = harness.endpoint.hostKeys.keys[0].fingerprint
        let run = try StockTools.outcome("sh", ["-c", "cd \"$0\" && exec psftp \"$@\"", folder.path, "-batch",
                                                "-hostkey", hostKey, "-i", ppk, "-P", String(harness.endpoint.port),
                                                "-b", batch.path, "alice@127.0.0.1"])
        await harness.shutdown()
        #expect(run.status == 0, "\(run.stdout)\(run.stderr)")
        #expect(try String(contentsOf: folder.appendingPathComponent("back.txt"), encoding: .utf8) == "from putty\n")
    }

    @Test("ACC-05: the reporting team can set up only user names the account service announced")
    func knownAccountsOnly() async throws {
        let harness = try DeliveryHarness()
        do {
            _ = try await harness.service.createUser(CreateUserRequest(userName: "ghost"))
            Issue.record("a user without an account was set up")
        } catch let error as RPCError {
            #expect(error.ruleID == "ACC-05" && error.message.contains("ghost"))
        }
        let access = try await harness.createUser("ghost")
        await harness.shutdown()
        #expect(access.userName == "ghost" && !access.ready)
    }

    @Test("DLV-05: a key that is not the registered one is refused ('Permission denied (publickey)')")
    func wrongKey() async throws {
        let harness = try DeliveryHarness()
        try await harness.setUp()
        let other = try StockTools.sshKeygen("ed25519", in: try StockTools.scratch())
        let outcome = try harness.sftp("alice", key: other, ["ls"])
        // Nor does the right key for another, unknown user name.
        let unknown = try harness.sftp("mallory", key: other, ["ls"])
        await harness.shutdown()
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("Permission denied (publickey)"))
        #expect(unknown.stderr.contains("Permission denied (publickey)"))
        #expect(harness.logs.text.contains("SFTP login refused"), "\(harness.logs.text)")
    }

    @Test("DLV-04: a connection from an address no user registered is closed before the SSH banner, and logged")
    func otherAddress() async throws {
        let harness = try DeliveryHarness()
        let key = try await harness.setUp()
        let outcome = try harness.sftp("alice", key: key, ["ls"], bindAddress: "127.0.0.2")
        // A raw connection sees no banner at all: the server says nothing before closing.
        let banner = try StockTools.outcome("/usr/bin/python3", ["-c", """
            import socket
            s = socket.socket(); s.bind(("127.0.0.2", 0)); s.settimeout(5); s.connect(("127.0.0.1", \(harness.endpoint.port)))
            print(repr(s.recv(100)))
            """])
        await harness.shutdown()
        #expect(outcome.status != 0)
        #expect(outcome.stderr.contains("Connection closed") || outcome.stderr.contains("Connection reset"))
        #expect(banner.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "b''", "\(banner.stdout) \(banner.stderr)")
        #expect(harness.logs.text.contains("closed before the banner: address not registered (DLV-04)"))
        #expect(harness.logs.text.contains("127.0.0.2"))
    }

    @Test("DLV-04: an address registered by another user is not enough; replacing the address moves access")
    func addressesPerUser() async throws {
        let harness = try DeliveryHarness()
        let aliceKey = try await harness.setUp("alice", addresses: ["127.0.0.1"])
        try await harness.setUp("bob", addresses: ["127.0.0.2"])
        let fromBobs = try harness.sftp("alice", key: aliceKey, ["ls"], bindAddress: "127.0.0.2")
        _ = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["127.0.0.2/32", "::1"]))
        let fromOld = try harness.sftp("alice", key: aliceKey, ["ls"], bindAddress: "127.0.0.1")
        let fromNew = try harness.sftp("alice", key: aliceKey, ["ls"], bindAddress: "127.0.0.2")
        await harness.shutdown()
        #expect(fromBobs.stderr.contains("Permission denied (publickey)"))
        #expect(fromOld.status != 0)
        #expect(fromNew.status == 0, "\(fromNew.stderr)")
    }

    @Test("DLV-04: bad addresses are refused naming the entry")
    func badAddresses() async throws {
        let harness = try DeliveryHarness()
        _ = try await harness.createUser("alice")
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["10.0.0.300"]))
        }
        do {
            _ = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["10.0.0.1/24"]))
        } catch let error as RPCError {
            #expect(error.message.contains("10.0.0.1/24"))
        }
        // A range this wide would let most of the internet past the check before the banner.
        do {
            _ = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["10.0.0.0/8"]))
            Issue.record("a /8 was accepted")
        } catch let error as RPCError {
            #expect(error.ruleID == "DLV-04" && error.message.contains("/16"))
        }
        await harness.shutdown()
    }

    @Test("DLV-10: only once the reporting team has set up a key and an address is the user notified and let in")
    func setUpThenLogin() async throws {
        let harness = try DeliveryHarness()
        let key = try StockTools.sshKeygen("ed25519", in: try StockTools.scratch())
        _ = try await harness.createUser("alice")
        let keyed = try await harness.service.addPublicKey(
            AddPublicKeyRequest(userName: "alice", publicKey: try String(contentsOfFile: key + ".pub", encoding: .utf8)))
        // Not complete: the address is missing, so nothing gets past the banner.
        let early = try harness.sftp("alice", key: key, ["ls"])
        #expect(!keyed.ready && keyed.missing.count == 1)
        #expect(try await harness.outboxTypes().contains("sls.delivery.v1.AccessReady") == false)
        let complete = try await harness.service.setAddresses(SetAddressesRequest(userName: "alice", addresses: ["127.0.0.1"]))
        let later = try harness.sftp("alice", key: key, ["ls"])
        let messages = try await harness.service.listMessages(ListMessagesRequest(userName: "alice"))
        await harness.shutdown()
        #expect(early.status != 0)
        #expect(complete.ready && complete.missing.isEmpty)
        #expect(try await harness.outbox(AccessReady.self).map(\.userName) == ["alice"])
        #expect(messages.messages.first?.subject == "Your SFTP access is ready")
        #expect(later.status == 0, "\(later.stderr)")
    }

    @Test("DLV-06: .., absolute paths and symbolic links never reach outside the user's folder")
    func isolation() async throws {
        let harness = try DeliveryHarness()
        let key = try await harness.setUp()
        try await harness.setUp("bob", addresses: ["127.0.0.1"])
        let aliceFolder = harness.folders.folder(of: "alice")
        try "bob's secret".write(toFile: harness.folders.folder(of: "bob") + "/bob.txt", atomically: true, encoding: .utf8)
        symlink("/etc", aliceFolder + "/etc-link")
        symlink("/etc/passwd", aliceFolder + "/passwd-link")
        symlink(harness.folders.folder(of: "bob"), aliceFolder + "/bob-link")
        let local = try StockTools.scratch()
        try "mine".write(to: local.appendingPathComponent("upload.txt"), atomically: true, encoding: .utf8)
        let outcome = try harness.sftp("alice", key: key, [
            "-cd ..", "-cd ../..", "pwd", "-get /etc/passwd p1", "-get ../../../../etc/passwd p2", "-get ../bob/bob.txt b1",
            "-get passwd-link p3", "-get etc-link/passwd p4", "-get bob-link/bob.txt b2", "-ls etc-link/",
            "-symlink /etc mylink", "put upload.txt up.txt", "rename up.txt renamed.txt", "ls -l",
        ], in: local)
        await harness.shutdown()
        #expect(outcome.stdout.contains("Remote working directory: /\n"))
        for leaked in ["p1", "p2", "p3", "p4", "b1", "b2"] {
            #expect(!FileManager.default.fileExists(atPath: local.appendingPathComponent(leaked).path), "\(leaked) was fetched")
        }
        #expect(!outcome.stdout.contains("root:"))
        #expect(FileManager.default.fileExists(atPath: aliceFolder + "/renamed.txt"), "\(outcome.stdout) \(outcome.stderr)")
        #expect(!FileManager.default.fileExists(atPath: aliceFolder + "/mylink"))
    }

    @Test("Private keys (DLV-03) and malformed keys are refused with a clear error naming the rule")
    func refusals() async throws {
        let harness = try DeliveryHarness()
        _ = try await harness.createUser("alice")
        let folder = try StockTools.scratch()
        let privateKey = try String(contentsOfFile: try StockTools.sshKeygen("ed25519", in: folder), encoding: .utf8)
        do {
            _ = try await harness.service.addPublicKey(AddPublicKeyRequest(userName: "alice", publicKey: privateKey))
            Issue.record("a private key was accepted")
        } catch let error as RPCError {
            #expect(error.ruleID == "DLV-03")
            #expect(error.message.contains("make a new key pair"))
        }
        let short = try StockTools.sshKeygen("rsa", bits: 1024, in: folder)
        do {
            _ = try await harness.service.addPublicKey(
                AddPublicKeyRequest(userName: "alice", publicKey: try String(contentsOfFile: short + ".pub", encoding: .utf8)))
            Issue.record("RSA 1024 was accepted")
        } catch let error as RPCError {
            #expect(error.ruleID == "DLV-02")
            #expect(error.message.contains("2048"))
        }
        await #expect(throws: RPCError.self) {
            _ = try await harness.service.addPublicKey(AddPublicKeyRequest(userName: "nobody", publicKey: privateKey))
        }
        await harness.shutdown()
    }
}
