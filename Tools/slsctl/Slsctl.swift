import ArgumentParser
import Foundation
import SLSBus
import SLSMessages
import ZeroMQ

/// A command-line client for the bus, in the spirit of grpcurl.
@main
struct Slsctl: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "slsctl",
        abstract: "Call, check and watch the Secure Login services over the ZeroMQ bus.",
        discussion: """
            Services and their default endpoints: \
            \(ServiceDirectory.entries.map { "\($0.name) \($0.defaultEndpoint)" }.joined(separator: ", ")). \
            Override one with its environment variable, e.g. SLSCTL_CRYPTO_RULES=tcp://host:7104. \
            The event bus endpoints come from SLS_EVENTS_PUBLISH and SLS_EVENTS_SUBSCRIBE.
            """,
        subcommands: [Health.self, Call.self, Publish.self, Watch.self, List.self])
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks every service (or the named ones); exits 0 only when all are serving.")

    @Argument(help: "Services to check; all when none are named.")
    var services: [String] = []

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Double = 2

    func run() async throws {
        let entries = try services.isEmpty ? ServiceDirectory.entries : services.map(ServiceDirectory.entry(named:))
        let context = ZMQContext()
        let wait = Duration.milliseconds(Int64(timeout * 1000))
        // All at once, so a stack with a service down answers within one timeout.
        let statuses = try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, entry) in entries.enumerated() {
                group.addTask {
                    let client = try RPCClient(context: context, configuration: .init(
                        endpoint: ServiceDirectory.endpoint(for: entry), caller: "slsctl",
                        defaultTimeout: wait, connectTimeout: wait))
                    defer { client.close() }
                    do {
                        return (index, try await client.call(HealthAPI.check, HealthCheckRequest()).status.description)
                    } catch let error as RPCError {
                        return (index, error.code.description)
                    }
                }
            }
            var statuses = [String](repeating: "", count: entries.count)
            for try await (index, status) in group { statuses[index] = status }
            return statuses
        }
        for (entry, status) in zip(entries, statuses) {
            print("\(entry.name.padding(toLength: 24, withPad: " ", startingAt: 0)) "
                  + "\(ServiceDirectory.endpoint(for: entry).padding(toLength: 24, withPad: " ", startingAt: 0)) \(status)")
        }
        if statuses.contains(where: { $0 != ServingStatus.serving.description }) { throw ExitCode(1) }
    }
}

