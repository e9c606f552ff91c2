/// What a WhatsApp error means for the message and its sender.
public enum ErrorClass: Sendable, Equatable, CaseIterable {
    /// The sender is over its rate: slow it down and requeue (no attempt used).
    case throttle
    /// Too many messages to one recipient (131056): delay that message only.
    case pairLimit
    /// Worth retrying with backoff and jitter.
    case transient
    /// The sender cannot send (spam flag, token, account or template problems): pause it
    /// and alert; its messages wait.
    case pauseSender
    /// This message will never go: fail it.
    case permanent
}

extension ErrorClass {
    /// The one table of WhatsApp `error.code` values (DESIGN.md, "Classification").
    ///
    /// Unknown codes are `transient`: WhatsApp adds codes over time, and an unknown code
    /// is more often a new transient condition than a verdict on the message. Retrying
    /// costs little because attempts are bounded (`RetryPolicy.attemptsMax`): after the
    /// last one the message fails with the unknown code and message recorded, where an
    /// operator sees it and can add the code here. Treating it as `permanent` would
    /// instead fail messages that a retry would have delivered.
    public static func classify(code: Int) -> ErrorClass {
        switch code {
        // Throttle: slow the sender and retry.
        case 130429, 4, 80007: .throttle
        // Pair limit: delay that recipient.
        case 131056: .pairLimit
        // Transient: retry with backoff and jitter.
        case 1, 2, 131000, 131016, 131057: .transient
        // Pause the sender and alert: spam, policy, token (190, 0), template, account.
        case 131048, 368, 131031, 190, 0, 132015, 132016, 131042: .pauseSender
        // Permanent for that message.
        case 131026, 131047, 131050, 131051, 131008, 131009, 132000, 132001: .permanent
        default: .transient
        }
    }

    /// Classifies an HTTP status that came without a decodable error body: 429 is a
    /// throttle, 5xx (and anything that is not a 4xx) transient, other 4xx permanent.
    public static func classify(httpStatus: Int) -> ErrorClass {
        switch httpStatus {
        case 429: .throttle
        case 400...499: .permanent
        default: .transient
        }
    }
}
