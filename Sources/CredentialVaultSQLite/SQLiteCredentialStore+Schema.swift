import CredentialVault
import GRDB

// The schema: versioned migrations, applied at creation and — for a vault made by an earlier version — at open.
extension SQLiteCredentialStore {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(
                sql: """
                    CREATE TABLE vault_header (
                        id INTEGER PRIMARY KEY CHECK (id = 1),
                        vault_id BLOB NOT NULL,
                        format_version INTEGER NOT NULL,
                        key_id INTEGER NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE key_slot (
                        id INTEGER PRIMARY KEY AUTOINCREMENT,
                        kind TEXT NOT NULL,
                        salt BLOB,
                        ops_limit INTEGER,
                        mem_limit INTEGER,
                        key_id INTEGER NOT NULL,
                        wrapped_key BLOB NOT NULL,
                        created_at REAL NOT NULL
                    );
                    CREATE TABLE account (
                        name TEXT NOT NULL PRIMARY KEY,
                        mode TEXT NOT NULL,
                        client_id TEXT NOT NULL,
                        scopes TEXT,
                        token_url TEXT NOT NULL,
                        key_id INTEGER NOT NULL,
                        client_secret BLOB,
                        refresh_token BLOB,
                        access_token BLOB,
                        access_token_expires_at REAL,
                        status TEXT NOT NULL,
                        last_error TEXT,
                        generation INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        refreshed_at REAL
                    ) WITHOUT ROWID;
                    """
            )
        }
        // The refresher's query (DueAccountQuery): by expiry and by last refresh, through indexes; and the time
        // before which a failing account is left alone.
        migrator.registerMigration("v2-due-accounts") { db in
            try db.execute(
                sql: """
                    ALTER TABLE account ADD COLUMN next_attempt_at REAL;
                    CREATE INDEX account_by_expiry ON account (access_token_expires_at);
                    CREATE INDEX account_by_refresh ON account (refreshed_at);
                    """
            )
        }
        // Backends (DESIGN §7): the count of failed refreshes in a row that the backoff grows with; an index for
        // the counts by status (covering: the gauge's query reads no account row); single-use claims (an OAuth
        // `state` presented once, across processes), pruned by expiry.
        migrator.registerMigration("v3-failures-counts-single-use") { db in
            try db.execute(
                sql: """
                    ALTER TABLE account ADD COLUMN consecutive_failures INTEGER;
                    CREATE INDEX account_by_status ON account (status, next_attempt_at);
                    CREATE TABLE single_use (
                        key BLOB NOT NULL PRIMARY KEY,
                        expires_at REAL NOT NULL
                    ) WITHOUT ROWID;
                    CREATE INDEX single_use_by_expiry ON single_use (expires_at);
                    """
            )
        }
        // Where the vault was created (CredentialStore.storageLocation), for verify's warning about copies.
        migrator.registerMigration("v4-location") { db in
            try db.execute(sql: "ALTER TABLE vault_header ADD COLUMN location TEXT")
        }
        // A key slot's label and a key-file slot's fingerprint (`key list`), both bound into the slot's wrap.
        migrator.registerMigration("v5-slot-label") { db in
            try db.execute(sql: "ALTER TABLE key_slot ADD COLUMN label TEXT")
            try db.execute(sql: "ALTER TABLE key_slot ADD COLUMN fingerprint TEXT")
        }
        // Compact rows (BENCHMARKS.md, "Scale"): a `WITHOUT ROWID` table is an index b-tree, whose cells keep at most
        // about a quarter of a page (1,002 bytes of 4,096) on the page; an account of about 1.2 KB spilled the rest
        // to an overflow page of its own, so each account took about 4.6 KB on disk. In a rowid table a cell keeps
        // up to 4,061 bytes on the page: three accounts share a page. The metadata columns come first and the
        // sealed values last, so a read of the metadata alone (the due-accounts query, counts) stops before them.
        // The table is rebuilt in this migration's transaction; its old pages are zeroed (`secure_delete`) and
        // reused, the file does not shrink (`VACUUM` does that, off line).
        migrator.registerMigration("v6-compact-rows") { db in
            // A literal, as a migration must be: it copies the columns that existed at this step, whatever
            // `AccountColumn` holds in later versions.
            let columns = """
                name, mode, client_id, scopes, token_url, key_id, access_token_expires_at, status, last_error, \
                generation, created_at, updated_at, refreshed_at, next_attempt_at, consecutive_failures, \
                client_secret, refresh_token, access_token
                """
            try db.execute(
                sql: """
                    CREATE TABLE account_v6 (
                        name TEXT NOT NULL PRIMARY KEY,
                        mode TEXT NOT NULL,
                        client_id TEXT NOT NULL,
                        scopes TEXT,
                        token_url TEXT NOT NULL,
                        key_id INTEGER NOT NULL,
                        access_token_expires_at REAL,
                        status TEXT NOT NULL,
                        last_error TEXT,
                        generation INTEGER NOT NULL,
                        created_at REAL NOT NULL,
                        updated_at REAL NOT NULL,
                        refreshed_at REAL,
                        next_attempt_at REAL,
                        consecutive_failures INTEGER,
                        client_secret BLOB,
                        refresh_token BLOB,
                        access_token BLOB
                    );
                    INSERT INTO account_v6 (\(columns)) SELECT \(columns) FROM account ORDER BY name;
                    DROP TABLE account;
                    ALTER TABLE account_v6 RENAME TO account;
                    CREATE INDEX account_by_expiry ON account (access_token_expires_at);
                    CREATE INDEX account_by_refresh ON account (refreshed_at);
                    CREATE INDEX account_by_status ON account (status, next_attempt_at);
                    """
            )
        }
        return migrator
    }

    /// The connection's `PRAGMA synchronous` (2 = FULL), for tests.
    func synchronousSetting() throws -> Int {
        try queue.read { try Int.fetchOne($0, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The connection's `PRAGMA secure_delete` (1 = ON), for tests.
    func secureDeleteSetting() throws -> Int {
        try queue.read { try Int.fetchOne($0, sql: "PRAGMA secure_delete") ?? -1 }
    }

    /// The file's journal mode (`wal`), for tests.
    func journalMode() throws -> String {
        try queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") ?? "" }
    }

    /// The query plan of the counts-by-status query, for the test that it reads only the status index.
    func accountStatusCountsQueryPlan() throws -> [String] {
        try queue.read { db in
            try Row.fetchAll(
                db,
                sql: "EXPLAIN QUERY PLAN " + Self.accountStatusCountsSQL,
                arguments: Self.arguments([.real(0), .real(DueAccountQuery.latestValidDate)])
            ).map { $0["detail"] ?? "" }
        }
    }

    /// The query plan of the due-accounts query, for the test that it uses the indexes.
    func dueAccountsQueryPlan(_ query: DueAccountQuery) throws -> [String] {
        try queue.read { db in
            let (sql, arguments) = Self.dueAccountsSQL(query)
            return try Row.fetchAll(db, sql: "EXPLAIN QUERY PLAN " + sql, arguments: arguments).map {
                $0["detail"] ?? ""
            }
        }
    }
}
