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
        .executable(name: "sendcloud-vault", targets: ["sendcloud-vault"]),
        .executable(name: "seal-and-read", targets: ["seal-and-read"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
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
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "CredentialVaultSQLite",
            dependencies: [
                "CredentialVault",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "sendcloud-vault",
            dependencies: [
                "CredentialVault",
                "CredentialVaultSQLite",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "seal-and-read",
            dependencies: ["CredentialVault", "CredentialVaultSQLite"],
            path: "Examples/seal-and-read",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialVaultTests",
            dependencies: [
                "CredentialVault",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            exclude: ["Golden"],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CredentialVaultSQLiteTests",
            dependencies: [
                "CredentialVault",
                "CredentialVaultSQLite",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "InMemoryLogging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CLITests",
            dependencies: ["sendcloud-vault"],
            swiftSettings: swiftSettings
        ),
    ]
)
