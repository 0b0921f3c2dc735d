import Foundation
import ReportDeliveryCore
import Testing

@Suite("Report delivery rules")
struct RulesTests {
    @Test("DLV-06: .., absolute paths and empty parts stay inside the folder",
          arguments: [("../../etc/passwd", "/etc/passwd"), ("/../..", "/"), ("a/./b/../c", "/a/c"), ("//x//", "/x"),
                      (".", "/"), ("..", "/"), ("/a/b/../../../../c", "/c")])
    func paths(input: String, expected: String) throws {
        #expect(try VirtualPath(input).description == expected)
    }

    @Test("DLV-06: over-long paths and names are refused")
    func longPaths() {
        #expect(throws: VirtualPathError.tooLong(limit: 1024)) { try VirtualPath(String(repeating: "a/", count: 600)) }
        #expect(throws: VirtualPathError.nameTooLong(limit: 255)) { try VirtualPath(String(repeating: "a", count: 256)) }
    }

    @Test("DLV-07: a file delivered 99 days ago is kept, at 100 days it is due")
    func retention() {
        let rule = RetentionRule.standard
        let delivered: Int64 = 1_780_000_000_000
        let day: Int64 = 86_400_000
        #expect(!rule.isDue(deliveredMs: delivered, nowMs: delivered + 99 * day))
        #expect(!rule.isDue(deliveredMs: delivered, nowMs: delivered + 100 * day - 1))
        #expect(rule.isDue(deliveredMs: delivered, nowMs: delivered + 100 * day))
        // Hostile times from files or rows do not trap.
        #expect(rule.isDue(deliveredMs: .min, nowMs: .max))
        #expect(!rule.isDue(deliveredMs: .max, nowMs: .min))
    }

    @Test("DLV-10: set-up is complete with a key and an address; the PGP key is not needed to log in")
    func setup() {
        #expect(AccessSetup(publicKeyCount: 0, addressCount: 0).missing.count == 2)
        #expect(!AccessSetup(publicKeyCount: 1, addressCount: 0).isComplete)
        #expect(!AccessSetup(publicKeyCount: 0, addressCount: 1).isComplete)
        #expect(AccessSetup(publicKeyCount: 1, addressCount: 1).isComplete)
    }

    @Test("Names that reach paths and logs are checked",
          arguments: ["", ".hidden", "-opt", "a/b", "a b", "é", String(repeating: "x", count: 65), "a\u{0}b"])
    func badUserNames(name: String) {
        #expect(throws: DeliveryRefusal.self) { try DeliveryNames.checkUserName(name) }
    }

    @Test("Statement file names: no folders, no hidden files")
    func fileNames() throws {
        #expect(try DeliveryNames.checkFileName("activity 2026-10.pdf") == "activity 2026-10.pdf")
        for bad in ["../x", ".x", "a/b", " x", "x ", "", String(repeating: "y", count: 121)] {
            #expect(throws: DeliveryRefusal.self) { try DeliveryNames.checkFileName(bad) }
        }
    }

    @Test("DLV-09: templates for English, Traditional Chinese and Portuguese; summaries carry no statement details")
    func templates() throws {
        let templates = try MessageTemplates.bundled()
        #expect(Set(["en", "zh-Hant", "pt"]).isSubset(of: Set(templates.languages)))
        let values = ["user_name": "alice", "period": "2026-10", "file_name": "activity-2026-10.pdf.gpg",
                      "retention_days": "100"]
        for language in ["en", "zh-Hant", "pt"] {
            for kind in MessageTemplates.Kind.allCases {
                let rendered = templates.render(kind, language: language, values: values)
                #expect(rendered.language == language)
                #expect(!rendered.summary.contains("2026-10") && !rendered.summary.contains(".pdf"))
                #expect(!rendered.body.contains("{"), "unfilled placeholder in \(language) \(kind)")
            }
        }
        #expect(templates.render(.statementAvailable, language: "zh-Hant", values: values).subject.contains("結單"))
        #expect(templates.render(.accessReady, language: "fr", values: values).language == "en")
    }
}
