// swift-tools-version:6.1
import Foundation
import PackageDescription

/// The per-service message documents live next to the Swift types in Protocols/.
let protocolDocuments = ((try? FileManager.default.contentsOfDirectory(atPath: Context.packageDirectory + "/Protocols")) ?? [])
    .filter { $0.hasSuffix(".md") }

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "tandem",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "TandemWire", targets: ["TandemWire"]),
        .library(name: "TandemProtocols", targets: ["TandemProtocols"]),
        .library(name: "TandemRPC", targets: ["TandemRPC"]),
        .library(name: "TandemCertificates", targets: ["TandemCertificates"]),
        .library(name: "TandemAuth", targets: ["TandemAuth"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing.git", from: "1.7.3"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // MARK: Contract and wire format
        .systemLibrary(
            name: "CTandemZlib",
            pkgConfig: "zlib",
            providers: [.apt(["zlib1g-dev"]), .brew(["zlib"])]
        ),
        .target(
            name: "CTandemDeflate",
            dependencies: ["CTandemZlib"]
        ),
        .target(
            name: "TandemRandom",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TandemWire",
            dependencies: [
                "CTandemZlib",
                "CTandemDeflate",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TandemProtocols",
            dependencies: ["TandemWire"],
            path: "Protocols",
            exclude: protocolDocuments + ["vectors"],
            swiftSettings: swiftSettings
        ),

        // MARK: Storage
        .systemLibrary(
            name: "CTandemSQLite",
            providers: [.apt(["libsqlite3-dev"]), .brew(["sqlite"])]
        ),
        .target(
            name: "CTandemSQLiteVFS",
            dependencies: ["CTandemSQLite"]
        ),
        .target(
            name: "TandemStore",
            dependencies: [
                "CTandemSQLite",
                "CTandemSQLiteVFS",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: RPC runtime
        .target(
            name: "TandemRPC",
            dependencies: [
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TandemCertificates",
            dependencies: [
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Services
        .target(
            name: "TandemAuth",
            dependencies: [
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TandemServiceKit",
            dependencies: [
                "TandemRandom",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Instrumentation", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "IdentityService",
            dependencies: [
                "TandemAuth",
                "TandemStore",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "JWTKit", package: "jwt-kit"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-identity",
            dependencies: [
                "IdentityService",
                "TandemWire",
                "TandemServiceKit",
                "TandemRPC",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "SchedulingService",
            dependencies: [
                "TandemAuth",
                "TandemRandom",
                "TandemStore",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "MatchingService",
            dependencies: [
                "TandemAuth",
                "TandemStore",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-matching",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "MatchingService",
                "TandemServiceKit",
                "TandemAuth",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-scheduling",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "SchedulingService",
                "TandemServiceKit",
                "TandemAuth",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Feedback service
        .target(
            name: "FeedbackService",
            dependencies: [
                "CTandemSQLite",
                "TandemAuth",
                "TandemStore",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-feedback",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "FeedbackService",
                "TandemServiceKit",
                "TandemAuth",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        .target(
            name: "GatewayService",
            dependencies: [
                "TandemAuth",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-gateway",
            dependencies: [
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                "GatewayService",
                "TandemServiceKit",
                "TandemAuth",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // Child processes without Foundation's Process (see Sources/CTandemSpawn).
        .target(name: "CTandemSpawn"),
        .target(name: "TandemProcess", dependencies: ["CTandemSpawn"], swiftSettings: swiftSettings),
        .target(
            name: "TandemLoad",
            dependencies: [
                "TandemRandom",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-load",
            dependencies: [
                "TandemLoad",
                "TandemProcess",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: Tools
        .executableTarget(
            name: "tandem",
            dependencies: [
                "TandemProcess",
                "TandemRandom",
                "TandemCertificates",
                "TandemServiceKit",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-fuzz",
            dependencies: [
                "TandemRandom",
                "TandemWire",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CTandemMallocCounter",
            path: "Benchmarks/CTandemMallocCounter"
        ),
        .target(
            name: "TandemBenchSupport",
            dependencies: ["TandemWire"],
            path: "Benchmarks/Support",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-echo-server",
            dependencies: [
                "CTandemMallocCounter",
                "TandemBenchSupport",
                "TandemRPC",
                "TandemProtocols",
                "TandemWire",
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/EchoServer",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "tandem-bench",
            dependencies: [
                "TandemRandom",
                "CTandemMallocCounter",
                "TandemBenchSupport",
                "TandemWire",
                "TandemProtocols",
                "TandemRPC",
                "TandemCertificates",
                "IdentityService",
                "MatchingService",
                "FeedbackService",
                "TandemAuth",
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/TandemBench",
            swiftSettings: swiftSettings
        ),

        // MARK: Tests
        .testTarget(
            name: "TandemWireTests",
            dependencies: [
                "TandemRandom",
                "TandemWire",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOTestUtils", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemRPCTests",
            dependencies: [
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                "TandemCertificates",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemStoreTests",
            dependencies: ["TandemStore", "TandemRandom", "TandemTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemCertificatesTests",
            dependencies: [
                "TandemCertificates",
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "TandemTestSupport",
            dependencies: [
                "TandemProcess",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                "TandemCertificates",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Tests/TandemTestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "TandemProcessTests", dependencies: ["TandemProcess", "TandemTestSupport"], swiftSettings: swiftSettings),
        .testTarget(
            name: "IdentityServiceTests",
            dependencies: [
                "IdentityService",
                "TandemAuth",
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "MatchingServiceTests",
            dependencies: [
                "TandemRandom",
                "MatchingService",
                "SchedulingService",
                "IdentityService",
                "TandemAuth",
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SchedulingServiceTests",
            dependencies: [
                "SchedulingService",
                "TandemRandom",
                "TandemLoad",
                "IdentityService",
                "TandemAuth",
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "FeedbackServiceTests",
            dependencies: [
                "FeedbackService",
                "MatchingService",
                "SchedulingService",
                "IdentityService",
                "TandemAuth",
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "GatewayTests",
            dependencies: [
                "GatewayService",
                "FeedbackService",
                "IdentityService",
                "MatchingService",
                "SchedulingService",
                "TandemServiceKit",
                "TandemAuth",
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemServiceKitTests",
            dependencies: ["TandemServiceKit", "TandemTestSupport"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemCLITests",
            dependencies: [
                "TandemTestSupport",
                "TandemRPC",
                "TandemWire",
                "TandemProtocols",
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "TandemProtocolsTests",
            dependencies: [
                "TandemTestSupport",
                "TandemWire",
                "TandemRandom",
                "TandemProtocols",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
