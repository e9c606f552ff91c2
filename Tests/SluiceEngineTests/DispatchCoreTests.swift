import SluiceCore
import SluiceJournal
import SluiceTransport
import Testing

@testable import SluiceEngine

/// The dispatch core's behaviour, event by event on a manual clock (`CoreHarness`): what
/// the end-to-end suites judge on a shared machine, judged here exactly.
@Suite struct DispatchCoreTests {
    let sender = SenderID(1)
    let campaign = CampaignID(1)

    /// A core whose sender 1, at `tier`, has campaign 1 of `count` messages to send.
    func harness(tier: Double, count: Int, options: CampaignOptions = .standard) -> CoreHarness {
        let h = CoreHarness()
        h.addSender(sender, tier: tier)
        h.journal.addCampaign(campaign, sender: sender, count: count, firstID: 1, options: options)
        h.handle(.campaignAvailable(sender, campaign))
        return h
    }

    /// Endpoints as far as the real one: loopback, 200 ms, and a long tail (one answer in
    /// twenty takes 2 s).
    enum Distance: CaseIterable, CustomStringConvertible {
        case loopback, graphAPI, longTail
        var description: String { "\(self == .loopback ? "0 ms" : self == .graphAPI ? "200 ms" : "long tail")" }
        func latency(_ request: OutboundRequest) -> Int64 {
            switch self {
            case .loopback: 100_000
            case .graphAPI: 200_000_000
            case .longTail: request.tag % 20 == 0 ? 2_000_000_000 : 200_000_000
            }
        }
    }

    @Test(arguments: [80.0, 250.0, 1000.0], Distance.allCases)
    func aSenderSendsAtItsTierAndNeverAboveIt(tier: Double, distance: Distance) {
        let h = harness(tier: tier, count: Int(tier) * 20)
        h.latencyOf = distance.latency
        h.run(seconds: 10)
        // WhatsApp counts a second's messages: no second may hold more than the tier.
        #expect(h.mostInOneSecond(sender: "101") <= Int(tier))
        // The in-flight bound still lets the tier through (after the first second, which
        // starts cold and learns the latency).
        let late = h.sent.filter { $0.at >= Instant(nanoseconds: 2_000_000_000) && $0.at < Instant(nanoseconds: 10_000_000_000) }
        #expect(Double(late.count) >= 0.97 * tier * 8, "\(late.count) sent in 8 s at tier \(tier)")
        #expect(Set(h.sent.map(\.tag)).count == h.sent.count, "a message was sent twice")
    }

    @Test func twoSendersArePacedApartAndEveryMessageEndsSentOnce() {
        let h = CoreHarness()
        h.addSender(SenderID(1), tier: 80)
        h.addSender(SenderID(2), tier: 250)
        h.journal.addCampaign(CampaignID(1), sender: SenderID(1), count: 400, firstID: 1)
        h.journal.addCampaign(CampaignID(2), sender: SenderID(2), count: 1000, firstID: 10_001)
        h.handle(.campaignAvailable(SenderID(1), CampaignID(1)))
        h.handle(.campaignAvailable(SenderID(2), CampaignID(2)))
        h.run(seconds: 8)
        #expect(h.mostInOneSecond(sender: "101") <= 80)
        #expect(h.mostInOneSecond(sender: "102") <= 250)
        #expect(h.journal.count(.sent) == 1400)
        #expect(h.sent.count == 1400)
    }

    @Test func throttlesSlowTheSenderAndTheirMessagesGoLaterWithoutUsingAnAttempt() {
        var refused: Set<UInt64> = []
        let h = harness(tier: 100, count: 300)
        // Every tenth message is refused with 130429 the first time it is sent.
        h.answer = { request in
            if request.tag % 10 == 0, refused.insert(request.tag).inserted {
                return .rejected(httpStatus: 400, code: 130429, message: "Rate limit hit")
            }
            return .accepted(wamid: "wamid.\(request.tag)")
        }
        h.run(seconds: 2)
        let effective = h.publications.last?.senders.first?.effectiveMessagesPerSecond ?? 100
        #expect(effective < 100, "throttles lower the effective rate")
        h.run(seconds: 30)
        #expect(h.journal.count(.sent) == 300)
        #expect(refused.count == 30)
        #expect(h.journal.messages.values.allSatisfy { $0.attempts == 1 }, "a throttled send used no attempt")
        #expect(h.sent.count == 330)
    }

