import Testing
@testable import SluiceLoadTest

/// Backoff and recovery judged from sampled paced rates, against the rate controller's
/// promise (halve on a throttle, 5 % of the tier back per second).
@Suite struct StormAnalysisTests {
    /// Windows at 10 s and 40 s after the campaign's origin, 1 s long.
    let schedule = StormSchedule(everyMilliseconds: 30_000, durationMilliseconds: 1_000, originNanoseconds: origin - 20 * second)

    /// A sample every 0.5 s from 0 to `until` seconds: `rate(t)` paced, `answers(t)` storm answers so far.
    func samples(until: Double, rate: (Double) -> Double, answers: (Double) -> Int) -> [RateSample] {
        stride(from: 0.0, through: until, by: 0.5).map {
            RateSample(atNanoseconds: origin + Int64($0 * 1e9), effectiveMessagesPerSecond: rate($0), stormAnswers: answers($0))
        }
    }

    /// Halved at 10.5 s, then +4 msg/s a second from 12 s: back at 80 at 21 s.
    func aimd(_ t: Double) -> Double { t < 10.5 ? 80 : t < 12 ? 40 : min(80, 40 + 4 * (t - 11).rounded(.down)) }
    func met(_ t: Double) -> Int { t < 10.5 ? 0 : 12 }

    @Test func aSenderThatHalvesAndStepsBackToItsTierRecovers() throws {
        let storm = StormAnalysis.analyze(tier: 80, schedule: schedule, samples: samples(until: 35, rate: aimd, answers: met), originNanoseconds: origin, pollSeconds: 0.5)
        #expect(storm.violations.isEmpty, "\(storm.violations)")
        let episode = try #require(storm.episodes.first)
        #expect(storm.episodes.count == 1, "the 40 s window is after the last sample")
        #expect(episode.outcome == .recovered)
        #expect(episode.startSeconds == 10 && episode.durationSeconds == 1)
        #expect(episode.answers == 12 && episode.rateBefore == 80 && episode.lowestRate == 40)
        #expect(episode.recoveredAfterSeconds == 10, "at 80 again at 21 s, 10 s after the window closed")
        // (80 − 40) / (5 % of 80) = 10 steps of 1 s, plus a poll and a second.
        #expect(episode.recoveryBoundSeconds == 11.5)
        #expect(storm.met == 1 && storm.rateSeries.count == 71)
    }

    @Test func aSenderThatKeepsItsRateThroughAStormFails() {
        let storm = StormAnalysis.analyze(tier: 80, schedule: schedule, samples: samples(until: 35, rate: { _ in 80 }, answers: met), originNanoseconds: origin, pollSeconds: 0.5)
        #expect(storm.episodes.map(\.outcome) == [.noBackoff])
        #expect(storm.violations == ["met the storm at 10.0 s (12 × 130429) and stayed at 80.0 msg/s: no backoff"])
    }

    @Test func aSenderStillUnderItsTierPastTheBoundFails() {
        let stuck = StormAnalysis.analyze(
            tier: 80, schedule: schedule, samples: samples(until: 35, rate: { $0 < 10.5 ? 80 : 40 }, answers: met), originNanoseconds: origin, pollSeconds: 0.5)
        #expect(stuck.episodes.map(\.outcome) == [.slowRecovery])
        #expect(stuck.violations == ["after the storm at 10.0 s, not back at the tier of 80 within 11.5 s (lowest 40.0 msg/s)"])
        // Back, but at 25 s: 14 s after the window, past the 11.5 s bound.
        let late = StormAnalysis.analyze(
            tier: 80, schedule: schedule, samples: samples(until: 35, rate: { $0 < 10.5 ? 80 : $0 < 25 ? 40 : 80 }, answers: met), originNanoseconds: origin, pollSeconds: 0.5)
        #expect(late.episodes.first?.outcome == .slowRecovery)
        #expect(late.episodes.first?.recoveredAfterSeconds == 14)
    }

    @Test func aStormNobodySentIntoOrThatTheRunEndedDuringIsNoFault() {
        let idle = StormAnalysis.analyze(tier: 80, schedule: schedule, samples: samples(until: 35, rate: { _ in 80 }, answers: { _ in 0 }), originNanoseconds: origin, pollSeconds: 0.5)
        #expect(idle.episodes.map(\.outcome) == [.notMet])
        #expect(idle.violations.isEmpty && idle.met == 0)
        // The samples stop at 15 s, 4 s into an 11.5 s recovery.
        let cut = StormAnalysis.analyze(tier: 80, schedule: schedule, samples: samples(until: 15, rate: aimd, answers: met), originNanoseconds: origin, pollSeconds: 0.5)
        #expect(cut.episodes.map(\.outcome) == [.notObserved])
        #expect(cut.violations.isEmpty)
    }

    @Test func aWindowRagingWhenTheSamplesBeginIsAnEpisode() throws {
        // Samples from 10.5 s: the 10 s window is half over.
        let late = samples(until: 35, rate: aimd, answers: met).filter { $0.atNanoseconds >= origin + 10_500_000_000 }
        let storm = StormAnalysis.analyze(tier: 80, schedule: schedule, samples: late, originNanoseconds: origin, pollSeconds: 0.5)
        let episode = try #require(storm.episodes.first)
        #expect(storm.episodes.count == 1 && episode.startSeconds == 10)
        #expect(episode.rateBefore == 40, "the first sample stands in for the rate before")
        #expect(episode.answers == 12, "counted from the mock's start")
        #expect(episode.outcome == .recovered)
    }

    @Test func aWindowThatEndedAfterTheCampaignBeganButBeforeTheFirstSampleIsAnEpisode() throws {
        // The campaign began at 10.2 s, inside the 10 s window; the first sample is at 11.5 s.
        let late = samples(until: 35, rate: aimd, answers: met).filter { $0.atNanoseconds >= origin + 11_500_000_000 }
        let storm = StormAnalysis.analyze(
            tier: 80, schedule: schedule, samples: late, originNanoseconds: origin + 10_200_000_000, pollSeconds: 0.5)
        let episode = try #require(storm.episodes.first)
        #expect(storm.episodes.count == 1 && abs(episode.startSeconds + 0.2) < 1e-9, "at −0.2 s from the campaign's start")
        #expect(episode.answers == 12)
    }

    @Test func windowsStartAtMultiplesOfThePeriodFromTheOrigin() {
        let s = StormSchedule(everyMilliseconds: 1_000, durationMilliseconds: 200, originNanoseconds: origin)
        #expect(s.windowStarts(from: origin + 1_500_000_000, to: origin + 4 * second) == [origin + 2 * second, origin + 3 * second])
        #expect(s.windowStarts(from: origin - 5 * second, to: origin + 1) == [origin], "none before the schedule started")
        #expect(s.windowStarts(from: origin + second, to: origin + second).isEmpty)
    }
}
