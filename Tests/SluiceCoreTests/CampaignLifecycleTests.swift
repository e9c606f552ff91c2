import Testing
@testable import SluiceCore

@Suite("Campaign priority, removal and options")
struct CampaignLifecycleTests {
    let s1 = SenderID(1)

    func ids(_ batch: [MessageRecord]) -> [UInt64] { batch.map(\.id.rawValue) }

    /// Everything the scheduler lets go within a second of a 1000 msg/s sender.
    func drain(_ scheduler: inout Scheduler, upTo count: Int) -> [MessageRecord] {
        var out: [MessageRecord] = []
        var now = Instant.zero
        while out.count < count && now < Instant(nanoseconds: nanosecondsPerSecond) {
            scheduler.nextBatch(now: now, into: &out)
            now = scheduler.nextWakeup(now: now) ?? now + 1_000_000
        }
        return out
    }

    @Test("transactional campaigns are served before marketing ones, each round robin")
    func transactionalFirst() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.setPriority(sender: s1, campaign: CampaignID(20), .transactional)
        scheduler.setPriority(sender: s1, campaign: CampaignID(30), .transactional)
        // Campaign 10 (marketing): 1-3; campaign 20 (transactional): 4-5; 30 (transactional): 6-7.
        let messages = [1, 2, 3].map { message($0, campaign: 10, sender: 1) }
            + [4, 5].map { message($0, campaign: 20, sender: 1) } + [6, 7].map { message($0, campaign: 30, sender: 1) }
        scheduler.enqueue(messages, now: .zero)
        #expect(ids(drain(&scheduler, upTo: 7)) == [4, 6, 5, 7, 1, 2, 3])

