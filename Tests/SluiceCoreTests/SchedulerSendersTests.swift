import Testing
@testable import SluiceCore

@Suite("Scheduler: holding and removing senders")
struct SchedulerSendersTests {
    let second = nanosecondsPerSecond
    let s1 = SenderID(1)
    let s2 = SenderID(2)
    let s3 = SenderID(3)

    @Test func aHeldSenderWaitsUntilTheHoldEndsWithoutSpendingSlots() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 10, burst: 1, paused: false, now: .zero)
        scheduler.enqueue((1...3).map { message($0, campaign: 1, sender: 1) }, now: .zero)
        scheduler.hold(s1, until: .seconds(5))
        #expect(scheduler.nextWakeup(now: .zero) == .seconds(5))
        var batch: [MessageRecord] = []
        scheduler.nextBatch(now: .seconds(4.9), into: &batch)
        #expect(batch.isEmpty, "nothing goes while held")
        scheduler.nextBatch(now: .seconds(5), into: &batch)
        #expect(batch.map(\.id.rawValue) == [1])
        // The hold is over: the pacer alone decides (10 msg/s, one slot after 5 s).
        #expect(scheduler.nextWakeup(now: .seconds(5))! <= .seconds(5.2))
        scheduler.hold(s1, until: .seconds(5))
        #expect(scheduler.nextWakeup(now: .seconds(5))! <= .seconds(5.2), "a hold in the past changes nothing")
    }

    @Test func aHoldDoesNotDelayOtherSenders() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 10, burst: 1, paused: false, now: .zero)
        scheduler.upsertSender(s2, tierMessagesPerSecond: 10, burst: 1, paused: false, now: .zero)
        scheduler.enqueue([message(1, campaign: 1, sender: 1), message(2, campaign: 2, sender: 2)], now: .zero)
        scheduler.hold(s1, until: .seconds(60))
        var batch: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &batch)
        #expect(batch.map(\.id.rawValue) == [2])
        #expect(scheduler.nextWakeup(now: .zero) == .seconds(60))
        #expect(scheduler.heldUntil(sender: s1) == .seconds(60))
    }

    @Test func aRemovedSenderIsForgottenAndTheOthersKeepTheirTurns() {
        var scheduler = Scheduler()
        for s in [s1, s2, s3] { scheduler.upsertSender(s, tierMessagesPerSecond: 1, burst: 1, paused: false, now: .zero) }
        // s1 sends its only message; s2 and s3 have work.
        scheduler.enqueue([message(1, campaign: 1, sender: 1)], now: .zero)
        var batch: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &batch)
        scheduler.completed(sender: s1, count: 1)
        scheduler.enqueue([message(2, campaign: 2, sender: 2), message(3, campaign: 3, sender: 3), message(4, campaign: 3, sender: 3)], now: .zero)
        scheduler.hold(s3, until: .seconds(2))
        scheduler.removeSender(s1, now: .zero)
        #expect(!scheduler.hasSender(s1))
        #expect(scheduler.queuedCount(sender: s3) == 2, "s3 moved into s1's slot with its queue")
        batch.removeAll()
        scheduler.nextBatch(now: .zero, into: &batch)
        #expect(batch.map(\.id.rawValue) == [2], "s3 is still held")
        #expect(scheduler.nextWakeup(now: .zero) == .seconds(2))
        scheduler.nextBatch(now: .seconds(2), into: &batch)
        #expect(batch.map(\.id.rawValue) == [2, 3])
        // A sender registered again under a new id starts fresh.
        let s4 = SenderID(4)
        scheduler.upsertSender(s4, tierMessagesPerSecond: 1, burst: 1, paused: false, now: .seconds(2))
        scheduler.enqueue([message(5, campaign: 4, sender: 4)], now: .seconds(2))
        scheduler.nextBatch(now: .seconds(2), into: &batch)
        #expect(batch.map(\.id.rawValue) == [2, 3, 5])
        scheduler.removeSender(s1, now: .seconds(2))  // unknown: nothing happens
        #expect(scheduler.hasSender(s2) && scheduler.hasSender(s3) && scheduler.hasSender(s4))
    }
}
