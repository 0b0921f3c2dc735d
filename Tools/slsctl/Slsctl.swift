import ArgumentParser
import Foundation
import QRCode
import SLSClientOptions
import SLSBus
import SLSMessages
import ZeroMQ

/// slsctl's settings are `SLSCTL_*` variables.
enum SlsctlEnvironment: ClientEnvironment {
    static let prefix = "SLSCTL"
}

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
            The event bus endpoints come from SLS_EVENTS_PUBLISH and SLS_EVENTS_SUBSCRIBE. \
            On a secured stack slsctl authenticates with its key (--key-file / SLSCTL_KEY_FILE) and finds \
            the services' keys in --public-keys / SLSCTL_PUBLIC_KEYS; what it may do is what the bus policy \
            allows the identity of its key.
            """,
        subcommands: [Health.self, Call.self, Publish.self, Watch.self, List.self, JSONCommand.self, Keys.self, Activation.self])
}

struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Checks every service (or the named ones); exits 0 only when all are serving.")

    @Argument(help: "Services to check; all when none are named.")
    var services: [String] = []

    @Option(help: "Seconds to wait for each answer.")
    var timeout: Double = 2

    @OptionGroup var connection: ConnectionOptions<SlsctlEnvironment>

    func run() async throws {
        let entries = try services.isEmpty ? ServiceDirectory.entries : services.map(ServiceDirectory.entry(named:))
        let security = try entries.map { try connection.client(of: $0.name) }
        let context = ZMQContext()
        let wait = Duration.milliseconds(Int64(timeout * 1000))
        // All at once, so a stack with a service down answers within one timeout.
        let results = try await withThrowingTaskGroup(of: (Int, String, String).self) { group in
            for (index, entry) in entries.enumerated() {
                group.addTask {
                    let client = try RPCClient(context: context, configuration: .init(
                        endpoint: ServiceDirectory.endpoint(for: entry), caller: "slsctl",
                        defaultTimeout: wait, connectTimeout: wait, security: security[index]))
                    defer { client.close() }
                    do {
                        return (index, try await client.call(HealthAPI.check, HealthCheckRequest()).status.description, "")
                    } catch let error as RPCError {
                        return (index, error.code.description, error.code == .unauthenticated ? error.message : "")
                    }
                }
            }
            var statuses = [(String, String)](repeating: ("", ""), count: entries.count)
            for try await (index, status, why) in group { statuses[index] = (status, why) }
            return statuses
        }
        for (entry, (status, why)) in zip(entries, results) {
            print("\(entry.name.padding(toLength: 24, withPad: " ", startingAt: 0)) "
                  + "\(ServiceDirectory.endpoint(for: entry).padding(toLength: 24, withPad: " ", startingAt: 0)) \(status)")
            if !why.isEmpty { FileHandle.standardError.write(Data("\(entry.name): \(why)\n".utf8)) }
        }
        let statuses = results.map(\.0)
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

    @OptionGroup var connection: ConnectionOptions<SlsctlEnvironment>

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
            endpoint: ServiceDirectory.endpoint(for: entry), caller: "slsctl",
            security: try connection.client(of: entry.name)))
        defer { client.close() }
        do {
            let reply = try await client.call(method: method.fullName, payload: request.serializedBytes(),
                                              options: CallOptions(timeout: .milliseconds(Int64(timeout * 1000)),
                                                                   traceID: traceID))
            let response = try method.responseType.decodedFromWire(reply)
            print(String(decoding: try response.jsonData(pretty: true), as: UTF8.self))
        } catch let error as RPCError {
            FileHandle.standardError.write(Data("\(error.commandLine)\n".utf8))
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

    @Option(help: """
        Producer name in the event header (default: the identity of slsctl's key; "slsctl" with --insecure). \
        A secured bus drops events whose producer is not the publisher's identity.
        """)
    var producer: String?

    @Option(help: "Milliseconds to wait after connecting, for the bus to pass on subscriptions.")
    var settleMs = 300

    @OptionGroup var connection: ConnectionOptions<SlsctlEnvironment>

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
        let security = try connection.security()
        let publisher = try EventPublisher(context: ZMQContext(), endpoint: endpoint,
                                           producer: producer ?? security?.identity ?? "slsctl",
                                           security: try connection.client(of: ServiceCatalog.eventBus.name))
        try await Task.sleep(for: .milliseconds(settleMs))
        let header = try publisher.publish(type: type, payload: message.serializedBytes())
        publisher.close()
        print(String(decoding: try header.jsonData(), as: UTF8.self))
    }
}

struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prints events as JSON lines: header, payload and how many were missed before each.")

    @Argument(help: "Topic prefixes, e.g. sls.crypto.v1. (every known event type when none).")
    var topics: [String] = []

    @OptionGroup var connection: ConnectionOptions<SlsctlEnvironment>

    @Option(help: "Stop after this many events (0: never).")
    var count = 0

    @Option(help: "Stop after this many seconds (0: never).")
    var seconds: Double = 0

    func run() async throws {
        let endpoint = ProcessInfo.processInfo.environment["SLS_EVENTS_SUBSCRIBE"] ?? ServiceCatalog.eventsSubscribeEndpoint
        let security = try connection.client(of: ServiceCatalog.eventBus.name)
        // A secured bus applies only subscriptions the policy lets this identity read, whole; one
        // per known type lets it show every type it may read.
        let subscribed = !topics.isEmpty ? topics : security == nil ? [""] : ProtoRegistry.messages.map { $0.protoName }
        if security != nil {
            FileHandle.standardError.write(Data(
                "watching as '\(try connection.security()?.identity ?? "")': the bus ignores subscriptions its policy does not allow\n".utf8))
        }
        let subscriber = try EventSubscriber(context: ZMQContext(), endpoint: endpoint, topics: subscribed,
                                             security: security, logger: .init(label: "slsctl"))
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

struct Keys: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Makes CurveZMQ key pairs.",
        subcommands: [CreateKeys.self])
}

struct CreateKeys: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Creates a key pair per identity in a keyring folder; existing ones are kept.",
        discussion: """
            Writes <keyring>/secret/<identity>.key (mode 0600, the folder 0700) and \
            <keyring>/public/<identity>.pub. Give a process its .key file (--key-file); put the .pub file \
            in the public key directory (--public-keys) of every process that must admit it or reach it.
            """)

    @Option(help: "The keyring folder.")
    var keyring: String

    @Argument(help: "Identities, e.g. crypto-rules portal (a-z, 0-9, '.', '_', '-').")
    var identities: [String]

    func validate() throws {
        guard !identities.isEmpty else { throw ValidationError("name at least one identity") }
        for identity in identities where !IdentityName.isValid(identity) {
            throw ValidationError("'\(identity.prefix(80))' is not an identity name (a-z, 0-9, '.', '_', '-'; at most 64)")
        }
    }

    func run() throws {
        for identity in identities {
            if FileManager.default.fileExists(atPath: "\(keyring)/secret/\(identity).key") {
                print("kept    \(keyring)/secret/\(identity).key")
                continue
            }
            do {
                try CurveKeyFile.save(try CurveKeyPair.generate(), identity: identity, inKeyring: keyring)
            } catch let error as BusSecurityError {
                throw SlsctlError(error.description)
            }
            print("created \(keyring)/secret/\(identity).key and \(keyring)/public/\(identity).pub")
        }
    }
}

struct Activation: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start-activation",
        abstract: "Starts an IB Key activation for a user (as the portal does) and shows its QR code here.",
        discussion: """
            Calls enrollment's StartActivation and prints the QR code in the terminal, then the activation \
            string to type, its link and its expiry. The identity of slsctl's key must be allowed to call \
            StartActivation (in the stack's policy: portal).
            """)

    @Argument(help: "The user name.")
    var user: String

    @Option(help: "Also write the QR code PNG to this file.")
    var png: String?

    @Flag(help: "Draw dark modules (for terminals with a light background).")
    var darkOnLight = false

    @Flag(help: "A string that moves the user's IB Key to a new phone (ENR-09).")
    var replaceExisting = false

    @OptionGroup var connection: ConnectionOptions<SlsctlEnvironment>

    func run() async throws {
        let entry = try ServiceDirectory.entry(named: ServiceCatalog.enrollment.name)
        let client = try RPCClient(context: ZMQContext(), configuration: .init(
            endpoint: ServiceDirectory.endpoint(for: entry), caller: "slsctl",
            security: try connection.client(of: entry.name)))
        defer { client.close() }
        let ticket: ActivationTicket
        do {
            ticket = try await client.call(EnrollmentAPI.startActivation,
                                           StartActivationRequest(userName: user, replaceExisting: replaceExisting))
        } catch let error as RPCError {
            FileHandle.standardError.write(Data("\(error.commandLine)\n".utf8))
            throw ExitCode(1)
        }
        if let png { try ticket.qrPng.write(to: URL(fileURLWithPath: png)) }
        print(try QRCode(ticket.qrLink).terminalText(darkOnLight: darkOnLight))
        print("activation string: \(ticket.activationString)")
        print("link:              \(ticket.qrLink)")
        print("expires:           \(Date(timeIntervalSince1970: Double(ticket.expiresUnixMs) / 1000))")
    }
}
