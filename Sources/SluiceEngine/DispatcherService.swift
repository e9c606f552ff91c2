import ServiceLifecycle

/// Runs a `Dispatcher` inside a `ServiceGroup`: on graceful shutdown (SIGTERM, SIGINT)
/// it drains in-flight requests and commits before the group ends.
public struct DispatcherService: Service {
    public let dispatcher: Dispatcher
    public init(dispatcher: Dispatcher) { self.dispatcher = dispatcher }

    public func run() async throws {
        try? await gracefulShutdown()
        await dispatcher.shutdown()
    }
}
