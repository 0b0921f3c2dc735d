// swift-tools-version: 6.1
import PackageDescription

let strict: [SwiftSetting] = [.swiftLanguageMode(.v6)]
let argumentParser: Target.Dependency = .product(name: "ArgumentParser", package: "swift-argument-parser")
let logging: Target.Dependency = .product(name: "Logging", package: "swift-log")

let package = Package(
    name: "SecureLoginServices",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sls-event-bus", targets: ["EventBus"]),
        .executable(name: "sls-enrollment", targets: ["Enrollment"]),
        .executable(name: "sls-challenge-verification", targets: ["ChallengeVerification"]),
        .executable(name: "sls-report-delivery", targets: ["ReportDelivery"]),
        .executable(name: "sls-crypto-rules", targets: ["CryptoRules"]),
        .executable(name: "slsctl", targets: ["slsctl"]),
        .executable(name: "sls-bench", targets: ["SLSBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
    ],
    targets: [
        // MARK: C world (libzmq, protobuf-c output)
        .systemLibrary(name: "CZeroMQ", path: "Shared/CZeroMQ",
                       providers: [.apt(["libzmq3-dev"])]),
        .systemLibrary(name: "CMalloc", path: "Shared/CMalloc"),
        .target(name: "SLSProtoC", path: "Shared/SLSProtoC", sources: ["src"],
                linkerSettings: [.linkedLibrary("protobuf-c")]),

        // MARK: Shared Swift package
        .target(name: "SLSMessages", dependencies: ["SLSProtoC"], path: "Shared/SLSMessages",
                swiftSettings: strict),
        .target(name: "ZeroMQ", dependencies: ["CZeroMQ"], path: "Shared/ZeroMQ", swiftSettings: strict),
        .target(name: "SLSBus",
                dependencies: ["SLSMessages", "ZeroMQ", .product(name: "Logging", package: "swift-log"),
                               .product(name: "Yams", package: "Yams")],
                path: "Shared/SLSBus", swiftSettings: strict),
        .target(name: "SLSStorage",
                dependencies: ["SLSMessages", .product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "Logging", package: "swift-log")],
                path: "Shared/SLSStorage", swiftSettings: strict),
        .target(name: "SLSRuntime",
                dependencies: ["SLSBus", "SLSStorage", "SLSMessages", "ZeroMQ", "CMalloc",
                               .product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "ArgumentParser", package: "swift-argument-parser"),
                               .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                               .product(name: "Logging", package: "swift-log")],
                path: "Shared/SLSRuntime", swiftSettings: strict),

        .target(name: "SLSTesting",
                dependencies: ["SLSBus", "SLSMessages", "SLSStorage", "ZeroMQ",
                               .product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "Logging", package: "swift-log")],
                path: "Shared/SLSTesting", swiftSettings: strict),

        // MARK: crypto-rules
        .target(name: "CryptoRulesCore", path: "Services/CryptoRules/Core", swiftSettings: strict),
        .target(name: "CryptoRulesService",
                dependencies: ["CryptoRulesCore", "SLSRuntime", "SLSBus", "SLSStorage", "SLSMessages",
                               .product(name: "GRDB", package: "GRDB.swift"),
                               .product(name: "Logging", package: "swift-log")],
                path: "Services/CryptoRules/Service", swiftSettings: strict),

        // MARK: enrollment
        .target(name: "EnrollmentCore", dependencies: [.product(name: "Crypto", package: "swift-crypto")],
                path: "Services/Enrollment/Core", swiftSettings: strict),

        // MARK: Executables
        .executableTarget(name: "EventBus",
                          dependencies: ["SLSRuntime", "SLSBus", "ZeroMQ", argumentParser, logging,
                                         .product(name: "ServiceLifecycle", package: "swift-service-lifecycle")],
                          path: "Services/EventBus", swiftSettings: strict),
        .executableTarget(name: "Enrollment", dependencies: ["SLSRuntime", "SLSBus", "SLSMessages", argumentParser],
                          path: "Services/Enrollment/Executable", swiftSettings: strict),
        .executableTarget(name: "ChallengeVerification",
                          dependencies: ["SLSRuntime", "SLSBus", "SLSMessages", argumentParser],
                          path: "Services/ChallengeVerification", swiftSettings: strict),
        .executableTarget(name: "ReportDelivery", dependencies: ["SLSRuntime", "SLSBus", "SLSMessages", argumentParser],
                          path: "Services/ReportDelivery", swiftSettings: strict),
        .executableTarget(name: "CryptoRules",
                          dependencies: ["CryptoRulesService", "CryptoRulesCore", "SLSRuntime", "SLSBus", "SLSMessages",
                                         argumentParser],
                          path: "Services/CryptoRules/Executable", swiftSettings: strict),
        .executableTarget(name: "slsctl",
                          dependencies: ["SLSBus", "SLSMessages", "ZeroMQ", argumentParser],
                          path: "Tools/slsctl", swiftSettings: strict),
        .executableTarget(name: "SLSBench", dependencies: ["SLSBus", "SLSMessages", "ZeroMQ", "CZeroMQ", "SLSStorage", "SLSRuntime",
                                                          "CryptoRulesCore", "CryptoRulesService"],
                          path: "Benchmarks/SLSBench", swiftSettings: strict),

        // MARK: Tests
        .testTarget(name: "ContractTests", dependencies: ["SLSMessages", "SLSBus"],
                    path: "Tests/ContractTests", exclude: ["Fixtures"], swiftSettings: strict),
        .testTarget(name: "BusTests", dependencies: ["SLSTesting", "SLSBus", "SLSMessages", "ZeroMQ", "SLSStorage", "SLSRuntime"],
                    path: "Tests/BusTests", swiftSettings: strict),
        .testTarget(name: "EnrollmentCoreTests", dependencies: ["EnrollmentCore"],
                    path: "Tests/EnrollmentCoreTests", swiftSettings: strict),
        .testTarget(name: "CryptoRulesCoreTests", dependencies: ["CryptoRulesCore"],
                    path: "Tests/CryptoRulesCoreTests", swiftSettings: strict),
        .testTarget(name: "CryptoRulesServiceTests",
                    dependencies: ["SLSTesting", "CryptoRulesService", "CryptoRulesCore", "SLSStorage", "SLSBus", "SLSMessages", "SLSRuntime",
                                   .product(name: "GRDB", package: "GRDB.swift")],
                    path: "Tests/CryptoRulesServiceTests", swiftSettings: strict),
        .testTarget(name: "RuntimeTests",
                    dependencies: ["SLSTesting", "SLSRuntime", "SLSStorage", "SLSBus", "SLSMessages", "ZeroMQ",
                                   .product(name: "Logging", package: "swift-log"),
                                   .product(name: "ArgumentParser", package: "swift-argument-parser")],
                    path: "Tests/RuntimeTests", swiftSettings: strict),
        .testTarget(name: "EndToEndTests", dependencies: ["SLSTesting", "SLSBus", "SLSMessages", "ZeroMQ"],
                    path: "Tests/EndToEndTests", exclude: ["python"], swiftSettings: strict),
    ]
)
