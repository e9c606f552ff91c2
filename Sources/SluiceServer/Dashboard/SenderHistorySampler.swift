import ServiceLifecycle
import SluiceCore
import SluiceEngine

/// Reads every sender's cumulative counters from the dispatch loop once a second into a
/// `SenderHistory`, so that a dashboard opened late still sees the last ten minutes. Run
/// it as a service beside the API (`serve` does); the dashboard's stream reads it.
public final class SenderHistorySampler: Service, Sendable {
    public static let intervalMilliseconds: Int64 = 1_000

    let dispatcher: Dispatcher
    private let history = Locked(SenderHistory())

    public init(dispatcher: Dispatcher) {
        self.dispatcher = dispatcher
    }

    /// Samples on every whole second of the wall clock until graceful shutdown or cancellation.
    public func run() async throws {
        await cancelWhenGracefulShutdown { [self] in
            while !Task.isCancelled {
                let now = SystemClock().wallMilliseconds()
                sample(second: now / 1_000)
                let wait = Self.intervalMilliseconds - now % Self.intervalMilliseconds
                try? await Task.sleep(for: .milliseconds(wait))
            }
        }
    }

    /// One reading of the dispatch loop's counters, stamped `second`.
    public func sample(second: Int64) {
        let readings = dispatcher.senderSnapshots().map {
            SenderHistory.Counters(phoneNumberID: $0.phoneNumberID, sent: $0.sent, throttled: $0.throttled)
        }
        history.withLock { $0.record(readings, second: second) }
    }

    public func samples(_ phoneNumberID: String) -> SenderHistory.Samples? {
        history.withLock { $0.samples(phoneNumberID) }
    }
}
