import Foundation
@testable import ReportDeliveryService
import SLSTesting
import Testing
#if canImport(Glibc)
import Glibc
#endif

@Suite("Report delivery: the SFTP endpoint's set-up", .serialized)
struct EndpointSetupTests {
    @Test("Host keys are made on first start and kept: the same fingerprints after a restart")
    func hostKeysKept() throws {
        let folder = try StockTools.scratch().appendingPathComponent("host-keys").path
        let first = try HostKeys.loadOrCreate(in: folder)
        let second = try HostKeys.loadOrCreate(in: folder)
        #expect(first.keys.map(\.keyType) == ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"])
        #expect(first.keys.map(\.fingerprint) == second.keys.map(\.fingerprint))
        // ssh-keygen agrees on the fingerprint, and the files are private.
        let ed25519 = first.keys[0]
        #expect(try StockTools.fingerprint(of: ed25519.path) == ed25519.fingerprint)
        var info = stat()
        stat(ed25519.path, &info)
        #expect(info.st_mode & 0o077 == 0)
    }

    @Test("A port that cannot be bound stops start-up with an error naming the setting")
    func portInUse() throws {
        let harness = try DeliveryHarness()
        var configuration = SFTPEndpointConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = harness.endpoint.port
        configuration.portSettingName = "--sftp-port (SLS_DELIVERY_SFTP_PORT)"
        do {
            _ = try SFTPEndpoint(configuration: configuration, hostKeys: try HostKeys.loadOrCreate(in: harness.folders.hostKeysFolder),
                                 directory: harness.service.directory, logger: harness.logger)
            Issue.record("a port in use was bound")
        } catch let error as SFTPEndpointError {
            #expect(error.description.contains("in use") && error.description.contains("--sftp-port (SLS_DELIVERY_SFTP_PORT)"))
        }
    }

    @Test("Port 32 without the right to bind it: the executable says so, naming the setting")
    func privilegedPort() throws {
        // Run as nobody (setpriv, util-linux), so binding under 1024 is refused as for any user.
        let data = try StockTools.scratch()
        chmod(data.path, 0o777)
        let binary = Stack.binaries.appendingPathComponent("sls-report-delivery").path
        let run = try StockTools.outcome("setpriv", [
            "--reuid=65534", "--regid=65534", "--clear-groups", binary, "--insecure", "--data-dir", data.path + "/d",
            "--listen", "tcp://127.0.0.1:0", "--sftp-host", "127.0.0.1", "--sftp-port", "32"],
            environment: ["HOME": data.path, "SLS_EVENTS_PUBLISH": "tcp://127.0.0.1:1", "SLS_EVENTS_SUBSCRIBE": "tcp://127.0.0.1:1"],
            timeout: 30)
        #expect(run.status != 0)
        let output = run.stdout + run.stderr
        #expect(output.contains("ports under 1024 need root or the CAP_NET_BIND_SERVICE capability"), "\(output)")
        #expect(output.contains("--sftp-port (SLS_DELIVERY_SFTP_PORT)"))
    }
}
