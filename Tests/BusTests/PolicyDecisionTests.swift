import SLSBus
import SLSTesting
import Testing

/// The stack's policy file, decided from the sets worked out at load (known types) and from the
/// rules (other topics): both give the answers the file states.
@Suite("Bus policy decisions for events")
struct PolicyDecisionTests {
    @Test("publish and read rules of compose/bus-policy.yaml, for known types and unknown topics")
    func stackPolicy() throws {
        let policy = try BusPolicy.load(path: Stack.policyFile.path)
        #expect(policy.mayPublish("accounts", topic: "sls.accounts.v1.AccountOpened"))
        #expect(!policy.mayPublish("portal", topic: "sls.accounts.v1.AccountOpened"))
        #expect(policy.mayPublish("reporting", topic: "sls.delivery.v1.StatementIssued"))
        #expect(!policy.mayPublish("report-delivery", topic: "sls.delivery.v1.StatementIssued"))
        #expect(policy.mayRead("report-delivery", topic: "sls.delivery.v1.StatementIssued"))
        #expect(policy.mayRead("sms-gateway", topic: "sls.delivery.v1.NotificationRequested"))
        #expect(!policy.mayRead("portal", topic: "sls.delivery.v1.NotificationRequested"))
        #expect(!policy.mayRead("portal", topic: "sls.challenge.v1.SmsCodeRequested"))
        // A type this build does not know is decided by the rules' patterns.
        #expect(policy.mayPublish("accounts", topic: "sls.accounts.v1.AccountRenamed"))
        #expect(!policy.mayPublish("portal", topic: "sls.accounts.v1.AccountRenamed"))
    }
}
