import Foundation
import SendcloudTesting
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#endif

extension PostgresCLITests {
    /// Several instances sharing one PostgreSQL vault: single flight across processes that share nothing but the
    /// database (DESIGN §5), a lock holder that dies, and the database restarting under a stream of calls.
    @Suite("Instances sharing a PostgreSQL vault")
    struct Instances {
        static let clientID = "pg-instances-client"
        static let clientSecret = "pg-instances-secret-VALUE-31"

        let pg: PostgresVault
        let fake: FakeSendcloud

        init() async throws {
            pg = try PostgresVault()
            fake = try await FakeSendcloud.start(registering: [Self.clientID: Self.clientSecret])
            try await pg.initVault()
        }

        func finish() async {
            await fake.stop()
            await pg.dropSchema()
        }

        @discardableResult
        func addAccount(_ name: String = "acme") async throws -> String {
            try await pg.addRefreshAccount(name, fake: fake, clientID: Self.clientID, secret: Self.clientSecret)
        }

        @Test(
            "6 instances (own HOME, TMPDIR, key file copy) ask `token` at once: 1 refresh_token request, the same token for all",
            arguments: ["no access token yet", "an expired access token"]
        )
        func sixInstances(start: String) async throws {
            try await addAccount()
            if start == "an expired access token" {
                // A stored token valid for 1 s is within the 60 s skew: the next `token` must refresh.
                fake.setAccessTokenLifetime(seconds: 1)
                try await pg.succeed(["refresh", "acme"])
                fake.setAccessTokenLifetime(seconds: 3600)
                fake.resetStats()
            }
            // Proof of overlap: the first token request is held at the endpoint, and while it is held every instance
            // must be at the account's lock on the database (waiting for it, or — the one whose request is held —
            // holding it; PostgresVault.atLock matches each process's own connections). Only then is the request let
            // go. The hold (17 s, ended early by releaseHeldRequests) stays below the CLI's 20 s request timeout,
            // after which it would retry; on this machine the instances reach the lock within a few seconds.
            fake.injectFaults([.slow(seconds: 17)])
            let instances = try (0..<6).map { try pg.startInstance($0, ["token", "acme"]) }
            var seen: (pids: Set<Int32>, activity: String) = ([], "")
            let overlapped = try await eventually(within: 14) {
                guard fake.stats.tokenRequests >= 1 else { return false }
                seen = try await pg.atLock(instances)
                return seen.pids.count == instances.count
            }
            #expect(
                overlapped,
                "while the first token request was held, \(seen.pids.count) of \(instances.count) instances were at the lock \(seen.pids.sorted()); \(seen.activity)"
            )
            let heldRequests = fake.stats.tokenRequests
            fake.releaseHeldRequests()
            #expect(heldRequests == 1, "\(heldRequests) token requests while the first was held")

            var results: [CLIResult] = []
            for instance in instances { results.append(try await instance.wait()) }
            #expect(results.allSatisfy { $0.status == 0 }, "\(results.filter { $0.status != 0 })")
            let outputs = Set(results.map(\.stdout))
            #expect(outputs.count == 1, "the instances printed \(outputs.count) different outputs")
            let token = try #require(outputs.first).trimmingCharacters(in: .newlines)
            #expect(fake.isAccessTokenValid(token))
            #expect(fake.stats.refreshGrants == 1)
            #expect(fake.stats.tokenRequests == 1)
            #expect(fake.stats.invalidGrant == 0)
            for result in results { expectNoSecrets(result, [Self.clientSecret, pg.server.password]) }
            #expect(!results.contains { $0.stderr.contains(token) })
            // The vault holds what was printed, and the rotated refresh token.
            let shown = try await pg.reveal("acme")
            #expect(shown["access_token"] as? String == token)
            #expect(fake.isRefreshTokenActive(try #require(shown["refresh_token"] as? String)))
            print(
                "PostgreSQL single flight (\(start)): 6 instances, \(seen.pids.count) seen at the lock -> "
                    + "\(fake.stats.tokenRequests) token request(s), \(fake.stats.invalidGrant) invalid_grant"
            )
            await finish()
        }

