import Foundation
import Logging
import SLSBus
import SLSMessages
import SLSTesting
import Testing
import ZeroMQ

/// Bus security as an outside client meets it: the real executables, slsctl and other parties' keys.
@Suite("Bus security on the running stack", .serialized)
struct SecurityStackTests {
    @Test func slsctlSaysWhyItWasRefusedNoKeyUnknownKeyOrNotAllowed() throws {
        let crypto = try CryptoStack()
        defer { crypto.close() }
        #expect(try crypto.stack.waitUntilServing(["crypto-rules"]))
        let custody = #"{"month":"2026-10"}"#

        // No key at all.
        let noKey = try crypto.stack.run(Stack.binaries.appendingPathComponent("slsctl"),
                                         ["call", "crypto-rules", "ChargeCustodyFees", custody],
                                         overriding: ["SLSCTL_KEY_FILE": ""])
        #expect(noKey.status != 0)
        #expect(noKey.stderr.contains("no key"), "\(noKey.stderr)")

        // A key the stack does not know: slsctl knows it, the services' public key directory does not.
        let elsewhere = crypto.stack.dataDirectory.appendingPathComponent("stranger")
        try CurveKeyFile.save(try CurveKeyPair.generate(), identity: "stranger", inKeyring: elsewhere.path)
        let view = crypto.stack.dataDirectory.appendingPathComponent("stranger-view")
        try FileManager.default.copyItem(at: crypto.stack.keyring.appendingPathComponent("public"), to: view)
        try FileManager.default.copyItem(at: elsewhere.appendingPathComponent("public/stranger.pub"),
                                         to: view.appendingPathComponent("stranger.pub"))
        let unknown = try crypto.stack.run(Stack.binaries.appendingPathComponent("slsctl"),
                                           ["call", "crypto-rules", "ChargeCustodyFees", custody],
                                           overriding: ["SLSCTL_KEY_FILE": elsewhere.path + "/secret/stranger.key",
                                                        "SLSCTL_PUBLIC_KEYS": view.path])
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("ERROR UNAUTHENTICATED"), "\(unknown.stderr)")
        #expect(unknown.stderr.contains("refused this client's key"), "\(unknown.stderr)")

        // A known key, a method its identity may not call.
        let portal = try crypto.stack.slsctl(as: "portal", "call", "crypto-rules", "ChargeCustodyFees", custody)
        #expect(portal.status == 1)
        #expect(portal.stderr.contains(
            "ERROR PERMISSION_DENIED: 'portal' may not call sls.crypto.v1.CryptoRules/ChargeCustodyFees"),
                "\(portal.stderr)")
        // Operations may.
        let operations = try crypto.stack.slsctl(as: "operations", "call", "crypto-rules", "ChargeCustodyFees", custody)
        #expect(operations.status == 0, "\(operations.stderr)")

        // Without a key against the secured stack: the handshake says the service requires CurveZMQ.
        let insecure = try crypto.stack.run(Stack.binaries.appendingPathComponent("slsctl"),
                                            ["health", "crypto-rules", "--insecure", "--timeout", "1"])
        #expect(insecure.status == 1)
        #expect(insecure.stderr.contains("requires CurveZMQ"), "\(insecure.stderr)")
    }

    @Test func forgedAccountAndFillEventsChangeNothingWhileGenuineOnesDo() async throws {
        let crypto = try CryptoStack()
        defer { crypto.close() }
        #expect(try crypto.stack.waitUntilServing(["crypto-rules"]))
        try await crypto.prepareAccount("F1", cash: "1000", equity: "100000")

        // The portal's key, forging the account service: USD 1,000,000 of cash.
        let forger = try CryptoStack.publisher(of: "portal", producer: "accounts", in: crypto.stack,
                                               context: crypto.context)
        defer { forger.close() }
        let order = try await crypto.client.call(CryptoRulesAPI.placeOrder, OrderRequest(
            accountID: "F1", asset: .btc, side: .buy, type: .limit, cashValue: "500", limitPrice: "50000",
            timeInForce: .minutes))
        try await Task.sleep(for: .milliseconds(300))  // the forger's connection is up
        for _ in 0..<5 {
            try forger.publish(AccountBalanceUpdated(accountID: "F1", totalEquity: "1000000", cash: "1000000"))
            // A fill of the open order at a few dollars, from an identity that is not the venue gateway.
            try forger.publish(VenueOrderFilled(orderID: order.orderID, fillID: "forged", quantity: order.quantity,
                                                price: "3"))
        }
        // The genuine account service, after the forgeries: its update arrives, theirs never do.
        try crypto.publisher.publish(AccountBalanceUpdated(accountID: "F1", totalEquity: "100001", cash: "1001"))
        var state = try await crypto.client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: "F1"))
        for _ in 0..<100 where state.totalEquity != "100001" {
            try await Task.sleep(for: .milliseconds(20))
            state = try await crypto.client.call(CryptoRulesAPI.getAccountState, GetAccountStateRequest(accountID: "F1"))
        }
        #expect(state.totalEquity == "100001")
        #expect(state.cash == "1001")
        #expect(state.positions.isEmpty)
        #expect(state.openOrders.map(\.orderID) == [order.orderID])
        let busLog = crypto.stack.log(of: "sls-event-bus")
        #expect(busLog.contains("dropped an event: producer is not the publisher's identity"))
        #expect(busLog.contains("identity=portal"))
    }

    @Test func aKeyFileOpenToOthersStopsStartUpAndNoKeysAtAllNeedsInsecure() throws {
        let stack = try Stack()
        chmod(stack.keyFile(of: "crypto-rules"), 0o644)
        try stack.startService("crypto-rules", port: stack.ports.crypto)
        let process = stack.processes["sls-crypto-rules"]!
        process.waitUntilExit()
        #expect(process.terminationStatus != 0)
        #expect(stack.log(of: "sls-crypto-rules").contains("chmod 600"), "\(stack.log(of: "sls-crypto-rules"))")

        // No key settings at all: refused, and the message says what to pass.
        let bare = try stack.run(Stack.binaries.appendingPathComponent("sls-enrollment"), ["--data-dir",
                                 stack.dataDirectory.appendingPathComponent("bare").path],
                                 overriding: ["SLS_KEY_FILE": "", "SLS_PUBLIC_KEYS": "", "SLS_POLICY": ""])
        #expect(bare.status == 64)
        #expect(bare.stderr.contains("--key-file (env SLS_KEY_FILE)"), "\(bare.stderr)")
        #expect(bare.stderr.contains("--insecure"))
    }

    @Test func insecureModeWorksAndSaysSoInTheLog() throws {
        let stack = try Stack(insecure: true)
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["event-bus", "enrollment"]))
        #expect(stack.log(of: "sls-enrollment").contains("running INSECURE"))
        #expect(stack.log(of: "sls-event-bus").contains("running INSECURE"))
        stack.stopAll()
    }
}
