import Foundation
import Testing

@Suite("Generated code matches protos/")
struct GeneratedCodeFreshnessTests {
    @Test func committedProtocOutputIsFresh() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/bash")
        process.arguments = [root.appendingPathComponent("Tools/generate-protos.sh").path, "--check"]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        process.waitUntilExit()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(text)")
    }
}

@Suite("The Swift generator")
struct SwiftGeneratorTests {
    @Test func theSameMessageNameInTwoPackagesGetsUnambiguousSwiftNames() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent()
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("gen-\(UUID())")
        defer { try? FileManager.default.removeItem(at: work) }
        for package in ["enrollment", "delivery"] {
            let folder = work.appendingPathComponent("in/sls/\(package)/v1")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            try """
                syntax = "proto3";
                package sls.\(package).v1;
                enum State { STATE_UNSPECIFIED = 0; ACTIVE = 1; }
                message Status { State state = 1; }
                message Only\(package.capitalized) { Status status = 1; repeated Status history = 2; }
                """.write(to: folder.appendingPathComponent("\(package).proto"), atomically: true, encoding: .utf8)
        }
        try FileManager.default.createDirectory(at: work.appendingPathComponent("out"), withIntermediateDirectories: true)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/protoc")
        process.arguments = [
            "--plugin=protoc-gen-slsswift=" + root.appendingPathComponent("Tools/protoc-gen-slsswift/protoc-gen-slsswift").path,
            "--slsswift_out=" + work.appendingPathComponent("out").path, "-I", work.appendingPathComponent("in").path,
            "sls/enrollment/v1/enrollment.proto", "sls/delivery/v1/delivery.proto"]
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        process.waitUntilExit()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(process.terminationStatus == 0, "\(message)")
        let enrollment = try String(contentsOf: work.appendingPathComponent("out/sls/enrollment/v1/enrollment.pb.swift"),
                                    encoding: .utf8)
        let delivery = try String(contentsOf: work.appendingPathComponent("out/sls/delivery/v1/delivery.pb.swift"),
                                  encoding: .utf8)
        #expect(enrollment.contains("public struct EnrollmentStatus: ProtoMessage"))
        #expect(enrollment.contains("public enum EnrollmentState: ProtoEnum"))
        #expect(enrollment.contains("public var status: EnrollmentStatus?"))
        #expect(enrollment.contains("public var history: [EnrollmentStatus]"))
        #expect(enrollment.contains("public struct OnlyEnrollment: ProtoMessage"), "a name used once keeps it")
        #expect(delivery.contains("public struct DeliveryStatus: ProtoMessage"))
        #expect(delivery.contains("public var state: DeliveryState"))
        #expect(delivery.contains(#"public static let protoName = "sls.delivery.v1.Status""#), "the wire name is unchanged")
    }
}
