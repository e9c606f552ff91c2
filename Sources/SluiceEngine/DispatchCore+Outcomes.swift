import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

/// Outcomes: settling completions into journal transitions, back-off and pauses, and
/// the group commit of outcomes.
extension DispatchCore {
    mutating func settle(_ completions: [TransportCompletion], into actions: inout [Action]) {
        var transitions: [MessageTransition] = []
        transitions.reserveCapacity(completions.count)
        var pausedSenders: [SenderID: String] = [:]
        var unreachable: [SenderID: String] = [:]
        var reached: Set<SenderID> = []
        for completion in completions {
            if completion.tag & Self.readTagBit != 0 {
                settleRead(completion, into: &actions)
                continue
            }
            guard let entry = inFlight.removeValue(forKey: completion.tag) else {
                assertionFailure("completion for a message that is not in flight: \(completion.tag)")
                continue
            }
            let message = entry.message
            // Refused before libcurl had it: no departure report came.
            release(message, admission: entry.admission)
            let attempts = message.attempts &+ 1
            let decision = configuration.outcome.decide(completion.result, attempts: attempts, using: &random)
            if let label = Self.errorLabel(completion.result) { senders[message.sender]?.snapshot.errors[label, default: 0] += 1 }
            switch decision.sender {
            case .none: break
            case .throttle:
                scheduler.throttled(sender: message.sender, now: now)
                senders[message.sender]?.snapshot.throttled += 1
            case .pause(let reason):
                if entry.senderRevision == senders[message.sender]?.revision { pausedSenders[message.sender] = reason }
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
                campaigns[message.campaign]?.failureGuard.succeeded()
                senders[message.sender]?.snapshot.sent += 1
                sentSinceSnapshot[message.campaign, default: 0] += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .sent, attempts: attempts, notBeforeMilliseconds: 0,
                    updatedMilliseconds: wall, wamid: wamid, errorCode: 0, errorMessage: nil))
            case .requeue:
                // Not sent (throttled or the sender is paused): still `in_flight` in the
                // journal, back at the head of its queue in memory, no attempt used.
                staged[message.id] = message.sender
                if stopping { restage([message], into: &actions) } else { route([message], into: &actions) }
            case .retry(let after):
                senders[message.sender]?.snapshot.retried += 1
                transitions.append(MessageTransition(
                    id: message.id, to: .retryAt, attempts: attempts, notBeforeMilliseconds: wall + after,
                    updatedMilliseconds: wall, wamid: nil, errorCode: errorCode(completion.result),
                    errorMessage: errorText(completion.result)))
            case .fail(let code, let text):
                if campaigns[message.campaign]?.failureGuard.failed(code: code, message: text) == true, let reason = campaigns[message.campaign]?.failureGuard.reason {
                    logger.warning("campaign \(message.campaign): \(reason)")
                    actions.append(.pauseCampaign(message.campaign, reason: reason))
                }
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
        for (sender, reason) in pausedSenders { pause(sender, reason: reason, into: &actions) }
        for sender in reached where unreachable[sender] == nil { endpointReached(sender) }
        for (sender, reason) in unreachable { endpointUnreachable(sender, reason: reason) }
    }

    /// The endpoint could not be reached for the sender (connect, DNS, TLS handshake): its
    /// messages wait, and it probes again after a backoff that doubles up to
    /// `unreachableBackoffMaxMilliseconds`, with jitter.
    mutating func endpointUnreachable(_ sender: SenderID, reason: String) {
        guard var runtime = senders[sender] else { return }
        // One outage fails every request on the wire (a connect timeout, dozens at once):
        // those after the first fall in the backoff it started and do not lengthen it.
        guard now >= runtime.unreachableUntil else { return }
        let failures = runtime.endpointFailures
        runtime.endpointFailures += 1
        if failures == 0 {
            logger.warning("the endpoint of sender \(runtime.record.phoneNumberID) cannot be reached (\(reason)); its messages wait and it retries with backoff")
        }
        runtime.snapshot.endpointError = reason
        let base = min(Self.unreachableBackoffMaxMilliseconds, Self.unreachableBackoffMilliseconds << min(failures, 16))
        let delay = base / 2 + Int64.random(in: 0...(base / 2), using: &random)
        runtime.unreachableUntil = now + delay * 1_000_000
        senders[sender] = runtime
        scheduler.hold(sender, until: runtime.unreachableUntil)
    }

    mutating func endpointReached(_ sender: SenderID) {
        guard var runtime = senders[sender], runtime.endpointFailures > 0 else { return }
        logger.notice("the endpoint of sender \(runtime.record.phoneNumberID) answers again after \(runtime.endpointFailures) failed attempt(s)")
        runtime.endpointFailures = 0
        runtime.snapshot.endpointError = nil
        senders[sender] = runtime
    }

    mutating func pause(_ sender: SenderID, reason: String, into actions: inout [Action]) {
        guard var runtime = senders[sender], !runtime.record.paused else { return }
        logger.warning("pausing sender \(runtime.record.phoneNumberID): \(reason)")
        runtime.record.paused = true
        runtime.record.pauseReason = reason
        runtime.snapshot.paused = true
        runtime.snapshot.pauseReason = reason
        senders[sender] = runtime
        scheduler.pause(sender)
        actions.append(.commit(.sender(runtime.record)))
    }

    /// Queues outcomes for the next group commit. A crash before it leaves these messages
    /// `in_flight`, so they recover `in_doubt`, as if the process had died a moment sooner.
    mutating func record(_ transitions: [MessageTransition]) {
        if pendingOutcomes.isEmpty {
            outcomesFlushAt = now + configuration.outcomeFlushMilliseconds * 1_000_000
        }
        pendingOutcomes.append(contentsOf: transitions)
    }

    /// Commits the pending outcomes. A commit that fails for the store's sake (disk full)
    /// hands them back to be retried: the core never forgets an outcome it could not
    /// record, so a message that went is not resent once the disk has room again.
    mutating func flushOutcomes(into actions: inout [Action]) {
        outcomesFlushAt = nil
        guard !pendingOutcomes.isEmpty else { return }
        actions.append(.commit(.outcomes(pendingOutcomes)))
        pendingOutcomes.removeAll(keepingCapacity: true)
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
}
