import Testing
@testable import SluiceCore

@Suite("Inbound messages take their share of the tier")
struct InboundReserveTests {
    let second = nanosecondsPerSecond
    let s1 = SenderID(1)

    /// Readings advance the meter, which `#expect` cannot do.
    func rate(_ reserve: inout InboundReserve, at seconds: Double) -> Double { reserve.messagesPerSecond(now: .seconds(seconds)) }
    func count(_ reserve: inout InboundReserve, at seconds: Double) -> Int { reserve.lastSecond(now: .seconds(seconds)) }
    func idle(_ reserve: inout InboundReserve, at seconds: Double) -> Bool { reserve.isIdle(now: .seconds(seconds)) }

    @Test func aSteadyStreamReservesItsRatePlusOneAndHoldsItFiveSecondsAfterItStops() {
        var reserve = InboundReserve(now: .zero)
        #expect(rate(&reserve, at: 0) == 0)
        // 20 msg/s for 3 s, one every 50 ms.
        for k in 0..<60 { reserve.record(count: 1, now: Instant(nanoseconds: Int64(k) * 50_000_000)) }
        #expect(count(&reserve, at: 2.96) == 20)
        #expect(rate(&reserve, at: 2.96) == 21, "20 msg/s and a margin of one")
        // The last one came at 2.95 s: its second's peak holds the reserve until 7 s.
        #expect(rate(&reserve, at: 6.9) == 21)
        #expect(!idle(&reserve, at: 6.9))
        #expect(rate(&reserve, at: 7.0) == 0)
        #expect(idle(&reserve, at: 7.0))
    }

    @Test func aBurstRaisesTheReserveAtOnceWithAFivePercentMargin() {
        var reserve = InboundReserve(now: .zero)
        reserve.record(count: 5, now: .seconds(1))
        #expect(rate(&reserve, at: 1) == 6)
        reserve.record(count: 195, now: .seconds(1.5))
        #expect(rate(&reserve, at: 1.5) == 210, "200 and 5 %")
        // A second later the burst has left the one-second count but not the hold.
        #expect(count(&reserve, at: 2.6) == 0)
        #expect(rate(&reserve, at: 2.6) == 210)
    }

    @Test func theCountIsOverAnExactSlidingSecond() {
        var reserve = InboundReserve(now: .zero)
        reserve.record(count: 10, now: .seconds(0.05))
        reserve.record(count: 10, now: .seconds(1.04))
        #expect(rate(&reserve, at: 1.04) == 21, "20 within one second: 10 at 0.05 s and 10 at 1.04 s")
        reserve.record(count: 1, now: .seconds(1.05))
        #expect(count(&reserve, at: 1.05) == 11, "an arrival exactly a second old has left")
    }

    @Test func anInstantEarlierThanOneSeenCountsAsThatOne() {
        var reserve = InboundReserve(now: .seconds(10))
        reserve.record(count: 3, now: .seconds(10))
        reserve.record(count: 3, now: .seconds(4))
        #expect(count(&reserve, at: 10) == 6)
    }

    /// A tier-80 number receiving 20 msg/s while a campaign waits: from the first second
    /// the traffic is measured, sends and incoming messages together never put more than
    /// 80 in any sliding second, sends go at what is left (59 msg/s), and the tier comes
    /// back once the customers fall silent.
    @Test func sendsAndIncomingMessagesTogetherStayWithinTheTier() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 80, burst: 1, paused: false, now: .zero)
        let inboundEnd = 10 * second
        var inbound: [Int64] = []
        var sends: [Int64] = []
        var nextInbound: Int64 = 0
        var now = Instant.zero
        var id: UInt64 = 0
        var batch: [MessageRecord] = []
        while now.nanoseconds < 20 * second {
            if nextInbound <= now.nanoseconds && nextInbound < inboundEnd {
                scheduler.noteInbound(sender: s1, count: 1, now: now)
                inbound.append(now.nanoseconds)
                nextInbound += 50_000_000
            }
            // The campaign arrives once the traffic has been measured for a second.
            if now.nanoseconds >= second && scheduler.queuedCount(sender: s1) < 100 {
                scheduler.enqueue((0..<100).map { _ in id += 1; return message(id, campaign: 1, sender: 1) }, now: now)
            }
            scheduler.tick(now: now)
            batch.removeAll(keepingCapacity: true)
            scheduler.nextBatch(now: now, into: &batch)
            for _ in batch { sends.append(now.nanoseconds) }
            if !batch.isEmpty { scheduler.completed(sender: s1, count: batch.count, now: now) }
            let wake = scheduler.nextWakeup(now: now)?.nanoseconds ?? (now.nanoseconds + 1_000_000)
            let target = nextInbound < inboundEnd ? min(wake, nextInbound) : wake
            now = Instant(nanoseconds: max(now.nanoseconds + 1, min(target, now.nanoseconds + 10_000_000)))
        }
        let both = (inbound + sends).sorted()
        #expect(maxWindowCount(both) <= 80, "inbound and outbound in one sliding second")
        let steady = sends.filter { $0 >= 3 * second && $0 < 9 * second }.count
        #expect((6 * 58)...(6 * 59 + 1) ~= steady, "\(steady) sends in 6 s at 59 msg/s")
        // The reserve lapses 5 s after the last incoming message (9.95 s): the tier again.
        let after = sends.filter { $0 >= 16 * second && $0 < 19 * second }.count
        #expect((3 * 79)...(3 * 80) ~= after, "\(after) sends in 3 s at the tier")
        #expect(scheduler.inboundReserve(sender: s1) == 0)
        #expect(scheduler.effectiveRate(sender: s1) == 80)
    }

    @Test func incomingMessagesAboveTheTierLeaveOneMessageASecond() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 80, burst: 1, paused: false, now: .zero)
        scheduler.noteInbound(sender: s1, count: 120, now: .seconds(1))
        #expect(scheduler.inboundReserve(sender: s1) == 126)
        #expect(scheduler.effectiveRate(sender: s1) == Scheduler.pacedRateMin)
        // An unknown sender's traffic is not counted anywhere.
        scheduler.noteInbound(sender: SenderID(9), count: 5, now: .seconds(1))
        #expect(scheduler.inboundReserve(sender: SenderID(9)) == nil)
    }

    @Test func aThrottledSenderPacesAtTheLowerOfItsControllerAndWhatInboundLeaves() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 100, burst: 1, paused: false, now: .zero)
        scheduler.noteInbound(sender: s1, count: 10, now: .zero)
        #expect(scheduler.effectiveRate(sender: s1) == 89)
        for _ in 0..<5 { scheduler.throttled(sender: s1, now: .seconds(0.1)) }  // 5 % of a second at the tier
        #expect(scheduler.effectiveRate(sender: s1) == 50, "halved by the controller, below what inbound leaves")
        // A tier change keeps the controller's proportion and the reserve.
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .seconds(0.2))
        #expect(scheduler.effectiveRate(sender: s1) == 500)
        scheduler.noteInbound(sender: s1, count: 600, now: .seconds(0.3))
        #expect(scheduler.effectiveRate(sender: s1) == 359, "1000 − (610 + 5 %): below half the tier")
    }
}
