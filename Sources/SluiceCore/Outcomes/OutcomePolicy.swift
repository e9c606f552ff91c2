/// Turns what the transport reported for one send into what happens to the message and
/// its sender. Pure: randomness (for jitter) is passed in.
///
/// | result | class | message | sender |
/// |---|---|---|---|
/// | accepted | — | `sent(wamid)` | none |
/// | rejected / httpError | throttle | `requeue` (no attempt used) | `throttle` |
/// | rejected | pair limit | `retry(4^n s)`, `fail` after `attemptsMax` | none |
/// | rejected / httpError | transient | `retry(jittered)`, `fail` after `attemptsMax` | none |
/// | rejected | pause sender | `requeue` | `pause(reason)` |
/// | rejected / httpError | permanent | `fail(code, message)` | none |
/// | httpError 2xx | — | `inDoubt` (WhatsApp answered success without a body we could read) | none |
/// | notSent | — | `requeue` (no attempt used: it never left) | `backoff` (the endpoint is unreachable) |
/// | untrusted | — | `requeue` | `pause(reason)` (its TLS certificate is not trusted) |
/// | inDoubt | — | `inDoubt(settleAfter:)` | none |
///
/// A failure from an HTTP status without a WhatsApp body records the HTTP status as its
/// code (no WhatsApp code lies in 100...599 except 190 and 368, which no HTTP status is).
public struct OutcomePolicy: Sendable {
    /// Code recorded for a message that failed because its requests were never written.
    public static let notSentErrorCode: Int32 = -1
    /// Bound on the in-doubt settle window (one day).
    public static let inDoubtSettleMillisecondsMax: Int64 = 86_400_000

    public var retry: RetryPolicy
    /// How long an in-doubt message waits for a status webhook before it may be resent.
    public var inDoubtSettleMilliseconds: Int64

    public init(retry: RetryPolicy = RetryPolicy(), inDoubtSettleMilliseconds: Int64 = 600_000) {
        precondition(inDoubtSettleMilliseconds >= 0 && inDoubtSettleMilliseconds <= Self.inDoubtSettleMillisecondsMax)
        self.retry = retry
        self.inDoubtSettleMilliseconds = inDoubtSettleMilliseconds
    }

    /// Decides for one result. `attempts` counts the attempts used including this send.
    public func decide(_ result: SendResult, attempts: UInt16, using rng: inout some RandomNumberGenerator) -> OutcomeDecision {
        precondition(attempts >= 1, "attempts include this send")
        switch result {
        case .accepted(let wamid):
            return OutcomeDecision(message: .sent(wamid: wamid), sender: .none)
        case .rejected(_, let code, let message):
            return decide(class: ErrorClass.classify(code: code), code: Int32(clamping: code), message: message, attempts: attempts, using: &rng)
        case .httpError(let httpStatus):
            if (200...299).contains(httpStatus) {
                return OutcomeDecision(message: .inDoubt(settleAfterMilliseconds: inDoubtSettleMilliseconds), sender: .none)
            }
            return decide(
                class: ErrorClass.classify(httpStatus: httpStatus), code: Int32(clamping: httpStatus),
                message: "HTTP \(httpStatus)", attempts: attempts, using: &rng)
        case .notSent(let reason):
            // Connect, DNS, TLS handshake: certainly not sent. The message waits for the
            // endpoint as long as it is down; the sender probes it with backoff.
            return OutcomeDecision(message: .requeue, sender: .backoff(reason: reason))
        case .untrusted(let reason):
            return OutcomeDecision(message: .requeue, sender: .pause(
                reason: "the endpoint's TLS certificate is not trusted (\(reason)); nothing was sent: fix the CA file or the endpoint, then resume the sender"))
        case .inDoubt:
            return OutcomeDecision(message: .inDoubt(settleAfterMilliseconds: inDoubtSettleMilliseconds), sender: .none)
        }
    }

    private func decide(class errorClass: ErrorClass, code: Int32, message: String, attempts: UInt16, using rng: inout some RandomNumberGenerator) -> OutcomeDecision {
        let exhausted = Int(attempts) >= retry.attemptsMax
        switch errorClass {
        case .throttle:
            return OutcomeDecision(message: .requeue, sender: .throttle)
        case .pauseSender:
            return OutcomeDecision(message: .requeue, sender: .pause(reason: "WhatsApp error \(code): \(message)"))
        case .permanent:
            return OutcomeDecision(message: .fail(code: code, message: message), sender: .none)
        case .pairLimit:
            if exhausted { return OutcomeDecision(message: .fail(code: code, message: message), sender: .none) }
            return OutcomeDecision(message: .retry(afterMilliseconds: retry.pairLimitDelayMilliseconds(attempt: Int(attempts))), sender: .none)
        case .transient:
            if exhausted { return OutcomeDecision(message: .fail(code: code, message: message), sender: .none) }
            return OutcomeDecision(message: .retry(afterMilliseconds: retry.delayMilliseconds(attempt: Int(attempts), using: &rng)), sender: .none)
        }
    }
}

/// What happens to one message and its sender after a send.
public struct OutcomeDecision: Sendable, Equatable {
    public var message: MessageAction
    public var sender: SenderEffect
    public init(message: MessageAction, sender: SenderEffect) {
        self.message = message
        self.sender = sender
    }
}

/// The journal transition for the message.
public enum MessageAction: Sendable, Equatable {
    /// Accepted by WhatsApp.
    case sent(wamid: String)
    /// Throttle, pause or an unreachable endpoint: not sent, back to the queue, no attempt used.
    case requeue
    /// Retry after a delay; the attempt was used.
    case retry(afterMilliseconds: Int64)
    /// Final failure with the WhatsApp (or transport) code and message.
    case fail(code: Int32, message: String)
    /// May have been sent: wait for a status webhook before any resend.
    case inDoubt(settleAfterMilliseconds: Int64)
}

/// What happens to the sender.
public enum SenderEffect: Sendable, Equatable {
    case none
    /// Slow down (AIMD decrease).
    case throttle
    /// Stop sending and alert an operator.
    case pause(reason: String)
    /// The endpoint could not be reached: hold the sender and try again later.
    case backoff(reason: String)
}
