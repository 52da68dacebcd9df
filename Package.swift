// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "sendcloud-vault",
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "CredentialVault", targets: ["CredentialVault"]),
        .library(name: "CredentialVaultSQLite", targets: ["CredentialVaultSQLite"]),
        .library(name: "CredentialVaultMemory", targets: ["CredentialVaultMemory"]),
        .library(name: "CredentialVaultPostgres", targets: ["CredentialVaultPostgres"]),
        .library(name: "SendcloudOAuth", targets: ["SendcloudOAuth"]),
        .library(name: "SendcloudVaultService", targets: ["SendcloudVaultService"]),
        .library(name: "SendcloudTesting", targets: ["SendcloudTesting"]),
        .executable(name: "sendcloud-vault", targets: ["sendcloud-vault"]),
        .executable(name: "seal-and-read", targets: ["seal-and-read"]),
        .executable(name: "sendcloud-dev-endpoint", targets: ["sendcloud-dev-endpoint"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-distributed-tracing", from: "1.7.3"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    ],
    targets: [
        .systemLibrary(
            name: "CSodium",
            pkgConfig: "libsodium",
            providers: [.apt(["libsodium-dev"])]
        ),
        .target(
            name: "CredentialVault",
            dependencies: [
                "CSodium",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CredentialVaultSQLite",
            dependencies: [
                "CredentialVault",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // An in-memory store for embedders' unit tests: in-process locks only, nothing durable.
        .target(
            name: "CredentialVaultMemory",
            dependencies: ["CredentialVault"],
            swiftSettings: swiftSettings
        ),
        // The shared PostgreSQL store, for several backend instances serving the same tenants (opt-in product).
        .target(
            name: "CredentialVaultPostgres",
            dependencies: [
                "CredentialVault",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "SendcloudOAuth",
            dependencies: [
                "CredentialVault",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        // Embedding in a backend (DESIGN §7): the vault's location, unlocking from the environment or a ConfigReader,
        // and one Service that owns the store, the HTTP client, the token provider and the refresher.
        .target(
            name: "SendcloudVaultService",
            dependencies: [
                "CredentialVault",
                "CredentialVaultSQLite",
                "CredentialVaultPostgres",
                "SendcloudOAuth",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sendcloud-vault",
            dependencies: [
                "CredentialVault",
                "CredentialVaultSQLite",
                "CredentialVaultPostgres",
                "SendcloudOAuth",
                "SendcloudVaultService",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // The development Sendcloud endpoint (FakeSendcloud of SendcloudTesting) on a loopback port, for local development.
        .executableTarget(
            name: "sendcloud-dev-endpoint",
            dependencies: [
                "SendcloudTesting",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "seal-and-read",
            dependencies: ["CredentialVault", "CredentialVaultSQLite"],
            path: "Examples/seal-and-read",
            swiftSettings: swiftSettings
        ),
        // Examples/*/README.md: a Hummingbird backend for many tenants, a refresher worker, a plaintext migration.
        .executableTarget(
            name: "multi-tenant-backend",
            dependencies: [
                "CredentialVault",
                "SendcloudOAuth",
                "SendcloudVaultService",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/multi-tenant-backend",
            exclude: ["README.md"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "refresher-worker",
            dependencies: [
                "SendcloudOAuth",
                "SendcloudVaultService",
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/refresher-worker",
            exclude: ["README.md"],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "migrate-plaintext",
            dependencies: [
                "CredentialVault",
                "CredentialVaultPostgres",
                "SendcloudOAuth",
                "SendcloudVaultService",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Examples/migrate-plaintext",
            exclude: ["README.md"],
            swiftSettings: swiftSettings
        ),
        // Every ```swift block of README.md and the DocC articles, compiled (Tests/ExamplesTests/SnippetTests.swift).
        .executableTarget(
            name: "Snippets",
            dependencies: [
                "CredentialVault",
                "CredentialVaultPostgres",
                "CredentialVaultSQLite",
                "SendcloudOAuth",
                "SendcloudVaultService",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
            ],
            path: "Examples/Snippets",
            swiftSettings: swiftSettings
        ),
        // Fuzzing (Fuzz/README.md): the harness libraries, and one executable per target. A normal build makes
        // corpus-replay executables; scripts/fuzz rebuilds them with libFuzzer and -DFUZZING (no @main).
        .target(name: "FuzzSupport", path: "Fuzz/FuzzSupport", swiftSettings: swiftSettings),
        .target(
            name: "FuzzVault",
            dependencies: ["CSodium", "CredentialVault", "FuzzSupport"],
            path: "Fuzz/FuzzVault",
            swiftSettings: swiftSettings
        ),
        .target(
            name: "FuzzOAuth",
            dependencies: [
                "CredentialVault",
                "FuzzSupport",
                "SendcloudOAuth",
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            path: "Fuzz/FuzzOAuth",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-sealed-value",
            dependencies: ["FuzzSupport", "FuzzVault"],
            path: "Fuzz/fuzz-sealed-value",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-key-slot",
            dependencies: ["FuzzSupport", "FuzzVault"],
            path: "Fuzz/fuzz-key-slot",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-account-row",
            dependencies: ["FuzzSupport", "FuzzVault"],
            path: "Fuzz/fuzz-account-row",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-token-response",
            dependencies: ["FuzzSupport", "FuzzOAuth"],
            path: "Fuzz/fuzz-token-response",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-form",
            dependencies: ["FuzzSupport", "FuzzOAuth"],
            path: "Fuzz/fuzz-form",
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "fuzz-redirect-query",
            dependencies: ["FuzzSupport", "FuzzOAuth"],
            path: "Fuzz/fuzz-redirect-query",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialVaultTests",
            dependencies: [
                "CredentialVault",
                "TestSupport",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        // The CredentialStore conformance suite: one set of test functions, run against every store.
        .target(
            name: "CredentialStoreConformance",
            dependencies: ["CredentialVault", "TestSupport", .product(name: "Logging", package: "swift-log")],
            path: "Tests/CredentialStoreConformance",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialVaultPostgresTests",
            dependencies: [
                "CredentialStoreConformance",
                "CredentialVault",
                "CredentialVaultPostgres",
                "TestSupport",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialVaultMemoryTests",
            dependencies: ["CredentialStoreConformance", "CredentialVault", "CredentialVaultMemory"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialVaultSQLiteTests",
            dependencies: [
                "CredentialStoreConformance",
                "TestSupport",
                "CredentialVault",
                "CredentialVaultSQLite",
                "FuzzSupport",
                "FuzzVault",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            exclude: ["Fixtures"],
            swiftSettings: swiftSettings
        ),
        // A development Sendcloud (Ory Hydra) token endpoint on 127.0.0.1: for the package's tests, embedders' tests
        // (product SendcloudTesting) and the sendcloud-dev-endpoint executable.
        .target(
            name: "SendcloudTesting",
            dependencies: [
                "CredentialVault",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Helpers shared by the test targets (Tests/TestSupport/Documentation.docc): temporary directories, error
        // expectations, the PKCE vector, the start and stop of the fake server and of HTTP clients.
        .target(
            name: "TestSupport",
            dependencies: [
                "CredentialVault",
                "SendcloudTesting",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            path: "Tests/TestSupport",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SendcloudTestingTests",
            dependencies: [
                "SendcloudTesting",
                "sendcloud-dev-endpoint",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SendcloudOAuthTests",
            dependencies: [
                "SendcloudOAuth",
                "CredentialVault",
                "CredentialVaultSQLite",
                "CredentialVaultPostgres",
                "FuzzOAuth",
                "FuzzSupport",
                "SendcloudTesting",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
                .product(name: "Tracing", package: "swift-distributed-tracing"),
                .product(name: "InMemoryTracing", package: "swift-distributed-tracing"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SendcloudVaultServiceTests",
            dependencies: [
                "SendcloudVaultService",
                "SendcloudOAuth",
                "CredentialVault",
                "CredentialVaultSQLite",
                "CredentialVaultPostgres",
                "SendcloudTesting",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        // The examples' binaries end to end against the fake Sendcloud, and the check that every snippet compiles.
        .testTarget(
            name: "ExamplesTests",
            dependencies: [
                "multi-tenant-backend",
                "refresher-worker",
                "migrate-plaintext",
                "Snippets",
                "CredentialVault",
                "CredentialVaultSQLite",
                "SendcloudTesting",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: [
                "sendcloud-vault",
                "CredentialVault",
                "CredentialVaultSQLite",
                .product(name: "Logging", package: "swift-log"),
                "SendcloudTesting",
                "TestSupport",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