    @Test func aPausedCampaignGoesBackToTheQueueAndResumesWithEachMessageSentOnce() {
        let h = harness(tier: 100, count: 1000)
        h.run(seconds: 2)
        h.change(campaign, to: .paused)
        h.run(seconds: 1)
        let atPause = h.sent.count
        #expect(atPause > 100 && atPause < 1000)
        // Nothing waits in flight: what was staged went back to the queue.
        #expect(h.journal.count(.inFlight) == 0)
        #expect(h.journal.count(.queued) == 1000 - atPause)
        h.run(seconds: 5)
        #expect(h.sent.count == atPause, "a paused campaign sent")
        h.change(campaign, to: .active)
        h.run(seconds: 15)
        #expect(h.journal.count(.sent) == 1000)
        #expect(Set(h.sent.map(\.tag)).count == 1000 && h.sent.count == 1000)
    }

    @Test func aCancelledCampaignEndsWhatWasNotSentAndLetsTheWireFinish() {
        let h = harness(tier: 100, count: 1000)
        h.run(seconds: 2)
        h.change(campaign, to: .withdrawn)
        h.run(seconds: 2)
        #expect(h.journal.count(.sent) == h.sent.count, "each request on the wire ended sent")
        #expect(h.journal.count(.cancelled) == 1000 - h.sent.count)
        let atCancel = h.sent.count
        h.run(seconds: 3)
        #expect(h.sent.count == atCancel)
    }

    @Test func anExpiryEndsTheCampaignWhenItComes() {
        let h = harness(tier: 100, count: 1000, options: CampaignOptions(expiresAtMilliseconds: CoreHarness.startWall + 3_000))
        h.run(seconds: 5)
        let sent = h.journal.count(.sent)
        #expect(sent > 250 && sent <= 300, "sent \(sent) in the 3 s before the expiry at 100/s")
        #expect(h.journal.count(.expired) == 1000 - sent)
        #expect(h.sent.allSatisfy { $0.at < Instant(nanoseconds: 4_000_000_000) })
    }

    @Test func aResendThatAStatusSettledBeforeItsSlotIsNotSent() {
        let h = CoreHarness()
        h.addSender(sender, tier: 1)
        h.journal.addCampaign(campaign, sender: sender, count: 10, firstID: 1)
        // Message 5 came back in doubt from an earlier run; it may go again in 1.5 s.
        h.journal.messages[MessageID(5)]?.state = .inDoubt
        h.journal.messages[MessageID(5)]?.attempts = 1
        h.journal.messages[MessageID(5)]?.notBeforeMilliseconds = h.wall + 1_500
        h.handle(.campaignAvailable(sender, campaign))
        // At tier 1 the slots are a second apart: by 1.7 s it is staged, ahead of the
        // queue, waiting for the slot at 2 s.
        h.run(seconds: 1.7)
        #expect(h.journal.messages[MessageID(5)]?.state == .inFlight)
        #expect(!h.sent.contains { $0.tag == 5 })
        // A `sent` status for the earlier attempt arrives before that slot.
        h.journal.apply([MessageTransition(id: MessageID(5), to: .sent, updatedMilliseconds: h.wall)])
        h.run(seconds: 15)
        #expect(!h.sent.contains { $0.tag == 5 }, "a message a status had settled was sent again")
        #expect(h.sent.count == 9)
        #expect(h.journal.count(.sent) == 10)
    }

    @Test func outcomesARefusingDiskCannotRecordAreKeptAndRecordedWhenItHasRoom() {
        let h = harness(tier: 100, count: 500)
        h.run(seconds: 1)
        h.outcomesRefused = true
        h.run(seconds: 2)
        let sentWhileFull = h.sent.count
        #expect(h.journal.count(.sent) < sentWhileFull, "outcomes were recorded while the disk refused them")
        h.outcomesRefused = false
        h.run(seconds: 10)
        #expect(h.journal.count(.sent) == 500)
        #expect(h.sent.count == 500)
    }

    @Test func stoppingReturnsWhatWaitsToTheQueueAndDrainsTheWire() {
        let h = harness(tier: 100, count: 1000)
        h.run(seconds: 2)
        h.handle(.stop)
        h.run(seconds: 1)
        #expect(h.drained)
        #expect(h.journal.count(.inFlight) == 0)
        #expect(h.journal.count(.sent) == h.sent.count)
        #expect(h.journal.count(.queued) == 1000 - h.sent.count)
    }

