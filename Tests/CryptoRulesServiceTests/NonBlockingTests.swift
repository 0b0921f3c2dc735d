import CryptoRulesCore
@testable import CryptoRulesService
import Foundation
import GRDB
import SLSBus
import SLSMessages
import SLSTesting
import Synchronization
import Testing
import ZeroMQ

@Suite("crypto-rules never blocks its socket thread on the disk", .serialized)
struct NonBlockingTests {
    @Test func readsAnswerWhileAWriteWaitsForTheDisk() async throws {
        let harness = try ServiceHarness()
        try await harness.fundedAccount()
        let context = ZMQContext()
        let server = try RPCServer(context: context, configuration: .init(endpoint: "tcp://127.0.0.1:*",
                                                                         serviceName: "crypto-rules"),
                                   logger: harness.logger)
        harness.service.register(on: server)
        try server.start()
        let client = try RPCClient(context: context, configuration: .init(endpoint: server.boundEndpoint, caller: "test"))
        _ = try await client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: "U1"))

        // Hold SQLite's writer for 800 ms, as a slow disk would.
        let writerHeld = Mutex(false)
        let slowDisk = Task {
            try await harness.database.writeWithoutTransaction { _ in
                writerHeld.withLock { $0 = true }
                usleep(800_000)
            }
        }
        while !writerHeld.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
        let clock = ContinuousClock()
        let start = clock.now
        // An order must wait for the writer...
        let placing = Task {
            _ = try await client.call(CryptoRulesAPI.placeOrder, ServiceHarness.limitBuy("0.01", at: "50000"))
            return clock.now - start
        }
        try await Task.sleep(for: .milliseconds(50))
        // ...while checks and reads on the same server answer at once: the socket thread is free
        // and the book is never locked across a disk write.
        let check = try await client.call(CryptoRulesAPI.checkOrder, ServiceHarness.limitBuy("0.01", at: "50000"))
        let state = try await client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: "U1"))
        let readsTook = clock.now - start
        #expect(check.accepted)
        #expect(state.openOrders.isEmpty, "the order is not visible before its commit")
        let placeTook = try await placing.value
        try await slowDisk.value
        #expect(readsTook < .milliseconds(500), "reads took \(readsTook) behind a write")
        #expect(placeTook >= .milliseconds(600), "the order waited for the writer (\(placeTook))")
        #expect(try harness.state().openOrders.count == 1)
        client.close()
        await server.shutdown()
    }
}
