import CredentialVault
import CredentialVaultPostgres
import Foundation
import Logging
import PostgresNIO
import TestSupport

/// Stores on the test server, each in a schema of its own.
enum PostgresSupport {
    static func location(schema: String = PostgresTestServer.uniqueSchema()) throws -> PostgresLocation {
        let server = try PostgresTestServer.configured()
        return try PostgresLocation(url: server.url(schema: schema))
    }

    static func password() throws -> String { try PostgresTestServer.configured().password }

    static func store(
        _ location: PostgresLocation,
        create: Bool = false,
        configuration: PostgresCredentialStore.Configuration = .init()
    ) async throws -> PostgresCredentialStore {
        try await PostgresCredentialStore.connect(
            to: location,
            password: try password(),
            create: create,
            configuration: configuration
        )
    }

    /// Runs `sql` on a connection of its own, as someone with write access to the database (not through the store).
    static func execute(_ query: PostgresQuery) async throws {
        let server = try PostgresTestServer.configured()
        let connection = try await PostgresConnection.connect(
            configuration: .init(
                host: server.host,
                port: server.port,
                username: server.user,
                password: server.password,
                database: server.database,
                tls: .disable
            ),
            id: 1,
            logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() }
        )
        do {
            try await connection.query(query, logger: Logger(label: "test") { _ in SwiftLogNoOpLogHandler() })
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
    }
}
