@testable import ReportDeliveryService
import Testing

@Suite("The SFTP session watchdog's deadlines")
struct SessionWatchTests {
    @Test("A session touched after the watchdog read its clock is not overdue (it was cut off mid-download)")
    func clockReadBeforeTouch() {
        let watch = SessionWatch(fd: -1, peer: "127.0.0.1")
        let before = SessionWatch.now()
        watch.markLoggedIn()
        #expect(!watch.isOverdue(loginGraceNs: 1, idleNs: 1, at: before))
        #expect(watch.isOverdue(loginGraceNs: .max, idleNs: 1_000, at: SessionWatch.now() + 1_000_000))
    }

    @Test("Before login the grace time counts; after, the idle time")
    func graceThenIdle() {
        let watch = SessionWatch(fd: -1, peer: "127.0.0.1")
        let later = SessionWatch.now() + 5_000_000_000
        #expect(watch.isOverdue(loginGraceNs: 1_000_000_000, idleNs: .max, at: later))
        watch.markLoggedIn()
        #expect(!watch.isOverdue(loginGraceNs: 1_000_000_000, idleNs: 10_000_000_000, at: later))
    }
}
