import Logging
import ServiceLifecycle

/// Runs the status deadline (`Dispatcher.sweepStatusDeadlines`) every
/// `statusSweepIntervalMilliseconds`, back to back while a pass is unfinished, until
/// graceful shutdown. Put it after the `DispatcherService` in the group, so that it stops
/// before the journal closes.
public struct StatusDeadlineService: Service {
    public let dispatcher: Dispatcher
    let logger: Logger

    public init(dispatcher: Dispatcher, logger: Logger = Logger(label: "sluice.deadline")) {
        self.dispatcher = dispatcher
        self.logger = logger
    }

    public func run() async throws {
        let interval = dispatcher.configuration.statusSweepIntervalMilliseconds
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                var more = false
                do {
                    let step = try await dispatcher.sweepStatusDeadlines()
                    more = step.more
                    if step.unknown > 0 {
                        logger.info("\(step.unknown) message(s) got no delivery status within the status deadline: now unknown")
                    }
                } catch {
                    logger.error("status deadline sweep failed: \(error)")
                }
                try? await Task.sleep(for: .milliseconds(more ? 10 : interval))
            }
        }
    }
}