        // A burst takes from the transactional rotation first within one batch too.
        var burst = Scheduler()
        burst.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 7, paused: false, now: .zero)
        burst.setPriority(sender: s1, campaign: CampaignID(20), .transactional)
        burst.enqueue(messages, now: .zero)
        var batch: [MessageRecord] = []
        burst.nextBatch(now: .zero, into: &batch)
        #expect(ids(batch) == [4, 5, 1, 6, 2, 7, 3])
    }

    @Test("a priority set after messages arrived moves the campaign's queue")
    func priorityMovesQueue() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.enqueue([1, 2].map { message($0, campaign: 10, sender: 1) } + [3, 4].map { message($0, campaign: 20, sender: 1) }, now: .zero)
        scheduler.setPriority(sender: s1, campaign: CampaignID(20), .transactional)
        #expect(scheduler.queuedCount(sender: s1) == 4)
        #expect(ids(drain(&scheduler, upTo: 4)) == [3, 4, 1, 2])
    }

    @Test("a removed campaign hands back its messages, the others go on, and it pages in from the start")
    func removeCampaign() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.enqueue([1, 2, 3].map { message($0, campaign: 10, sender: 1) } + [4, 5].map { message($0, campaign: 20, sender: 1) }, now: .zero)
        var removed: [MessageRecord] = []
        scheduler.removeCampaign(sender: s1, campaign: CampaignID(10), into: &removed)
        #expect(ids(removed) == [1, 2, 3])
        #expect(scheduler.queuedCount(sender: s1) == 2)
        #expect(ids(drain(&scheduler, upTo: 5)) == [4, 5])
        // Back: its refill reads from the journal's first queued message (no cursor).
        scheduler.noteMoreAvailable(sender: s1, campaign: CampaignID(10))
        let refill = scheduler.refillRequests().first { $0.campaign == CampaignID(10) }
        #expect(refill != nil)
        #expect(refill?.after == nil)
    }

    @Test("removing the only campaign leaves nothing to wake for")
    func removeOnly() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 10, burst: 1, paused: false, now: .zero)
        scheduler.enqueue([1, 2].map { message($0, campaign: 10, sender: 1) }, now: .zero)
        var out: [MessageRecord] = []
        scheduler.nextBatch(now: .zero, into: &out)
        #expect(scheduler.nextWakeup(now: .zero) != nil)
        var removed: [MessageRecord] = []
        scheduler.removeCampaign(sender: s1, campaign: CampaignID(10), into: &removed)
        #expect(ids(removed) == [2])
        #expect(scheduler.nextWakeup(now: .zero) == nil)
        #expect(scheduler.refillRequests().isEmpty)
    }

    @Test("a campaign retention removed is forgotten: cursor, priority and staging mode; the others stay")
    func forgetCampaign() {
        var scheduler = Scheduler()
        scheduler.upsertSender(s1, tierMessagesPerSecond: 1000, burst: 1, paused: false, now: .zero)
        scheduler.setPriority(sender: s1, campaign: CampaignID(10), .transactional)
        scheduler.stageThinly(sender: s1, campaign: CampaignID(10))
        scheduler.enqueue([1, 2].map { message($0, campaign: 10, sender: 1) } + [3].map { message($0, campaign: 20, sender: 1) }, now: .zero)
        scheduler.refilled(sender: s1, campaign: CampaignID(10), messages: [], exhausted: true, now: .zero)
        #expect(ids(drain(&scheduler, upTo: 2)) == [1, 2])
        // Campaign 10 left the rotation; its cursor, priority and staging mode stay.
        #expect(scheduler.campaignsRemembered == 2)
        var dropped: [MessageRecord] = []
        scheduler.forgetCampaign(CampaignID(10), into: &dropped)
        #expect(dropped.isEmpty)
        #expect(scheduler.campaignsRemembered == 1)
        // A campaign forgotten with messages still paged in hands them back.
        scheduler.forgetCampaign(CampaignID(20), into: &dropped)
        #expect(ids(dropped) == [3])
        #expect(scheduler.campaignsRemembered == 0)
        #expect(scheduler.queuedCount(sender: s1) == 0)
        #expect(scheduler.nextWakeup(now: .zero) == nil)
    }

    @Test("a campaign is open from schedule_at until expires_at")
    func optionsWindow() {
        let options = CampaignOptions(scheduleAtMilliseconds: 1_000, expiresAtMilliseconds: 2_000)
        #expect(!options.isOpen(atMilliseconds: 999))
        #expect(options.isOpen(atMilliseconds: 1_000))
        #expect(options.isOpen(atMilliseconds: 1_999))
        #expect(!options.isOpen(atMilliseconds: 2_000))
        #expect(CampaignOptions.standard.isOpen(atMilliseconds: .min))
    }

    @Test("unsent messages of an ended campaign end expired or cancelled; a status still proves one was sent")
    func endedStates() {
        for end in [MessageState.expired, .cancelled] {
            for from in [MessageState.queued, .inFlight, .retryAt, .inDoubt] { #expect(from.canTransition(to: end)) }
            for from in [MessageState.sent, .delivered, .read, .failed, .unknown] { #expect(!from.canTransition(to: end)) }
            #expect(end.isFinal && end.isReported && !end.isUnsent)
            #expect(end.canTransition(to: .delivered))
            #expect(!end.canTransition(to: .inFlight) && !end.canTransition(to: .queued))
        }
        // at_most_once: an in-doubt message ends unknown; a queued one cannot.
        #expect(MessageState.inDoubt.canTransition(to: .unknown))
        #expect(!MessageState.queued.canTransition(to: .unknown))
        #expect(MessageState(name: "expired") == .expired)
    }

    @Test("a message handed to another node ends here: only unsent ones can go, and a status still proves the first send")
    func handedOverStates() {
        for from in [MessageState.queued, .retryAt, .inDoubt] { #expect(from.canTransition(to: .handedOver)) }
        // One on the wire or already sent stays: it is this node's to settle.
        for from in [MessageState.inFlight, .sent, .delivered, .read, .failed, .unknown, .expired, .cancelled, .suppressed] {
            #expect(!from.canTransition(to: .handedOver))
        }
        let handed = MessageState.handedOver
        #expect(handed.isFinal && !handed.isUnsent && !handed.isReported)
        #expect(handed.canTransition(to: .sent) && handed.canTransition(to: .failed))
        #expect(!handed.canTransition(to: .queued) && !handed.canTransition(to: .inFlight) && !handed.canTransition(to: .cancelled))
        #expect(MessageState(name: "handed_over") == .handedOver)
    }

    @Test("the drain estimate counts what is ahead: higher priority whole, same priority round robin")
    func drainEstimate() {
        let mine = DrainEstimate.Campaign(unsent: 100, priority: .marketing)
        let others = [
            DrainEstimate.Campaign(unsent: 50, priority: .transactional),  // all of it first
            DrainEstimate.Campaign(unsent: 30, priority: .marketing),      // all 30 share turns
            DrainEstimate.Campaign(unsent: 500, priority: .marketing),     // 100 of it while mine drains
        ]
        #expect(DrainEstimate.messagesUntilDrained(mine, others: others) == 100 + 50 + 30 + 100)
        #expect(DrainEstimate.seconds(mine, others: others, messagesPerSecond: 80) == 280.0 / 80)
        // A transactional campaign waits for no marketing message.
        let urgent = DrainEstimate.Campaign(unsent: 10, priority: .transactional)
        #expect(DrainEstimate.messagesUntilDrained(urgent, others: [mine]) == 10)
        #expect(DrainEstimate.seconds(mine, others: [], messagesPerSecond: 0) == nil)
    }
}