        @Test(
            "the lock holder is SIGKILLed mid-refresh before the server used the grant: the next call takes the lock and gets a token (0)"
        )
        func holderKilledBeforeTheGrantWasUsed() async throws {
            let rt = try await addAccount()
            // The request waits at the endpoint, unprocessed: the refresh token is still unused when the holder dies.
            fake.injectFaults([.slow(seconds: 300)])
            let holder = try pg.startInstance(0, ["token", "acme"])
            let arrived = try await eventually(within: 60) { fake.stats.tokenRequests == 1 }
            try #require(arrived, "the holder's refresh never reached the endpoint")
            #expect(fake.stats.refreshGrants == 0)
            holder.kill()
            _ = try await holder.wait()
            #expect(holder.killedBySignal)

            try await pg.succeed(["verify"])
            // The server ends a dead session's advisory locks, and the dead holder's lease, no longer renewed, expires
            // within 10 s (the store's default lease; this is why these tests take some 10 s): the next call gets the
            // lock well within the 60 s lock timeout (a timed-out wait would be 75) and, the grant unused, refreshes.
            let next = try await pg.run(["token", "acme"])
            #expect(next.status == 0, "\(next)")
            let token = next.stdout.trimmingCharacters(in: .newlines)
            #expect(fake.isAccessTokenValid(token))
            #expect(fake.stats.refreshGrants == 1)
            #expect(fake.stats.invalidGrant == 0)
            // Only now let the dead process's request go on at the fake (a reuse of the old grant there).
            fake.releaseHeldRequests()
            try await pg.succeed(["verify"])
            let shown = try await pg.reveal("acme")
            #expect(shown["status"] as? String == "ok")
            #expect(shown["access_token"] as? String == token)
            #expect(shown["client_secret"] as? String == Self.clientSecret)
            #expect(shown["refresh_token"] as? String != rt)
            await finish()
        }

        @Test(
            "the lock holder is SIGKILLed after the server rotated the refresh token: the next call takes the lock, reports reauth-required (80), the client secret kept"
        )
        func holderKilledAfterRotation() async throws {
            let rt = try await addAccount()
            // The server processes the grant (the rotation is committed there), then holds the connection open.
            fake.injectFaults([.dropAfterProcessing(delay: 300)])
            let holder = try pg.startInstance(0, ["token", "acme"])
            let rotated = try await eventually(within: 60) { fake.stats.refreshGrants == 1 }
            try #require(rotated, "the holder's refresh never reached the endpoint")
            #expect(!fake.isRefreshTokenActive(rt))
            holder.kill()
            _ = try await holder.wait()
            #expect(holder.killedBySignal)
            fake.releaseHeldRequests()

            try await pg.succeed(["verify"])
            #expect(try await pg.reveal("acme")["refresh_token"] as? String == rt)
            // The lost-rotation case of DESIGN §5: the next call takes the dead holder's lock once its lease expired
            // (not a 75 lock timeout) and presents the rotated-away token.
            let next = try await pg.run(["token", "acme"])
            expectFailure(next, 80)
            #expect(next.stdout.isEmpty)
            #expect(fake.stats.invalidGrant == 1)
            let shown = try await pg.reveal("acme")
            #expect(shown["status"] as? String == "reauth-required")
            #expect(shown["refresh_token"] as? String == rt)
            #expect(shown["client_secret"] as? String == Self.clientSecret)
            try await pg.succeed(["verify"])
            // Later calls do not contact the server.
            let requests = fake.stats.tokenRequests
            expectFailure(try await pg.run(["token", "acme"]), 80)
            #expect(fake.stats.tokenRequests == requests)
            await finish()
        }