    @Test func anUnreachableEndpointHoldsTheSenderWithBackoffAndUsesNoAttempt() {
        var reachable = false
        let h = harness(tier: 100, count: 200)
        h.answer = { reachable ? .accepted(wamid: "wamid.\($0.tag)") : .notSent(reason: "connection refused") }
        h.latency = 1_000_000
        h.run(seconds: 10)
        // Probes back off from 0.5 s to 30 s: a handful in ten seconds, not 100 a second.
        #expect(h.sent.count <= 10, "\(h.sent.count) requests to an endpoint that refuses")
        #expect(h.journal.count(.queued) + h.journal.count(.inFlight) == 200)
        reachable = true
        h.run(seconds: 40)
        #expect(h.journal.count(.sent) == 200)
        #expect(h.journal.messages.values.allSatisfy { $0.attempts == 1 })
    }

    /// A connect timeout fails every request waiting for the connection at once: one
    /// outage, one failed probe. Counted per request, 100 failures held the sender 15–30 s
    /// (the backoff's ceiling) after an outage of 2 s.
    @Test func requestsThatFailTogetherCountAsOneFailedProbe() {
        let h = harness(tier: 100, count: 300)
        // What leaves in the first second waits 2 s on a handshake that times out.
        var outage = true
        h.answer = { outage ? .notSent(reason: "curl 28: SSL connection timeout") : .accepted(wamid: "wamid.\($0.tag)") }
        h.latencyOf = { _ in outage ? 2_000_000_000 : 1_000_000 }
        h.run(seconds: 1)
        outage = false
        let onTheWire = h.sent.count
        #expect(onTheWire >= 90, "\(onTheWire) sent in the first second at tier 100")
        h.run(seconds: 6)
        // 1 s sending, 2 s until the failures, ≤ 0.5 s backoff, then 300 at 100/s with
        // what failed going first: done by about 6.5 s.
        #expect(h.journal.count(.sent) == 300, "\(h.journal.count(.sent)) sent 7 s in")
        #expect(h.journal.messages.values.allSatisfy { $0.attempts <= 1 })
    }

    @Test func aRevokedTokenPausesTheSenderAndJournalsWhy() {
        let h = harness(tier: 100, count: 100)
        h.answer = { _ in .rejected(httpStatus: 401, code: 190, message: "Invalid OAuth access token") }
        h.run(seconds: 3)
        #expect(h.journal.senders[sender]?.paused == true)
        #expect(h.journal.senders[sender]?.pauseReason?.contains("190") == true)
        // What was on the wire when the first answer came, and nothing after it.
        let firstAnswer = Instant(nanoseconds: 1_000_000_000 + h.latency)
        #expect(h.sent.allSatisfy { $0.at <= firstAnswer })
        #expect(h.journal.count(.sent) == 0 && h.journal.count(.failed) == 0)
    }

    @Test func aRevokedTokensLateAnswersDoNotPauseTheSenderAgainAfterTheNewToken() {
        let h = harness(tier: 100, count: 100)
        var revoked = h.journal.senders[sender]!
        revoked.accessToken = "revoked-token"
        h.journal.senders[sender] = revoked
        h.handle(.sender(revoked))
        h.answer = { $0.bearerToken == "revoked-token" ? .rejected(httpStatus: 401, code: 190, message: "Invalid OAuth access token") : .accepted(wamid: "wamid.\($0.tag)") }
        // The first two answers come at once; the rest of what left with the old token is
        // still on the wire when the operator puts the new one.
        h.latencyOf = { $0.tag <= 2 ? 500_000_000 : 3_000_000_000 }
        h.run(seconds: 1)
        #expect(h.journal.senders[sender]?.paused == true)
        let onTheWire = h.sent.count
        #expect(onTheWire > 2, "requests with the old token still unanswered")
        var fixed = revoked
        fixed.accessToken = "good-token"
        fixed.paused = false
        fixed.pauseReason = nil
        h.journal.senders[sender] = fixed
        h.handle(.sender(fixed))
        h.run(seconds: 8)
        #expect(h.journal.senders[sender]?.paused == false, "the old token's late 190s paused it again: \(h.journal.senders[sender]?.pauseReason ?? "")")
        #expect(h.journal.count(.sent) == 100 && h.journal.count(.failed) == 0)
        #expect(h.journal.messages.values.allSatisfy { $0.attempts == 1 }, "a 190 uses no attempt")
    }

