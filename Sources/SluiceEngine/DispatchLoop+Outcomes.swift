import Foundation
import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// Outcomes: settling completions into journal transitions, back-off and pauses, and
/// the published snapshots.
extension DispatchLoop {

    func settle(_ completions: [TransportCompletion], now: Instant) {
        let wall = clock.wallMilliseconds()
        var transitions: [MessageTransition] = []
        transitions.reserveCapacity(completions.count)
        var pausedSenders: [SenderID: String] = [:]
        var unreachable: [SenderID: String] = [:]
        var reached: Set<SenderID> = []
        for completion in completions {
            guard let entry = inFlight.removeValue(forKey: completion.tag) else {
                assertionFailure("completion for a message that is not in flight: \(completion.tag)")
                continue
            }
            let message = entry.message
            // Refused before libcurl had it: no departure report came.
            scheduler.departed(sender: message.sender, admission: entry.admission, at: now)
            scheduler.completed(sender: message.sender, count: 1, now: now)
            let attempts = message.attempts &+ 1
            // A local generator: an inout access to an empty stored property crashes the thread
            // sanitizer (it instruments a meaningless address).
            var rng = SystemRandomNumberGenerator()
            let decision = configuration.outcome.decide(completion.result, attempts: attempts, using: &rng)
            if let label = Self.errorLabel(completion.result) { senders[message.sender]?.snapshot.errors[label, default: 0] += 1 }
            switch decision.sender {
            case .none: break
            case .throttle:
                scheduler.throttled(sender: message.sender, now: now)
                senders[message.sender]?.snapshot.throttled += 1
            case .pause(let reason):
                pausedSenders[message.sender] = reason
            case .backoff(let reason):
                unreachable[message.sender] = reason
            }
            switch completion.result {
            case .notSent, .untrusted: break
            case .accepted, .rejected, .httpError:
                reached.insert(message.sender)
                // An answer: how long the endpoint takes sizes how much may be in flight.
                scheduler.answered(latencyNanoseconds: completion.answerNanoseconds, now: now)
            case .inDoubt: reached.insert(message.sender)
            }
            switch decision.message {
            case .sent(let wamid):
                senders[message.sender]?.snapshot.sent += 1
                sentSinceSnapshot[message.campaign, default: 0] += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .sent, attempts: attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: wamid, errorCode: 0, errorMessage: nil))
            case .requeue:
                // Not sent (throttled or the sender is paused): still `in_flight` in the
                // journal, back at the head of its queue in memory, no attempt used.
                staged[message.id] = message.sender
                if stopping { restage([message]) } else { route([message]) }
            case .retry(let after):
                senders[message.sender]?.snapshot.retried += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .retryAt, attempts: attempts, notBeforeMilliseconds: wall + after,
                    updatedMilliseconds: wall, wamid: nil, errorCode: errorCode(completion.result),
                    errorMessage: errorText(completion.result)))
            case .fail(let code, let text):
                senders[message.sender]?.snapshot.failed += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .failed, attempts: attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: nil, errorCode: code, errorMessage: text))
            case .inDoubt(let settle):
                senders[message.sender]?.snapshot.inDoubt += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .inDoubt, attempts: attempts, notBeforeMilliseconds: wall + settle,
                    updatedMilliseconds: wall, wamid: nil, errorCode: 0, errorMessage: errorText(completion.result)))
            }
        }
        if !transitions.isEmpty { record(transitions) }
        for (sender, reason) in pausedSenders { pause(sender, reason: reason) }
        for sender in reached where unreachable[sender] == nil { endpointReached(sender) }
        for (sender, reason) in unreachable { endpointUnreachable(sender, reason: reason, now: now) }
    }

    /// The endpoint could not be reached for the sender (connect, DNS, TLS handshake): its
    /// messages wait, and it probes again after a backoff that doubles up to
    /// `unreachableBackoffMaxMilliseconds`, with jitter.
    func endpointUnreachable(_ sender: SenderID, reason: String, now: Instant) {
        guard var runtime = senders[sender] else { return }
        let failures = runtime.endpointFailures
        runtime.endpointFailures += 1
        if failures == 0 {
            logger.warning("the endpoint of sender \(runtime.record.phoneNumberID) cannot be reached (\(reason)); its messages wait and it retries with backoff")
        }
        runtime.snapshot.endpointError = reason
        senders[sender] = runtime
        let base = min(Self.unreachableBackoffMaxMilliseconds, Self.unreachableBackoffMilliseconds << min(failures, 16))
        var rng = SystemRandomNumberGenerator()
        let delay = base / 2 + Int64.random(in: 0...(base / 2), using: &rng)
        scheduler.hold(sender, until: now + delay * 1_000_000)
    }

    func endpointReached(_ sender: SenderID) {
        guard var runtime = senders[sender], runtime.endpointFailures > 0 else { return }
        logger.notice("the endpoint of sender \(runtime.record.phoneNumberID) answers again after \(runtime.endpointFailures) failed attempt(s)")
        runtime.endpointFailures = 0
        runtime.snapshot.endpointError = nil
        senders[sender] = runtime
    }

    func pause(_ sender: SenderID, reason: String) {
        guard var runtime = senders[sender], !runtime.record.paused else { return }
        logger.warning("pausing sender \(runtime.record.phoneNumberID): \(reason)")
        runtime.record.paused = true
        runtime.record.pauseReason = reason
        runtime.snapshot.paused = true
        runtime.snapshot.pauseReason = reason
        senders[sender] = runtime
        scheduler.pause(sender)
        let record = runtime.record
        journal.apply([.putSender(record)]) { [logger] result in
            if case .failure(let error) = result { logger.error("journaling the pause of \(record.phoneNumberID) failed: \(error)") }
        }
    }

    /// First and longest hold of a sender whose endpoint cannot be reached.
    static let unreachableBackoffMilliseconds: Int64 = 500
    static let unreachableBackoffMaxMilliseconds: Int64 = 30_000

    /// Time constant of the published send rates.
    static let rateSmoothingSeconds = 2.0

    /// Most outcomes held for one commit.
    static let outcomesBatchMax = 1024

    /// Queues outcomes for the next group commit. A crash before it leaves these messages
    /// `in_flight`, so they recover `in_doubt`, as if the process had died a moment sooner.
    func record(_ transitions: [MessageTransition]) {
        if pendingOutcomes.isEmpty {
            outcomesFlushAt = clock.now() + configuration.outcomeFlushMilliseconds * 1_000_000
        }
        pendingOutcomes.append(contentsOf: transitions)
    }

    /// Commits the pending outcomes. A commit that fails for the store's sake (disk full)
    /// hands them back to be retried: the loop never forgets an outcome it could not
    /// record, so a message that went is not resent once the disk has room again.
    func flushOutcomes() {
        outcomesFlushAt = nil
        guard !pendingOutcomes.isEmpty else { return }
        let batch = pendingOutcomes
        pendingOutcomes.removeAll(keepingCapacity: true)
        journal.apply([.transition(batch)]) { [self, logger] result in
            switch result {
            case .success(let receipt):
                if case .transitions(_, let rejected)? = receipt.results.first, rejected > 0 {
                    logger.warning("recording send outcomes: the journal rejected \(rejected) transition(s)")
                }
                post(.outcomesRecorded)
            case .failure(let error) where error.isTransient:
                post(.outcomesFailed(batch))
            case .failure(let error):
                logger.error("recording send outcomes failed: \(error)")
            }
        }
    }

    /// Pause before outcomes whose commit failed are tried again.
    static let outcomeRetryMilliseconds: Int64 = 200

    func applyLogged(_ transitions: [MessageTransition], what: String) {
        journal.apply([.transition(transitions)]) { [logger] result in
            switch result {
            case .success(let receipt):
                if case .transitions(_, let rejected)? = receipt.results.first, rejected > 0 {
                    logger.warning("\(what): the journal rejected \(rejected) transition(s)")
                }
            case .failure(let error):
                logger.error("\(what) failed: \(error)")
            }
        }
    }

    func errorCode(_ result: SendResult) -> Int32 {
        switch result {
        case .rejected(_, let code, _): Int32(truncatingIfNeeded: code)
        case .httpError(let status): Int32(status)
        default: 0
        }
    }

    /// The metrics label of an unsuccessful outcome; nil for an accepted send.
    static func errorLabel(_ result: SendResult) -> String? {
        switch result {
        case .accepted: nil
        case .rejected(_, let code, _): String(code)
        case .httpError(let status): "http_\(status)"
        case .notSent: "not_sent"
        case .untrusted: "untrusted"
        case .inDoubt: "in_doubt"
        }
    }

    func errorText(_ result: SendResult) -> String? {
        switch result {
        case .rejected(let status, let code, let message): "HTTP \(status), error \(code): \(message)"
        case .httpError(let status): "HTTP \(status)"
        case .notSent(let reason), .inDoubt(let reason), .untrusted(let reason): reason
        case .accepted: nil
        }
    }

    func publishSnapshots() {
        if !removing.isEmpty { removeIdle() }
        let now = clock.now()
        let seconds = lastSnapshot.map { Double(now - $0) / 1e9 } ?? 0
        lastSnapshot = now
        // Exponential smoothing over about `rateSmoothingSeconds`.
        let alpha = seconds > 0 ? 1 - exp(-seconds / Self.rateSmoothingSeconds) : 0
        if seconds > 0 {
            for id in Set(campaignRates.keys).union(sentSinceSnapshot.keys) {
                let current = Double(sentSinceSnapshot[id] ?? 0) / seconds
                let rate = (campaignRates[id] ?? 0) + alpha * (current - (campaignRates[id] ?? 0))
                campaignRates[id] = rate < 0.01 && sentSinceSnapshot[id] == nil ? nil : rate
            }
        }
        sentSinceSnapshot.removeAll(keepingCapacity: true)
        var list: [SenderSnapshot] = []
        list.reserveCapacity(senders.count)
        let wall = clock.wallMilliseconds()
        for (id, runtime) in senders {
            var s = runtime.snapshot
            if seconds > 0 {
                let current = Double(s.sent &- (senderSentAtSnapshot[id] ?? s.sent)) / seconds
                senderRates[id, default: 0] += alpha * (current - senderRates[id, default: 0])
            }
            senderSentAtSnapshot[id] = s.sent
            s.sendRate = senderRates[id] ?? 0
            s.effectiveMessagesPerSecond = scheduler.effectiveRate(sender: id) ?? s.tierMessagesPerSecond
            s.staged = scheduler.queuedCount(sender: id)
            s.inFlight = scheduler.inFlightCount(sender: id)
            s.inFlightLimit = scheduler.inFlightLimit(sender: id) ?? 0
            let limit = limits.status(id, nowMilliseconds: wall)
            s.messagingLimit = limit.limit
            s.uniqueRecipients24h = limit.unique
            s.limitedUntilMilliseconds = limit.limitedUntil
            list.append(s)
        }
        list.sort { $0.id < $1.id }
        snapshotLock.lock()
        publishedSnapshots = list
        publishedCampaignRates = campaignRates
        publishedLagNanoseconds = lagMaxNanoseconds
        publishedLatencyNanoseconds = scheduler.budget.latencyNanoseconds
        // The scheduler keeps state only for campaigns the book has loaded.
        publishedCampaignsHeld = campaigns.entries.count
        snapshotLock.unlock()
        lagMaxNanoseconds = 0
    }
}
