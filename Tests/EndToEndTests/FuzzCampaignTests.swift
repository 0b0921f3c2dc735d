import Foundation
import Testing
import SLSTesting

/// A short run of `Tools/fuzz/fuzz_campaign.py` (the `make fuzz` campaign): hostile requests and
/// events, built from valid seeds and mutated, against the real sls-event-bus and sls-crypto-rules.
/// The service must neither crash nor hang, must keep answering, and must leave alone an account
/// that no input names.
@Suite("Fuzz campaign against the real executables", .serialized)
struct FuzzCampaignTests {
    @Test func shortFuzzCampaignLeavesTheServiceServingAndUnchanged() throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("sls-fuzz-test-\(UUID())")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        process.arguments = [
            Stack.root.appendingPathComponent("Tools/fuzz/fuzz_campaign.py").path,
            "--bin-dir", Stack.binaries.path,
            "--protos", Stack.root.appendingPathComponent("protos").path,
            "--requests", "16000", "--events", "4000", "--check-every", "4000", "--slow-readers", "1",
            "--seed", "20261126", "--time-limit", "240",
            "--report", work.appendingPathComponent("report.json").path,
        ]
        // One pipe for both streams, so that neither can fill up while the other is read. The
        // campaign bounds itself (--time-limit, and every wait inside it is bounded).
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)

        if process.terminationStatus != 0 {
            print("fuzz_campaign.py exited with \(process.terminationStatus); saved inputs and report in \(work.path)\n\(text)")
        } else {
            try? FileManager.default.removeItem(at: work)
        }
        #expect(process.terminationStatus == 0, "fuzz campaign failed; its output:\n\(text)")
        #expect(text.contains("FUZZ crashes 0"), "\(text)")
        #expect(text.contains("FUZZ hangs 0"), "\(text)")
    }
}