    @Test func aTierChangeGovernsFromItsInstantBothWays() {
        let h = harness(tier: 20, count: 5_000)
        h.run(seconds: 2)
        let raised = h.now
        h.addSender(sender, tier: 200)
        h.run(seconds: 3)
        #expect(h.mostInOneSecond(sender: "101") <= 200)
        let after = h.sent.filter { $0.at >= raised + 1_000_000_000 && $0.at < raised + 3_000_000_000 }
        #expect(after.count >= 388, "\(after.count) sent in the 2 s after the raise took hold, tier 200")
        let lowered = h.now
        h.addSender(sender, tier: 20)
        h.run(seconds: 3)
        #expect(h.mostInOneSecond(sender: "101", from: lowered) <= 20, "a lowered tier waited")
    }

    @Test func aTransactionalCampaignOvertakesMarketingAtOnce() {
        let h = harness(tier: 50, count: 200)
        h.run(seconds: 1)
        let submitted = h.now
        h.journal.addCampaign(CampaignID(2), sender: sender, count: 20, firstID: 1_001, options: CampaignOptions(priority: .transactional))
        h.handle(.campaignAvailable(sender, CampaignID(2)))
        h.run(seconds: 2)
        let urgent = h.sent.filter { $0.tag > 1_000 }
        #expect(urgent.count == 20)
        let lastUrgent = urgent.map(\.at).max() ?? .never
        let interleaved = h.sent.filter { $0.tag <= 1_000 && $0.at > submitted && $0.at < lastUrgent }
        #expect(interleaved.isEmpty, "\(interleaved.count) marketing message(s) went while transactional ones waited")
        // 20 at 50/s: done within about 0.4 s of their arrival.
        #expect(lastUrgent - submitted <= 450_000_000)
    }

    @Test func newRecipientsOverTheMessagingLimitWaitForTheWindowAndRepeatedOnesDoNot() {
        let h = CoreHarness {
            $0.messagingWindowMilliseconds = 10_000
            // Repeats follow at once here: the pair limit would space them.
            $0.pairSpacingMilliseconds = 0
        }
        h.addSender(sender, tier: 100, messagingLimit: 10)
        // Ten new recipients fill the window, five of them again (free), then 15 new ones.
        h.journal.addCampaign(campaign, sender: sender, count: 30, firstID: 1)
        for i in UInt64(11)...15 {
            let again = h.journal.messages[MessageID(i - 10)]!.to
            h.journal.messages[MessageID(i)]?.to = again
        }
        h.handle(.campaignAvailable(sender, campaign))
        h.run(seconds: 5)
        let recipients = { Set(h.sent.compactMap { h.journal.messages[MessageID($0.tag)]?.to }) }
        #expect(recipients().count == 10, "\(recipients().count) unique recipients within one window of limit 10")
        #expect(h.sent.count == 15, "the repeated recipients went too")
        h.run(seconds: 7)
        #expect(recipients().count == 20)
        h.run(seconds: 10)
        #expect(recipients().count == 25)
        #expect(h.journal.count(.sent) == 30)
    }

    @Test func messagesToOneRecipientAreSpacedAndOthersAreNotHeld() {
        let h = CoreHarness { $0.pairSpacingMilliseconds = 700 }
        h.addSender(sender, tier: 100)
        h.journal.addCampaign(campaign, sender: sender, count: 20, firstID: 1)
        for i in UInt64(0)..<3 {
            h.journal.messages[MessageID(101 + i)] = MessageRecord(id: MessageID(101 + i), campaign: campaign, sender: sender, to: "966500000777", params: ["r\(i)"])
        }
        h.handle(.campaignAvailable(sender, campaign))
        h.run(seconds: 5)
        let repeated = h.sent.filter { $0.tag > 100 }.map(\.at)
        #expect(repeated.count == 3)
        for (a, b) in zip(repeated, repeated.dropFirst()) {
            #expect(b - a >= 700_000_000, "same recipient \(Double(b - a) / 1e6) ms apart")
        }
        let othersLast = h.sent.filter { $0.tag <= 100 }.map(\.at).max() ?? .never
        #expect(othersLast < repeated.last ?? .zero, "distinct recipients are not held behind the spaced ones")
        #expect(h.journal.count(.sent) == 23)
    }
}
