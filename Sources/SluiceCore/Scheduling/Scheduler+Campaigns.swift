
/// Paging campaign queues in from the journal, and campaigns' priority and removal.
extension Scheduler {
    // MARK: - Paging

    /// Campaign queues of unpaused senders below the low watermark that may have more in
    /// the journal, with the cursor to read after. A request repeats until it is answered
    /// with `refilled`; the engine keeps at most one read per campaign outstanding, and
    /// answers it before handling a later `noteMoreAvailable` for the same campaign.
    public func refillRequests() -> [RefillRequest] {
        var requests: [RefillRequest] = []
        for sender in senders where !sender.halted && sender.campaignCount > 0 {
            let watermark = lowWatermark(sender)
            let thin = sender.thinlyStaged.isEmpty ? 0 : thinWatermark(sender)
            for lane in sender.lanes {
                for queue in lane.queues where !queue.exhausted {
                    if sender.thinlyStaged.contains(queue.campaign) {
                        guard queue.messages.count < thin else { continue }
                        requests.append(RefillRequest(sender: sender.id, campaign: queue.campaign, after: queue.after, limit: thin))
                    } else if queue.messages.count < watermark {
                        requests.append(RefillRequest(
                            sender: sender.id, campaign: queue.campaign, after: queue.after, limit: max(configuration.pageSize, watermark)))
                    }
                }
            }
        }
        return requests
    }

    /// The answer to a refill request: messages after the cursor (in id order), and
    /// whether the journal had no more.
    public mutating func refilled(sender: SenderID, campaign: CampaignID, messages: [MessageRecord], exhausted: Bool, now: Instant) {
        let i = index(sender)
        let wasReady = isReady(i)
        for message in messages {
            precondition(message.sender == sender && message.campaign == campaign, "refill for another queue")
            senders[i].append(message, createExhausted: exhausted)
        }
        senders[i].setExhausted(campaign: campaign, exhausted)
        if !wasReady { reschedule(i, now: now) }
        purgeStaleTop()
    }

    /// New intake was committed for the campaign: its queue may page in more.
    public mutating func noteMoreAvailable(sender: SenderID, campaign: CampaignID) {
        let i = index(sender)
        senders[i].setExhausted(campaign: campaign, false)
    }

    // MARK: - Campaigns

    /// Serves the campaign's messages in the rotation of `priority` (`marketing` unless
    /// set). Set it before its first messages arrive; a later change moves its queue.
    public mutating func setPriority(sender: SenderID, campaign: CampaignID, _ priority: CampaignPriority) {
        senders[index(sender)].setPriority(campaign, priority)
    }

    /// Pages the campaign in `thinStagingNanoseconds` at a time (at-most-once delivery).
    public mutating func stageThinly(sender: SenderID, campaign: CampaignID) {
        senders[index(sender)].thinlyStaged.insert(campaign)
    }

    /// Takes the campaign out of its sender's rotation (paused, cancelled, expired),
    /// appending its paged-in messages to `out`; it pages in again, from the start of
    /// the journal's queue, after `noteMoreAvailable`.
    public mutating func removeCampaign(sender: SenderID, campaign: CampaignID, into out: inout [MessageRecord]) {
        removeQueue(senderAt: index(sender), campaign, into: &out)
        purgeStaleTop()
    }

    private mutating func removeQueue(senderAt i: Int, _ campaign: CampaignID, into out: inout [MessageRecord]) {
        let wasReady = isReady(i)
        senders[i].removeQueue(campaign, into: &out)
        if wasReady && !isReady(i) { senders[i].generation &+= 1 }
    }

    /// The sender's campaigns with messages paged in.
    public func stagedCampaigns(sender: SenderID) -> [CampaignID] {
        guard let i = senderIndex[sender] else { return [] }
        return senders[i].lanes.flatMap { lane in lane.queues.filter { !$0.messages.isEmpty }.map(\.campaign) }
    }

    /// Drops what the scheduler remembers of a campaign that no longer exists (removed
    /// by retention): its queue, paging cursor, priority and staging mode. Paged-in
    /// messages still queued (settled meanwhile by a status) go to `out`, unsent.
    public mutating func forgetCampaign(_ campaign: CampaignID, into out: inout [MessageRecord]) {
        for i in senders.indices {
            removeQueue(senderAt: i, campaign, into: &out)
            senders[i].priorities[campaign] = nil
            senders[i].thinlyStaged.remove(campaign)
        }
        purgeStaleTop()
    }

    /// Campaigns the scheduler holds anything of, across senders: queues, cursors,
    /// priorities, staging modes.
    public var campaignsRemembered: Int {
        var ids = Set<CampaignID>()
        for s in senders {
            for lane in s.lanes { ids.formUnion(lane.position.keys) }
            ids.formUnion(s.retiredAfter.keys)
            ids.formUnion(s.priorities.keys)
            ids.formUnion(s.thinlyStaged)
        }
        return ids.count
    }

    /// A campaign queue's refill threshold: `stagingNanoseconds` of the sender's sending
    /// time shared by its campaigns, and at least `queueLowWatermark`.
    func lowWatermark(_ sender: SenderState) -> Int {
        let seconds = Double(configuration.stagingNanoseconds) / 1e9
        let share = sender.pacer.messagesPerSecond * seconds / Double(sender.campaignCount)
        return max(configuration.queueLowWatermark, Int(share.rounded(.up)))
    }

    /// The refill threshold and page size of a thinly staged campaign queue.
    func thinWatermark(_ sender: SenderState) -> Int {
        let seconds = Double(configuration.thinStagingNanoseconds) / 1e9
        let share = sender.pacer.messagesPerSecond * seconds / Double(max(1, sender.campaignCount))
        return max(configuration.thinPageMin, Int(share.rounded(.up)))
    }
}
