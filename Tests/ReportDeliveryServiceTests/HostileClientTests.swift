import Foundation
import ReportDeliveryCore
@testable import ReportDeliveryService
import SLSMessages
import SLSTesting
import Testing

/// Clients that misbehave on purpose, speaking raw SFTP through OpenSSH's `ssh -s ... sftp`.
@Suite("Report delivery: hostile SFTP clients", .serialized)
struct HostileClientTests {
    /// INIT (version 3), as every client starts.
    static let initPacket: [UInt8] = [0, 0, 0, 5, 1, 0, 0, 0, 3]

    /// `ssh -s` to the sftp subsystem with `input` as its standard input, then `holdSeconds` more
    /// of an open standard input; returns the running process.
    static func rawSFTP(_ harness: DeliveryHarness, key: String, input: [UInt8], holdSeconds: Int) throws -> Process {
        let file = try StockTools.scratch().appendingPathComponent("input.bin")
        try Data(input).write(to: file)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "(cat \"$0\"; sleep \(holdSeconds)) | exec ssh -s -p \(harness.endpoint.port) -i \"$1\" "
                             + "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes "
                             + "-o BatchMode=yes -o LogLevel=ERROR alice@127.0.0.1 sftp > /dev/null 2>&1",
                             file.path, key]
        try process.run()
        return process
    }

    static func waitFor(seconds: Double, _ condition: () -> Bool) async throws -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            try await Task.sleep(for: .milliseconds(100))
        }
        return condition()
    }

    @Test("A request declaring more than 256 KiB ends that session at once; the service goes on serving")
    func oversizedPacket() async throws {
        let harness = try DeliveryHarness()
        let key = try await harness.setUp()
        // A WRITE header claiming 255 MiB, as libssh's own SFTP server would have buffered.
        let client = try Self.rawSFTP(harness, key: key, input: Self.initPacket + [0x0F, 0xF0, 0, 0, 6, 0, 0, 0, 1],
                                      holdSeconds: 20)
        defer { client.terminate() }
        #expect(try await Self.waitFor(seconds: 10) { harness.logs.text.contains("request larger than") })
        #expect(try await Self.waitFor(seconds: 5) { harness.endpoint.sessionCount == 0 })
        let normal = try harness.sftp("alice", key: key, ["ls"])
        await harness.shutdown()
        #expect(normal.status == 0, "\(normal.stderr)")
    }

    @Test("A client that stops halfway through a packet is cut off at the idle timeout, and shutdown is bounded")
    func stalledClient() async throws {
        let harness = try DeliveryHarness { $0.idleTimeoutSeconds = 2 }
        let key = try await harness.setUp()
        // INIT, then 10 bytes of a 100-byte request, then nothing (standard input stays open).
        let client = try Self.rawSFTP(harness, key: key, input: Self.initPacket + [0, 0, 0, 100, 17, 0, 0, 0, 1, 0],
                                      holdSeconds: 60)
        defer { client.terminate() }
        #expect(try await Self.waitFor(seconds: 10) { harness.logs.text.contains("SFTP login") })
        #expect(harness.endpoint.sessionCount == 1)
        #expect(try await Self.waitFor(seconds: 8) { harness.endpoint.sessionCount == 0 }, "the stalled session was not ended")
        // A second stalled client, then shutdown: it returns promptly.
        let second = try Self.rawSFTP(harness, key: key, input: Self.initPacket + [0, 0, 0, 100], holdSeconds: 60)
        defer { second.terminate() }
        #expect(try await Self.waitFor(seconds: 10) { harness.endpoint.sessionCount == 1 })
        let started = Date()
        await harness.shutdown()
        #expect(Date().timeIntervalSince(started) < 6)
    }

    @Test("The folder quota holds across sessions, and a refused upload leaves the folder usable")
    func quotaAcrossSessions() async throws {
        let harness = try DeliveryHarness { $0.folderQuotaBytes = 1 << 20 }
        let key = try await harness.setUp()
        let local = try StockTools.scratch()
        try Data(repeating: 7, count: 700_000).write(to: local.appendingPathComponent("a.bin"))
        try Data(repeating: 8, count: 700_000).write(to: local.appendingPathComponent("b.bin"))
        let first = try harness.sftp("alice", key: key, ["put a.bin"], in: local)
        let second = try harness.sftp("alice", key: key, ["put b.bin"], in: local)
        // OpenSSH's sftp shows the status code ("Failure"), not the server's message.
        #expect(second.status != 0 && second.stderr.contains("write remote"), "\(second.stderr)")
        let folder = harness.folders.folder(of: "alice")
        let held = try FileManager.default.contentsOfDirectory(atPath: folder).reduce(0) { total, name in
            total + ((try? FileManager.default.attributesOfItem(atPath: folder + "/" + name)[.size] as? Int) ?? 0)
        }
        #expect(held <= 1 << 20, "the folder holds \(held) bytes")
        let third = try harness.sftp("alice", key: key, ["rm a.bin", "put b.bin"], in: local)
        await harness.shutdown()
        #expect(first.status == 0, "\(first.stderr)")
        #expect(third.status == 0, "removing a file gives its room back: \(third.stderr)")
    }

    @Test("A rename that replaces a file gives that file's room back to the quota")
    func replacingRenameFreesQuota() async throws {
        let harness = try DeliveryHarness { $0.folderQuotaBytes = 1 << 20 }
        let key = try await harness.setUp()
        let local = try StockTools.scratch()
        try Data(repeating: 7, count: 700_000).write(to: local.appendingPathComponent("a.bin"))
        try Data(repeating: 8, count: 700_000).write(to: local.appendingPathComponent("b.bin"))
        try Data(repeating: 9, count: 200_000).write(to: local.appendingPathComponent("c.bin"))
        // OpenSSH's sftp renames with posix-rename@openssh.com, which replaces a.bin: 200,000 bytes
        // are left in the folder, so b.bin fits.
        let session = try harness.sftp("alice", key: key, ["put a.bin", "put c.bin", "rename c.bin a.bin", "put b.bin"],
                                       in: local)
        await harness.shutdown()
        #expect(session.status == 0, "\(session.stderr)")
    }
}