struct Call: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Calls a method with a JSON request and prints the JSON reply.",
        discussion: "On failure prints the status code, rule id and message to standard error and exits 1.")

    @Argument(help: "The service, e.g. crypto-rules.")
    var service: String

    @Argument(help: "The method: bare (GetInfo) or full (sls.crypto.v1.CryptoRules/GetInfo).")
    var method: String

    @Argument(help: "The request as JSON (fields in lowerCamelCase; omitted fields take defaults).")
    var json: String = "{}"

    @Option(help: "Seconds before the call gives up.")
    var timeout: Double = 5

    @Option(help: "Trace id to send (a random one when empty).")
    var traceID: String = ""

    func run() async throws {
        let entry = try ServiceDirectory.entry(named: service)
        let method = try ServiceDirectory.method(method, of: entry)
        let request: any ProtoMessage
        do {
            request = try method.requestType.decodedFromJSON(Data(json.utf8))
        } catch {
            throw SlsctlError("the request is not a valid \(method.requestType.protoName) in JSON: \(error)")
        }
        let client = try RPCClient(context: ZMQContext(), configuration: .init(
            endpoint: ServiceDirectory.endpoint(for: entry), caller: "slsctl"))
        defer { client.close() }
        do {
            let reply = try await client.call(method: method.fullName, payload: request.serializedBytes(),
                                              options: CallOptions(timeout: .milliseconds(Int64(timeout * 1000)),
                                                                   traceID: traceID))
            let response = try method.responseType.decodedFromWire(reply)
            print(String(decoding: try response.jsonData(pretty: true), as: UTF8.self))
        } catch let error as RPCError {
            var line = "ERROR \(error.code.description)"
            if !error.ruleID.isEmpty { line += " [\(error.ruleID)]" }
            FileHandle.standardError.write(Data("\(line): \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Publishes one event, given its message type and JSON, onto the event bus.")

    @Argument(help: "The event's message type, e.g. sls.crypto.v1.MarkPriceUpdated.")
    var type: String

    @Argument(help: "The event as JSON.")
    var json: String = "{}"

    @Option(help: "Producer name in the event header.")
    var producer = "slsctl"

    @Option(help: "Milliseconds to wait after connecting, for the bus to pass on subscriptions.")
    var settleMs = 300

    func run() async throws {
        guard let messageType = ProtoRegistry.messages.first(where: { $0.protoName == type }) else {
            throw SlsctlError("unknown message type '\(type)'; see `slsctl list`")
        }
        let message: any ProtoMessage
        do {
            message = try messageType.decodedFromJSON(Data(json.utf8))
        } catch {
            throw SlsctlError("the event is not a valid \(type) in JSON: \(error)")
        }
        let endpoint = ProcessInfo.processInfo.environment["SLS_EVENTS_PUBLISH"] ?? ServiceCatalog.eventsPublishEndpoint
        let publisher = try EventPublisher(context: ZMQContext(), endpoint: endpoint, producer: producer)
        try await Task.sleep(for: .milliseconds(settleMs))
        let header = try publisher.publish(type: type, payload: message.serializedBytes())
        publisher.close()
        print(String(decoding: try header.jsonData(), as: UTF8.self))
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prints events as JSON lines: header, payload and how many were missed before each.")

    @Argument(help: "Topic prefixes, e.g. sls.crypto.v1. (all events when none).")
    var topics: [String] = []

    @Option(help: "Stop after this many events (0: never).")
    var count = 0

    @Option(help: "Stop after this many seconds (0: never).")
    var seconds: Double = 0

    func run() async throws {
        let endpoint = ProcessInfo.processInfo.environment["SLS_EVENTS_SUBSCRIBE"] ?? ServiceCatalog.eventsSubscribeEndpoint
        let subscriber = try EventSubscriber(context: ZMQContext(), endpoint: endpoint,
                                             topics: topics.isEmpty ? [""] : topics, logger: .init(label: "slsctl"))
        if seconds > 0 {
            Task { [seconds] in
                try? await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
                subscriber.close()
            }
        }
        var seen = 0
        for await event in subscriber.events {
            FileHandle.standardOutput.write(Data((try WatchLine(event).json() + "\n").utf8))
            seen += 1
            if count > 0 && seen >= count { break }
        }
        subscriber.close()
    }
}

/// One line of `slsctl watch` output.
struct WatchLine: Encodable {
    let header: EventHeader
    let payload: AnyProtoJSON
    let missedBefore: UInt64

    init(_ event: ReceivedEvent) {
        header = event.header
        missedBefore = event.missedBefore
        let type = ProtoRegistry.messages.first { $0.protoName == event.header.type }
        payload = AnyProtoJSON(message: type.flatMap { try? $0.decodedFromWire(event.payload) })
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}

/// Encodes any message (or null for an unknown type) inside a larger JSON value.
struct AnyProtoJSON: Encodable {
    let message: (any ProtoMessage)?
    func encode(to encoder: any Encoder) throws {
        if let message {
            try message.encode(to: encoder)
        } else {
            var container = encoder.singleValueContainer()
            try container.encodeNil()
        }
    }
}

struct List: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Lists every method and message type.")

    func run() {
        print("methods:")
        for method in ProtoRegistry.methods {
            print("  \(method.fullName)(\(method.requestType.protoName)) -> \(method.responseType.protoName)")
        }
        print("messages:")
        for message in ProtoRegistry.messages {
            print("  \(message.protoName)")
        }
    }
}
