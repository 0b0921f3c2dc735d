import Foundation
import Testing
import SLSTesting

@Suite("The real executables, driven like an operator would", .serialized)
struct StackTests {
    @Test func allFiveStartAndSlsctlHealthExitsZeroThenOneWhenOneStops() throws {
        let stack = try Stack()
        try stack.startAll()
        #expect(try stack.waitUntilServing())
        let health = try stack.slsctl("health")
        #expect(health.status == 0)
        #expect(health.stdout.split(separator: "\n").count == 5)

        #expect(stack.stop("sls-report-delivery") == 0)
        let degraded = try stack.slsctl("health", "--timeout", "0.5")
        #expect(degraded.status == 1)
        #expect(degraded.stdout.contains("report-delivery"))
        #expect(degraded.stdout.contains("UNAVAILABLE"))
        stack.stopAll()
    }

    @Test func slsctlCallsMethodsAndReportsStatusCodes() throws {
        let stack = try Stack()
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["enrollment"]))

        let info = try stack.slsctl("call", "enrollment", "GetInfo")
        #expect(info.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(info.stdout.utf8)) as? [String: Any]
        #expect(json?["service"] as? String == "enrollment")
        #expect(json?["apiPackage"] as? String == "sls.enrollment.v1")

        let unknown = try stack.slsctl("call", "enrollment", "Check", #"{"service":"nobody"}"#)
        #expect(unknown.status == 1)
        #expect(unknown.stderr.contains("NOT_FOUND"))

        let badJSON = try stack.slsctl("call", "enrollment", "Check", #"{"service": 12"#)
        #expect(badJSON.status != 0)
        #expect(badJSON.stderr.contains("not a valid sls.health.v1.HealthCheckRequest"))
        stack.stopAll()
    }

    @Test func sigtermFinishesCleanlyAndDataSurvivesARestart() throws {
        let stack = try Stack()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["enrollment"]))
        #expect(stack.stop("sls-enrollment", signal: SIGTERM) == 0)
        let log = stack.log(of: "sls-enrollment")
        #expect(log.contains("shutting down"))
        #expect(log.contains("stopped"))
        let database = stack.dataDirectory.appendingPathComponent("enrollment/enrollment.sqlite")
        #expect(FileManager.default.fileExists(atPath: database.path))
    }

    @Test func slsctlPublishAndWatchCarryEventsThroughTheBus() throws {
        let stack = try Stack()
        try stack.startEventBus()
        #expect(try stack.waitUntilServing(["event-bus"]))
        let watcher = Process()
        watcher.executableURL = Stack.binaries.appendingPathComponent("slsctl")
        // Operations may read account events; the account service may publish them.
        watcher.arguments = ["watch", "sls.accounts.v1.AccountOpened", "--count", "1", "--seconds", "20"]
        watcher.environment = stack.environment
        let out = Pipe()
        watcher.standardOutput = out
        try watcher.run()
        var published = false
        // A subscriber joins asynchronously: publish until it has seen one (bounded).
        for _ in 0..<40 where watcher.isRunning {
            published = try stack.slsctl(as: "accounts", "publish", "sls.accounts.v1.AccountOpened",
                                         #"{"accountId":"from-test"}"#, "--settle-ms", "100").status == 0 || published
            usleep(100_000)
        }
        watcher.waitUntilExit()
        let line = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(published)
        #expect(line.contains(#""accountId":"from-test""#))
        #expect(line.contains(#""producer":"accounts""#))
        stack.stopAll()
    }

    @Test func badSettingsStopStartUpWithAMessageNamingThem() throws {
        for (executable, variable, value) in [("sls-enrollment", "SLS_MAX_MESSAGE_BYTES", "abc"),
                                              ("sls-crypto-rules", "SLS_CRYPTO_MAX_PRICE_AGE_SECONDS", "1m")] {
            let process = Process()
            process.executableURL = Stack.binaries.appendingPathComponent(executable)
            var environment = ProcessInfo.processInfo.environment
            environment[variable] = value
            environment["SLS_INSECURE"] = "1"  // the setting under test, not the keys
            process.environment = environment
            let errors = Pipe()
            process.standardError = errors
            process.standardOutput = Pipe()
            try process.run()
            let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 64, "\(executable)")
            #expect(text.contains("\(variable)='\(value)' is not a"), "\(text)")
        }
        let badFlag = try Stack().run(Stack.binaries.appendingPathComponent("sls-crypto-rules"),
                                      ["--commission-tiers", "0.3", "--insecure"])
        #expect(badFlag.status == 64)
        #expect(badFlag.stderr.contains("--commission-tiers must look like"))
        // A negative number after a flag is its value, not another flag.
        let negative = try Stack().run(Stack.binaries.appendingPathComponent("sls-crypto-rules"),
                                       ["--clock-offset-seconds", "-3600", "--max-price-age-seconds", "0", "--insecure"])
        #expect(negative.status == 64)
        #expect(negative.stderr.contains("--max-price-age-seconds (env SLS_CRYPTO_MAX_PRICE_AGE_SECONDS) must be"),
                "\(negative.stderr)")
        #expect(!negative.stderr.contains("-3600"), "-3600 was read as the offset, not as an unknown flag")
    }

    @Test func pythonClientSpeaksOurWireFormat() throws {
        let stack = try Stack()
        try stack.startEventBus()
        try stack.startService("enrollment", port: stack.ports.enrollment)
        #expect(try stack.waitUntilServing(["enrollment"]))
        let result = try stack.run(
            URL(fileURLWithPath: "/usr/bin/python3"),
            [Stack.root.appendingPathComponent("Tests/EndToEndTests/python/wire_client.py").path,
             Stack.root.appendingPathComponent("protos").path, stack.endpoint(stack.ports.enrollment),
             stack.endpoint(stack.ports.subscribers), "sls.enrollment.v1.Enrollment/GetInfo",
             // As operations (which may call GetInfo and read heartbeats), with CurveZMQ.
             stack.keyFile(of: "operations"), stack.keyring.appendingPathComponent("public").path, "enrollment"])
        #expect(result.status == 0, "\(result.stderr)")
        let json = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
        #expect(json?["health"] as? String == "SERVING")
        #expect(json?["service"] as? String == "enrollment")
        #expect((json?["methods"] as? [String])?.contains("sls.enrollment.v1.Enrollment/GetInfo") == true)
        #expect(json?["event_type"] as? String == "sls.events.v1.ServiceHeartbeat")
        #expect(json?["event_topic"] as? String == "sls.events.v1.ServiceHeartbeat")
        #expect(json?["heartbeat_service"] as? String == "enrollment")
        #expect((json?["event_sequence"] as? Int ?? 0) >= 1)
        stack.stopAll()
    }
}
