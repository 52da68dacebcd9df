/// Everything the fake server remembers, guarded by the `Mutex` in `FakeSendcloudCore`.
struct FakeSendcloudState: Sendable {
    struct AccessToken: Sendable {
        var clientID: String
        var chainID: Int?
        var scope: String
        var expiresAt: ContinuousClock.Instant
        var revoked = false
    }

    enum RefreshTokenStatus: Sendable {
        case active
        /// Rotated away; presenting it again is reuse and revokes the chain.
        case used
    }

    struct RefreshToken: Sendable {
        var clientID: String
        var chainID: Int
        var status: RefreshTokenStatus
    }

    /// One authorization (a consent, in Hydra's terms): the tokens issued from one code or one
    /// `issueRefreshToken` call, and every token rotated from them.
    struct Chain: Sendable {
        var clientID: String
        var scope: String
        var revoked = false
        var accessTokens: [String] = []
        var refreshTokens: [String] = []
    }

    enum CodeStatus: Sendable {
        case unused
        /// Exchanged successfully; presenting it again revokes the tokens issued from it.
        case used(chainID: Int)
        /// Its PKCE data was consumed by a failed verifier check (Hydra deletes it before comparing).
        case burned
    }

    struct AuthorizationCode: Sendable {
        var clientID: String
        var redirectURI: String
        var codeChallenge: String
        var scope: String
        var status: CodeStatus = .unused
    }

    var clients: [String: String] = [:]
    /// A stable number per client id, in order of first registration: the `integration_id` of the API stand-in.
    var clientNumbers: [String: Int] = [:]
    /// Registers an unknown client id with the first secret presented for it (local development only).
    var acceptsAnyClient = false
    var accessTokenLifetime = 3600
    var rotatesRefreshTokens = true
    var queuedTokenFaults: [FakeSendcloud.Fault] = []
    var queuedAuthorizeFaults: [FakeSendcloud.Fault] = []
    var permanentFault: FakeSendcloud.Fault?
    var stats = FakeSendcloud.Stats()
    var tokenRequestsInFlight = 0
    var tokenRequestArrivals: [ContinuousClock.Instant] = []
    var receivedForms: [[String: String]] = []
    var receivedAuthorizationHeaders: [String] = []
    var accessTokens: [String: AccessToken] = [:]
    var refreshTokens: [String: RefreshToken] = [:]
    var chains: [Int: Chain] = [:]
    var nextChainID = 1
    var codes: [String: AuthorizationCode] = [:]
    var stopping = false
    /// Raised by `releaseHeldRequests()`: the delays that began under an older value end at once.
    var releases = 0

    // MARK: Clients

    /// Registers (or replaces) `id` with `secret`; its number stays the one it got first.
    mutating func register(clientID id: String, secret: String) {
        clients[id] = secret
        if clientNumbers[id] == nil { clientNumbers[id] = clientNumbers.count + 1 }
    }

    // MARK: Faults

    mutating func enqueue(_ faults: [FakeSendcloud.Fault]) {
        for fault in faults {
            if fault == .wrongState {
                queuedAuthorizeFaults.append(fault)
            } else {
                queuedTokenFaults.append(fault)
            }
        }
    }

    /// The fault for the next token request: a queued one first, else the permanent one.
    mutating func takeTokenFault() -> FakeSendcloud.Fault? {
        if !queuedTokenFaults.isEmpty {
            return queuedTokenFaults.removeFirst()
        }
        if let permanentFault, permanentFault != .wrongState {
            return permanentFault
        }
        return nil
    }

    /// The fault for the next authorize request (only `.wrongState` applies there).
    mutating func takeAuthorizeFault() -> FakeSendcloud.Fault? {
        if !queuedAuthorizeFaults.isEmpty {
            return queuedAuthorizeFaults.removeFirst()
        }
        return permanentFault == .wrongState ? .wrongState : nil
    }

    // MARK: Tokens

    mutating func makeChain(clientID: String, scope: String) -> Int {
        let id = nextChainID
        nextChainID += 1
        chains[id] = Chain(clientID: clientID, scope: scope)
        return id
    }

    mutating func issueAccessToken(clientID: String, chainID: Int?, scope: String) -> String {
        let token = Encoding.randomToken(prefix: "at_")
        let expiresAt = ContinuousClock.now.advanced(by: .seconds(accessTokenLifetime))
        accessTokens[token] = AccessToken(clientID: clientID, chainID: chainID, scope: scope, expiresAt: expiresAt)
        if let chainID {
            chains[chainID]?.accessTokens.append(token)
        }
        return token
    }

    mutating func issueRefreshToken(clientID: String, chainID: Int) -> String {
        let token = Encoding.randomToken(prefix: "rt_")
        refreshTokens[token] = RefreshToken(clientID: clientID, chainID: chainID, status: .active)
        chains[chainID]?.refreshTokens.append(token)
        return token
    }

    /// Revokes the access tokens issued so far in a chain (Hydra does this on every refresh).
    mutating func revokeAccessTokens(ofChain chainID: Int) {
        for token in chains[chainID]?.accessTokens ?? [] {
            accessTokens[token]?.revoked = true
        }
    }

    /// Revokes a whole chain: every refresh token and access token in it.
    mutating func revokeChain(_ chainID: Int) {
        chains[chainID]?.revoked = true
        revokeAccessTokens(ofChain: chainID)
    }

    /// Revokes every chain of `clientID`; returns how many were not revoked yet.
    mutating func revokeChains(ofClient clientID: String) -> Int {
        var revoked = 0
        for (id, chain) in chains where chain.clientID == clientID {
            if !chain.revoked { revoked += 1 }
            revokeChain(id)
        }
        return revoked
    }

    func isAccessTokenValid(_ token: String) -> Bool {
        guard let record = accessTokens[token], !record.revoked else { return false }
        if let chainID = record.chainID, chains[chainID]?.revoked ?? true { return false }
        return ContinuousClock.now < record.expiresAt
    }

    func isRefreshTokenActive(_ token: String) -> Bool {
        guard let record = refreshTokens[token], record.status == .active else { return false }
        return !(chains[record.chainID]?.revoked ?? true)
    }
}
