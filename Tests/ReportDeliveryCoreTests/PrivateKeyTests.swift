import Foundation
import SLSTesting
import ReportDeliveryCore
import Testing

@Suite("DLV-03 private keys are refused")
struct PrivateKeyTests {
    /// Private keys in every format the stock tools write.
    static func privateKeys() throws -> [(String, String)] {
        let folder = try StockTools.scratch()
        var keys: [(String, String)] = []
        func read(_ path: String) throws -> String { try String(contentsOfFile: path, encoding: .utf8) }
        keys.append(("OpenSSH", try read(try StockTools.sshKeygen("ed25519", in: folder))))
        keys.append(("PEM RSA", try read(try StockTools.sshKeygen("rsa", bits: 2048, format: "PEM", in: folder))))
        keys.append(("PEM EC", try read(try StockTools.sshKeygen("ecdsa", bits: 256, format: "PEM", in: folder))))
        keys.append(("PKCS#8", try read(try StockTools.sshKeygen("rsa", bits: 2048, format: "PKCS8", in: folder))))
        let ppk = folder.appendingPathComponent("user.ppk").path
        try StockTools.run("puttygen", ["-q", "-t", "rsa", "-b", "2048", "-o", ppk, "--new-passphrase", "/dev/null"])
        keys.append(("PuTTY ppk", try read(ppk)))
        let sshcom = folder.appendingPathComponent("sshcom").path
        try StockTools.run("puttygen", [ppk, "-O", "private-sshcom", "-o", sshcom, "--new-passphrase", "/dev/null"])
        keys.append(("RFC 4716 private", try read(sshcom)))
        let openSSH = try read(folder.appendingPathComponent("ed25519-0-openssh").path)
        let body = openSSH.split(separator: "\n").dropFirst().dropLast().joined()
        keys.append(("OpenSSH without armor", body))
        let publicLine = try read(folder.appendingPathComponent("ed25519-0-openssh.pub").path)
        keys.append(("public and private pasted together", publicLine + "\n" + openSSH))
        return keys
    }

    @Test("DLV-03: every private key format is refused, and the error repeats none of it")
    func refused() throws {
        for (format, text) in try Self.privateKeys() {
            #expect(PrivateKeyDetector.containsPrivateKey(text), "\(format)")
            do {
                _ = try SSHPublicKey(parsing: text)
                Issue.record("\(format) accepted")
            } catch {
                #expect(error == .privateKey, "\(format)")
                #expect(error.description.contains("make a new key pair"))
                for line in text.split(separator: "\n") where line.count >= 8 {
                    #expect(!error.description.contains(line.prefix(16)), "\(format) echoed")
                }
            }
        }
    }

    @Test("DLV-03: public keys are not mistaken for private ones")
    func publicKeysPass() throws {
        let folder = try StockTools.scratch()
        for type in ["rsa", "ed25519", "ecdsa"] {
            let path = try StockTools.sshKeygen(type, bits: type == "rsa" ? 3072 : nil, in: folder)
            #expect(!PrivateKeyDetector.containsPrivateKey(try String(contentsOfFile: path + ".pub", encoding: .utf8)))
        }
    }
}
