import Logging
import ServiceLifecycle

/// Runs retention (`Dispatcher.sweepRetention`, `sweepMediaRetention`, `sweepInboundRetention`) every `retentionSweepIntervalMilliseconds`
/// until graceful shutdown; does nothing when `retentionMilliseconds` is 0. Put it after
/// the `DispatcherService` in the group, so that it stops before the journal closes.
public struct RetentionService: Service {
    public let dispatcher: Dispatcher
    let logger: Logger

    public init(dispatcher: Dispatcher, logger: Logger = Logger(label: "sluice.retention")) {
        self.dispatcher = dispatcher
        self.logger = logger
    }

    public func run() async throws {
        guard dispatcher.configuration.retentionMilliseconds > 0 else {
            // Returning would end the service group: wait for shutdown instead.
            try? await gracefulShutdown()
            return
        }
        let interval = dispatcher.configuration.retentionSweepIntervalMilliseconds
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                do {
                    let step = try await dispatcher.sweepRetention()
                    if !step.campaigns.isEmpty {
                        logger.info("retention: removed \(step.campaigns.count) finished campaign(s) and \(step.messages) message(s) older than \(dispatcher.configuration.retentionMilliseconds / 86_400_000) day(s)")
                    }
                    let media = try await dispatcher.sweepMediaRetention(
                        cutoffMilliseconds: dispatcher.clock.wallMilliseconds() - dispatcher.configuration.retentionMilliseconds)
                    if media.records > 0 {
                        logger.info("retention: removed \(media.records) media record(s) and \(media.files) file(s) from the media volume")
                    }
                    let inbound = try await dispatcher.sweepInboundRetention(
                        cutoffMilliseconds: dispatcher.clock.wallMilliseconds() - dispatcher.configuration.retentionMilliseconds)
                    if inbound > 0 { logger.info("retention: removed \(inbound) incoming message(s)") }
                } catch {
                    logger.error("retention pass failed: \(error)")
                }
                try? await Task.sleep(for: .milliseconds(interval))
            }
        }
    }
}
