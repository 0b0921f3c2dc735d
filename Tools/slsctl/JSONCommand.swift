import ArgumentParser
import Foundation
import SLSMessages

/// `slsctl json`: reads a message in the proto3 JSON mapping and prints it back the way slsctl
/// prints replies, or converts between JSON and the protobuf wire format. Useful to check a
/// request before sending it, or JSON from other protobuf tools.
struct JSONCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "json",
        abstract: "Checks a message's JSON (proto3 JSON mapping) and prints it as slsctl writes it.",
        discussion: """
            Reads JSON (the argument, or standard input) as the given message type: lowerCamelCase or \
            proto field names, 64-bit integers as strings or numbers, enums by name or number, bytes in \
            base64; unknown fields are refused. With --to-binary it writes the protobuf encoding instead; \
            with --from-binary it reads the protobuf encoding from standard input.
            """)

    @Argument(help: "The message type, e.g. sls.crypto.v1.CheckOrderRequest (see `slsctl list`).")
    var type: String

    @Argument(help: "The JSON (default: standard input).")
    var json: String?

    @Flag(help: "Write the protobuf wire format to standard output instead of JSON.")
    var toBinary = false

    @Flag(help: "Read the protobuf wire format from standard input instead of JSON.")
    var fromBinary = false

    func run() throws {
        guard let messageType = ProtoRegistry.messages.first(where: { $0.protoName == type }) else {
            throw SlsctlError("unknown message type '\(type)'; see `slsctl list`")
        }
        let input = json.map { Data($0.utf8) } ?? FileHandle.standardInput.readDataToEndOfFile()
        let message: any ProtoMessage
        do {
            message = fromBinary ? try messageType.decodedFromWire(Array(input)) : try messageType.decodedFromJSON(input)
        } catch {
            throw SlsctlError("not a valid \(type) in \(fromBinary ? "the protobuf encoding" : "JSON"): \(error)")
        }
        if toBinary {
            FileHandle.standardOutput.write(Data(message.serializedBytes()))
        } else {
            print(String(decoding: try message.jsonData(pretty: true), as: UTF8.self))
        }
    }
}
