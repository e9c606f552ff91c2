import Dispatch
import SluiceCore

/// What fault injection decided for one request.
enum FaultDecision: Sendable, Equatable {
    case none
    /// Answer this Meta error instead of serving the send.
    case answer(MetaError)
    /// Hold the request this long, then close without answering.
    case hang(Duration)
    /// Close the connection without answering.
    case reset
    /// Inside a storm window: answer 130429 (counted apart from the over-tier ones).
    case storm
}

/// Draws faults and latencies from the profile's seeded generator (one lock per request).
final class FaultInjector: Sendable {
    let profile: FaultProfile
    private let generator: Locked<SeededGenerator>
    /// Monotonic start of the storm schedule.
    private let startNanoseconds: UInt64

    init(profile: FaultProfile, startNanoseconds: UInt64 = DispatchTime.now().uptimeNanoseconds) {
        self.profile = profile
        self.generator = Locked(SeededGenerator(seed: profile.seed))
        self.startNanoseconds = startNanoseconds
    }

    /// Milliseconds since the storm schedule started (its windows begin at multiples of
    /// `every_ms`); nil without a storm.
    func stormElapsedMilliseconds(nowNanoseconds: UInt64 = DispatchTime.now().uptimeNanoseconds) -> Int64? {
        guard profile.storm != nil else { return nil }
        return Int64(bitPattern: nowNanoseconds &- startNanoseconds) / 1_000_000
    }

    /// The fault for the next request and the latency to add before any answer, in milliseconds.
    func draw(nowNanoseconds: UInt64 = DispatchTime.now().uptimeNanoseconds) -> (decision: FaultDecision, latencyMilliseconds: Double) {
        if profile.isInert { return (.none, 0) }
        let storming = profile.storm?.isRaging(elapsedNanoseconds: Int64(bitPattern: nowNanoseconds &- startNanoseconds)) ?? false
        return generator.withLock { generator in
            // Always draw both, so the sequence does not depend on which fault came up.
            let roll = generator.unit()
            let latency = profile.latency.sample(using: &generator)
            let coin = generator.unit()
            if storming { return (.storm, latency) }
            return (Self.decide(roll: roll, coin: coin, profile: profile), latency)
        }
    }

    static func decide(roll: Double, coin: Double, profile: FaultProfile) -> FaultDecision {
        var edge = profile.serverErrorShare
        if roll < edge { return .answer(coin < 0.5 ? .unknownServerError() : .serviceUnavailable()) }
        for entry in profile.errorMix {
            edge += entry.share
            if roll < edge { return .answer(.injected(code: entry.code)) }
        }
        edge += profile.hangShare
        if roll < edge { return .hang(.milliseconds(profile.hangMilliseconds)) }
        edge += profile.resetShare
        if roll < edge { return .reset }
        return .none
    }
}
