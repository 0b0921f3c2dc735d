import Foundation
import SLSTesting
import Testing

/// A short run of `Tools/fuzz/delivery_fuzz.py`: mutated calls to every report-delivery method,
/// mutated StatementIssued events and hostile raw SFTP against the real executables, with a guard
/// user no input names. No crash, hang, guard change, escape from a folder, internal error,
/// record without its file (or file without its record), or echoed key text may happen.
@Suite("Fuzz campaign against report delivery", .serialized)
struct DeliveryFuzzTests {
    @Test func shortDeliveryFuzzLeavesTheServiceServingAndConsistent() throws {
        let run = try StockTools.outcome("/usr/bin/python3", [
            Stack.root.appendingPathComponent("Tools/fuzz/delivery_fuzz.py").path, Stack.binaries.path,
            "--requests", "4000", "--sftp-connections", "40", "--check-every", "1000", "--seed", "20261126",
        ], timeout: 300)
        let text = run.stdout + run.stderr
        #expect(run.status == 0, "delivery_fuzz.py failed; its output:\n\(text)")
        for figure in ["crashes", "hangs", "state_changes", "escapes", "inconsistencies", "internal_errors"] {
            #expect(text.contains("FUZZ \(figure) 0"), "\(figure): \(text)")
        }
    }
}
