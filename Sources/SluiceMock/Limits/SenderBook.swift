import SluiceCore

/// Registered senders, their limits and every refusal the mock answered.
///
/// Throughput is judged with a sliding log of accepted arrival times per number (never a
/// token bucket); the pair limit is a per-recipient schedule that tolerates a small burst.
final class SenderBook: Sendable {
    /// The throughput window, by arrival time.
    static let windowNanoseconds: Int64 = 1_000_000_000
    /// Messages to one recipient accepted back to back before the pair limit applies.
    static let pairBurst = 3
    /// Sustained spacing of messages to one recipient from one number.
    static let pairIntervalNanoseconds: Int64 = 6_000_000_000
    /// Pair entries above which recovered entries are swept (bounds memory).
    static let pairEntriesSweepThreshold = 100_000
    /// How long a contact's incoming message lets the number send it free-form messages.
    static let customerWindowNanoseconds: Int64 = 24 * 3_600 * 1_000_000_000
    /// Contacts' last-inbound entries above which expired ones are swept (bounds memory).
    static let inboundEntriesSweepThreshold = 100_000

    private struct PairKey: Hashable {
        var phoneNumberID: String
        var recipient: String
    }

    private struct State {
        var senders: [String: MockSender]
        var windows: [String: ArrivalWindow] = [:]
        /// Earliest time at which the next message to the pair is within its sustained rate.
        var pairSchedule: [PairKey: Int64] = [:]
        /// Entry count that triggers the next sweep; doubles with the live entries so a sweep
        /// never runs per request.
        var pairSweepAt = SenderBook.pairEntriesSweepThreshold
        /// When each contact last wrote to each number (wall-clock ns); kept only while the
        /// customer window is judged.
        var lastInbound: [PairKey: Int64] = [:]
        var inboundSweepAt = SenderBook.inboundEntriesSweepThreshold
        var errors: [Int: Int] = [:]
        var errorsPerSender: [String: [Int: Int]] = [:]
        var hangs = 0
        var resets = 0
        var phoneNumberReads: [String: Int] = [:]
        var readReceipts: [String: Int] = [:]
        var stormAnswers = 0
        var stormAnswersPerSender: [String: Int] = [:]
    }

    let requireRegistered: Bool
    let pairLimit: Bool
    /// Refuse free-form sends to contacts that have not written in 24 h (131047).
    let customerWindow: Bool
    private let state: Locked<State>

    init(senders: [String: MockSender], requireRegistered: Bool, pairLimit: Bool, customerWindow: Bool = false) {
        self.requireRegistered = requireRegistered
        self.pairLimit = pairLimit
        self.customerWindow = customerWindow
        self.state = Locked(State(senders: senders))
    }

    /// Adds or replaces a sender; its window of past arrivals is kept.
    func register(phoneNumberID: String, sender: MockSender) {
        state.withLock { $0.senders[phoneNumberID] = sender }
    }

    /// The registered senders.
    func senders() -> [String: MockSender] {
        state.withLock { $0.senders }
    }

    /// Whether `token` may send for `phoneNumberID`.
    func authorizes(phoneNumberID: String, token: Substring) -> Bool {
        guard let sender = state.withLock({ $0.senders[phoneNumberID] }) else { return !requireRegistered }
        guard let expected = sender.accessToken else { return true }
        return Self.constantTimeEquals(Array(expected.utf8), Array(token.utf8))
    }

    /// Judges a valid send arriving at `time` (wall-clock nanoseconds): nil when accepted (and
    /// counted in the sender's window and pair schedule), else the error to answer.
    /// `freeForm`: not a template, so the customer window applies when it is judged.
    func admit(phoneNumberID: String, recipient: String, time: Int64, freeForm: Bool = false) -> MetaError? {
        state.withLock { state in
            // Any number, registered or not: the window is the contact's, not a limit of the
            // number. Refused before the tier, so the refusal takes no place in the window.
            if customerWindow, freeForm {
                let wrote = state.lastInbound[PairKey(phoneNumberID: phoneNumberID, recipient: Self.waID(recipient))]
                guard let wrote, time - wrote < Self.customerWindowNanoseconds else { return .reEngagementMessage() }
            }
            guard let sender = state.senders[phoneNumberID] else { return nil }
            if let tier = sender.tierMessagesPerSecond {
                let allowed = Int(tier.rounded(.down))
                // Mutated in place: copying the window out would copy its storage per request.
                // Kept a window longer than needed: a request stamped earlier may still be
                // judged after this one, and its window reaches back that far.
                state.windows[phoneNumberID, default: ArrivalWindow()].drop(atOrBefore: time - 2 * Self.windowNanoseconds)
                if !state.windows[phoneNumberID, default: ArrivalWindow()].admits(time, allowed: allowed, windowNanoseconds: Self.windowNanoseconds) {
                    return .rateLimitHit()
                }
            }
            if pairLimit {
                let key = PairKey(phoneNumberID: phoneNumberID, recipient: Self.waID(recipient))
                let scheduled = state.pairSchedule[key] ?? time
                // Ahead of schedule by more than the burst allows: refuse.
                if scheduled - time > Int64(Self.pairBurst - 1) * Self.pairIntervalNanoseconds { return .pairRateLimitHit() }
                state.pairSchedule[key] = max(scheduled, time) + Self.pairIntervalNanoseconds
                if state.pairSchedule.count > state.pairSweepAt {
                    // Entries scheduled in the past have fully recovered: forgetting them changes nothing.
                    state.pairSchedule = state.pairSchedule.filter { $0.value > time }
                    state.pairSweepAt = max(Self.pairEntriesSweepThreshold, 2 * state.pairSchedule.count)
                }
            }
            if sender.tierMessagesPerSecond != nil {
                state.windows[phoneNumberID, default: ArrivalWindow()].insert(time)
            }
            return nil
        }
    }

