// swift-tools-version:6.1
// The benchmark suite (BENCHMARKS.md), a package of its own as swift-nio's and swift-prometheus's `Benchmarks/`:
// ordo-one/benchmark and its malloc interposer never reach the library's users or its tests.
//
//   cd Benchmarks && swift package benchmark                           (the SQLite suite; PostgreSQL is skipped)
//   cd Benchmarks && ../scripts/with-postgres swift package benchmark  (both suites)
//   cd Benchmarks && swift run -c release make-vault DIR --accounts N   (a vault for scripts/bench-scale)
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

/// The interposer adds its own work to every malloc, so wall times of allocating code come out high with it
/// (BENCHMARKS.md takes times from a run with `BENCHMARK_DISABLE_MALLOC_INTERPOSER=1`, allocation counts from one
/// without), as ordo-one/benchmark's own manifest reads that variable.
let benchmarkTraits: Set<Package.Dependency.Trait> =
    Context.environment["BENCHMARK_DISABLE_MALLOC_INTERPOSER"] == nil ? ["MallocInterposer"] : []

let package = Package(
    name: "sendcloud-vault-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        // Named, since a package given by path is otherwise known by its folder name, which is the checkout's.
        .package(name: "sendcloud-vault", path: "../"),
        // The malloc interposer gives allocation counts. Naming the trait keeps the default set's runtime interposer
        // out: swift-runtime-interposer, which that trait needs on Linux with Swift 6.3, is not available here.
        .package(url: "https://github.com/ordo-one/benchmark", exact: "1.38.1", traits: benchmarkTraits),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
    ],
    targets: [
        .systemLibrary(name: "CSodiumBaseline", pkgConfig: "libsodium", providers: [.apt(["libsodium-dev"])]),
        // The raw baselines every vault figure stands beside: libsodium and the SQLite C API with nothing around them.
        .target(
            name: "Baselines",
            dependencies: [
                "CSodiumBaseline",
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "VaultBenchmarks",
            dependencies: [
                "Baselines",
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CredentialVault", package: "sendcloud-vault"),
                .product(name: "CredentialVaultSQLite", package: "sendcloud-vault"),
                .product(name: "SendcloudOAuth", package: "sendcloud-vault"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Benchmarks/VaultBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        .executableTarget(
            name: "PostgresBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "CredentialVault", package: "sendcloud-vault"),
                .product(name: "CredentialVaultPostgres", package: "sendcloud-vault"),
                .product(name: "SendcloudOAuth", package: "sendcloud-vault"),
                .product(name: "SendcloudTesting", package: "sendcloud-vault"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Benchmarks/PostgresBenchmarks",
            swiftSettings: swiftSettings,
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
        // `make-vault DIR --accounts N`: a vault of N client-credentials accounts built through the library, for the
        // scale figures (scripts/bench-scale).
        .executableTarget(
            name: "make-vault",
            dependencies: [
                .product(name: "CredentialVault", package: "sendcloud-vault"),
                .product(name: "CredentialVaultSQLite", package: "sendcloud-vault"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
