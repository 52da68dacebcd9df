public import AsyncHTTPClient
public import SendcloudTesting

/// Runs `body` with `resource`, then `close`s it, whether `body` returned or threw (the error is rethrown).
public func withClosing<Resource, Result>(
    _ resource: Resource,
    close: (Resource) async -> Void,
    _ body: (Resource) async throws -> Result
) async throws -> Result {
    let result: Result
    do {
        result = try await body(resource)
    } catch {
        await close(resource)
        throw error
    }
    await close(resource)
    return result
}

extension FakeSendcloud {
    /// Starts a server with `clients` (client id → secret) registered: ``FakeSendcloud/start(host:port:clients:logger:)``
    /// on a free loopback port, under the name the tests use.
    public static func start(registering clients: [String: String]) async throws -> FakeSendcloud {
        try await start(clients: clients)
    }
}

/// Starts a fake Sendcloud with `clients` (client id → secret) registered, runs `body` with it and always stops it.
public func withFakeSendcloud<Result>(
    clients: [String: String] = [:],
    _ body: (FakeSendcloud) async throws -> Result
) async throws -> Result {
    try await withClosing(try await FakeSendcloud.start(registering: clients), close: { await $0.stop() }, body)
}

/// Runs `body` with a new `HTTPClient` that follows no redirects (tests play the browser step by step), and always
/// shuts the client down.
public func withHTTPClient<Result>(_ body: (HTTPClient) async throws -> Result) async throws -> Result {
    try await withClosing(makeNonRedirectingHTTPClient(), close: { try? await $0.shutdown() }, body)
}

/// A new `HTTPClient` on the shared event loop group that follows no redirects. The caller shuts it down.
public func makeNonRedirectingHTTPClient() -> HTTPClient {
    HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
}