        @Test("SIGKILL of `token` at random moments: verify passes, the next call exits 0 or 80 (lost rotation)")
        func killedAtRandomMoments() async throws {
            try await addAccount()
            var outcomes: [Int32: Int] = [:]
            for round in 0..<6 {
                fake.injectFaults([.slow(seconds: Double.random(in: 0...0.3))])
                let process = try pg.startInstance(round, ["token", "acme"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...600)))
                process.kill()
                _ = try await process.wait()
                // Let a request the killed process left at the fake finish there (the fake, unlike a server that
                // cancels work when the client goes away, still processes it), and drop an unconsumed fault.
                fake.releaseHeldRequests()
                _ = try await eventually(within: 5) {
                    let stats = fake.stats
                    return stats.refreshGrants + stats.invalidGrant >= fake.tokenRequestArrivals.count
                }
                fake.clearFaults()
                try await pg.succeed(["verify"])
                let next = try await pg.run(["token", "acme"])
                outcomes[next.status, default: 0] += 1
                #expect(next.status == 0 || next.status == 80, "\(next)")
                if next.status == 80 {
                    let shown = try await pg.reveal("acme")
                    #expect(shown["client_secret"] as? String == Self.clientSecret)
                    try await pg.succeed(["remove", "acme", "--yes"])
                    try await addAccount()
                } else {
                    // A stored token within the skew, so that the next round refreshes again.
                    fake.setAccessTokenLifetime(seconds: 1)
                    try await pg.succeed(["refresh", "acme"])
                    fake.setAccessTokenLifetime(seconds: 3600)
                }
            }
            print("PostgreSQL SIGKILL rounds: next call exit codes \(outcomes.sorted { $0.key < $1.key })")
            await finish()
        }

        @Test(
            "the server restarts 3 times under a stream of refreshing `token` calls, once in the middle of a refresh: each exits 0 or 75, nothing committed is lost, calls work again"
        )
        func serverRestart() async throws {
            // A server of its own: the shared one stays up for the tests running beside this one.
            let privateServer = try await offThread { try PostgresTestServer.startPrivate() }
            defer { privateServer.stopPrivate() }
            let pg = try PostgresVault(server: privateServer)
            try await pg.initVault()
            try await pg.addRefreshAccount("acme", fake: fake, clientID: Self.clientID, secret: Self.clientSecret)
            // Tokens valid for 1 s are within the skew: every call refreshes (a read, a token request, a CAS write).
            fake.setAccessTokenLifetime(seconds: 1)
            let stream = CallStream()
            let restarts = ["between calls", "while a refresh is held at the endpoint", "between calls"]
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        while !stream.stop.load(ordering: .acquiring) {
                            let epoch = stream.restarts.load(ordering: .acquiring)
                            let result = try await pg.run(["token", "acme"])
                            stream.results.withLock { $0.append((result, epoch)) }
                        }
                    }
                }
                // Whatever happens below, the callers stop (else the group would wait for them forever).
                defer { stream.stop.store(true, ordering: .releasing) }
                let before = try await eventually(within: 60) { stream.successes(since: 0) >= 4 }
                try #require(before, "no calls completed before the first restart")
                for (index, moment) in restarts.enumerated() {
                    if moment == "while a refresh is held at the endpoint" {
                        // A caller's refresh waits at the endpoint, its grant unused, while every session — its lock's
                        // included — is cut. The other caller may take the advisory lock over a new session, but must
                        // not refresh with the same refresh token (the holder's lease keeps it out): a second use
                        // would show as invalid_grant once the held request goes on. Held for less than the CLI's
                        // 20 s request timeout and the 10 s lease.
                        let served = fake.stats.faultsServed
                        fake.injectFaults([.slow(seconds: 15)])
                        let held = try await eventually(within: 30) { fake.stats.faultsServed > served }
                        try #require(held, "no refresh reached the endpoint to be held")
                        let requests = fake.stats.tokenRequests
                        try await pg.restartServer()
                        try await Task.sleep(for: .seconds(2))
                        // The direct sign of a second use: another request at the endpoint while the grant is held.
                        #expect(
                            fake.stats.tokenRequests == requests,
                            "a token request arrived while another caller's refresh was held across the restart"
                        )
                        fake.releaseHeldRequests()
                    } else {
                        try await pg.restartServer()
                    }
                    stream.restarts.store(index + 1, ordering: .releasing)
                    let after = try await eventually(within: 60) { stream.successes(since: index + 1) >= 2 }
                    #expect(after, "calls did not succeed again after restart \(index + 1) (\(moment))")
                }
            }
            let all = stream.results.withLock { $0 }
            let statuses = all.reduce(into: [Int32: Int]()) { $0[$1.result.status, default: 0] += 1 }
            for (result, _) in all {
                #expect(result.status == 0 || result.status == 75, "\(result)")
                if result.status == 75 { #expect(result.stderr.contains(pg.server.host), "\(result)") }
                expectNoSecrets(result, [Self.clientSecret, pg.server.password])
            }
            try await pg.succeed(["verify"])
            fake.setAccessTokenLifetime(seconds: 3600)
            let last = try await pg.succeed(["token", "acme"])
            #expect(fake.isAccessTokenValid(last.stdout.trimmingCharacters(in: .newlines)))
            #expect(fake.stats.invalidGrant == 0)
            let shown = try await pg.reveal("acme")
            #expect(shown["status"] as? String == "ok")
            #expect(fake.isRefreshTokenActive(try #require(shown["refresh_token"] as? String)))
            print(
                "PostgreSQL \(restarts.count) restarts under load: \(all.count) calls, exit codes "
                    + "\(statuses.sorted { $0.key < $1.key }), \(fake.stats.refreshGrants) refreshes, "
                    + "\(fake.stats.invalidGrant) invalid_grant; the 75s said: "
                    + "\(Set(all.filter { $0.result.status == 75 }.map { $0.result.stderr.trimmingCharacters(in: .newlines) }))"
            )
            await finish()
        }
    }
}

/// The shared state of ``PostgresCLITests/Instances/serverRestart()``'s callers.
private final class CallStream: Sendable {
    /// How many restarts had completed.
    let restarts = Atomic(0)
    let stop = Atomic(false)
    /// Every call's result, with the number of restarts completed when it started.
    let results = Mutex<[(result: CLIResult, epoch: Int)]>([])

    /// How many calls that started after `epoch` restarts exited 0.
    func successes(since epoch: Int) -> Int {
        results.withLock { all in all.filter { $0.epoch >= epoch && $0.result.status == 0 }.count }
    }
}
