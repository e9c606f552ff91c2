import Hummingbird
import Logging

/// Serves `router` on 127.0.0.1 at a free port for the length of `body` (a subscriber, a
/// Graph API stand-in): `body` gets the port; the server stops when it returns.
public func withLoopbackServer(
    _ router: Router<BasicRequestContext>, label: String = "loopback", _ body: @Sendable (Int) async throws -> Void
) async throws {
    let (ports, continuation) = AsyncStream<Int>.makeStream()
    var logger = Logger(label: label)
    logger.logLevel = .critical
    let app = Application(
        router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
        onServerRunning: { channel in
            continuation.yield(channel.localAddress?.port ?? 0)
            continuation.finish()
        },
        logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService() }
        var port = 0
        for await value in ports { port = value }
        defer { group.cancelAll() }
        try await body(port)
    }
}