    /// An incoming message the mock posts for the number at `time`: WhatsApp counts a
    /// number's throughput inbound and outbound together, so it takes a place in the
    /// number's window like a send (never refused: the customer is not throttled). It also
    /// opens `contact`'s customer window.
    func noteInbound(phoneNumberID: String, from contact: String, time: Int64) {
        state.withLock { state in
            if customerWindow { Self.noteContactWrote(&state, phoneNumberID: phoneNumberID, contact: contact, time: time) }
            guard state.senders[phoneNumberID]?.tierMessagesPerSecond != nil else { return }
            state.windows[phoneNumberID, default: ArrivalWindow()].drop(atOrBefore: time - 2 * Self.windowNanoseconds)
            state.windows[phoneNumberID, default: ArrivalWindow()].insert(time)
        }
    }

    /// Opens `contact`'s customer window as of `time` without a message (nothing is posted,
    /// the throughput window is untouched): `POST /__mock/contacts/{id}/{wa_id}/inbound`.
    func declareInbound(phoneNumberID: String, contact: String, time: Int64) {
        state.withLock { Self.noteContactWrote(&$0, phoneNumberID: phoneNumberID, contact: contact, time: time) }
    }

    private static func noteContactWrote(_ state: inout State, phoneNumberID: String, contact: String, time: Int64) {
        let key = PairKey(phoneNumberID: phoneNumberID, recipient: waID(contact))
        // A retried or declared message may be older than one already noted.
        state.lastInbound[key] = max(state.lastInbound[key] ?? time, time)
        if state.lastInbound.count > state.inboundSweepAt {
            // Entries past the window refuse exactly as no entry does: forgetting them changes nothing.
            state.lastInbound = state.lastInbound.filter { time - $0.value < customerWindowNanoseconds }
            state.inboundSweepAt = max(inboundEntriesSweepThreshold, 2 * state.lastInbound.count)
        }
    }

    /// A recipient as WhatsApp keys it: `+9665…` and `9665…` are one contact.
    static func waID(_ recipient: String) -> String {
        recipient.hasPrefix("+") ? String(recipient.dropFirst()) : recipient
    }

    /// Counts one error answer; `phoneNumberID` when the path held a valid one.
    func noteError(code: Int, phoneNumberID: String?) {
        state.withLock { state in
            state.errors[code, default: 0] += 1
            if let phoneNumberID { state.errorsPerSender[phoneNumberID, default: [:]][code, default: 0] += 1 }
        }
    }

    /// Counts one 130429 answered because a storm raged (also counted by `noteError`).
    func noteStorm(phoneNumberID: String?) {
        state.withLock { state in
            state.stormAnswers += 1
            if let phoneNumberID { state.stormAnswersPerSender[phoneNumberID, default: 0] += 1 }
        }
    }

    /// Storm answers, in all and per `phone_number_id`.
    func stormCounters() -> (answers: Int, perSender: [String: Int]) {
        state.withLock { ($0.stormAnswers, $0.stormAnswersPerSender) }
    }

    func noteHang() {
        state.withLock { $0.hangs += 1 }
    }

    func noteReset() {
        state.withLock { $0.resets += 1 }
    }

    func notePhoneNumberRead(_ phoneNumberID: String) {
        state.withLock { $0.phoneNumberReads[phoneNumberID, default: 0] += 1 }
    }

    func noteReadReceipt(_ phoneNumberID: String) {
        state.withLock { $0.readReceipts[phoneNumberID, default: 0] += 1 }
    }

    /// Read receipts (`"status":"read"` on the messages endpoint) answered per number.
    func readReceipts() -> [String: Int] {
        state.withLock { $0.readReceipts }
    }

    /// Answered `GET /{version}/{phone_number_id}` per number.
    func phoneNumberReads() -> [String: Int] {
        state.withLock { $0.phoneNumberReads }
    }

    /// The refusal counters (arrivals come from the recorder).
    func counters() -> (errors: [Int: Int], errorsPerSender: [String: [Int: Int]], hangs: Int, resets: Int) {
        state.withLock { ($0.errors, $0.errorsPerSender, $0.hangs, $0.resets) }
    }

    private static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        var difference: UInt8 = 0
        for index in a.indices { difference |= a[index] ^ b[index] }
        return difference == 0
    }
}
