import Foundation
import SluiceCore
import SluiceTransport

/// Marking an incoming message read at WhatsApp: the request takes one of its number's
/// pacing slots like a send (WhatsApp counts it toward the tier), ahead of the campaigns,
/// and its answer goes back to the caller, who waits for it. Not journaled: a caller whose
/// request is lost to a crash sees its HTTP call fail and can repeat it.
public enum ReadReceiptOutcome: Sendable, Equatable {
    /// WhatsApp marked the message read.
    case read
    /// WhatsApp refused it: its error code and message.
    case refused(code: Int, message: String)
    /// No answer from WhatsApp that says either (unreachable, timed out, not JSON).
    case failed(String)
    /// The sender was paused, or deleted, while the request waited for its slot.
    case senderUnavailable(String)
    /// No slot within `waitSecondsMax`.
    case timedOut
    /// The dispatcher is stopping.
    case stopping

    /// Longest a read receipt waits for its number's slot before the caller is told.
    public static let waitSecondsMax = 30
}

extension DispatchCore {
    /// Read receipts are tagged apart from messages (whose tags are their ids).
    static let readTagBit: UInt64 = 1 << 63
    static let readWaitNanosecondsMax = Int64(ReadReceiptOutcome.waitSecondsMax) * 1_000_000_000

    struct ReadRequest {
        var id: UInt64
        var sender: SenderID
        var wamid: String
        var since: Instant
    }

    struct ReadInFlight {
        var id: UInt64
        var sender: SenderID
        var admission: UInt64
    }

    /// `{"messaging_product":"whatsapp","status":"read","message_id":"<wamid>"}`.
    static func readBody(wamid: String) -> [UInt8] {
        let object: [String: Any] = ["messaging_product": "whatsapp", "status": "read", "message_id": wamid]
        return Array((try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data())
    }

    mutating func enqueueRead(id: UInt64, sender: SenderID, wamid: String, into actions: inout [Action]) {
        guard !stopping else { return actions.append(.readAnswered(id, .stopping)) }
        guard let runtime = senders[sender] else { return actions.append(.readAnswered(id, .senderUnavailable("the sender is not registered"))) }
        if runtime.record.paused {
            return actions.append(.readAnswered(id, .senderUnavailable("the sender is paused: \(runtime.record.pauseReason ?? "by the operator")")))
        }
        reads[sender, default: []].append(ReadRequest(id: id, sender: sender, wamid: wamid, since: now))
        scheduler.enqueueSide(sender: sender, now: now)
    }

    /// The read receipts whose slots came, handed to the transport.
    mutating func dispatchReads(_ slots: [SideAdmission], into actions: inout [Action]) {
        var requests: [OutboundRequest] = []
        for slot in slots {
            guard let request = reads[slot.sender]?.first, let runtime = senders[slot.sender] else {
                preconditionFailure("a side slot for sender \(slot.sender) with no read receipt waiting")
            }
            reads[slot.sender]!.removeFirst()
            if reads[slot.sender]!.isEmpty { reads[slot.sender] = nil }
            let tag = Self.readTagBit | request.id
            readsInFlight[tag] = ReadInFlight(id: request.id, sender: slot.sender, admission: slot.admission)
            requests.append(OutboundRequest(tag: tag, url: runtime.url, bearerToken: runtime.record.accessToken, body: Self.readBody(wamid: request.wamid)))
        }
        if !requests.isEmpty { actions.append(.send(requests)) }
    }

    /// A read receipt's request left.
    mutating func readDeparted(tag: UInt64, at instant: Instant) {
        guard let entry = readsInFlight[tag] else { return }
        scheduler.departed(sender: entry.sender, admission: entry.admission, at: instant)
    }

    /// A read receipt's answer: its slot is released and the caller told.
    mutating func settleRead(_ completion: TransportCompletion, into actions: inout [Action]) {
        guard let entry = readsInFlight.removeValue(forKey: completion.tag) else {
            return assertionFailure("completion for a read receipt that is not in flight: \(completion.tag)")
        }
        scheduler.departed(sender: entry.sender, admission: entry.admission, at: now)
        scheduler.completed(sender: entry.sender, count: 1, now: now)
        let outcome: ReadReceiptOutcome
        switch completion.result {
        case .httpError(let status) where (200..<300).contains(status): outcome = .read
        case .accepted: outcome = .read
        case .rejected(_, let code, let message):
            outcome = .refused(code: code, message: message)
            if ErrorClass.classify(code: code) == .throttle { scheduler.throttled(sender: entry.sender, now: now) }
        case .httpError(let status): outcome = .failed("HTTP \(status) without a WhatsApp error")
        case .notSent(let reason), .untrusted(let reason): outcome = .failed("not sent: \(reason)")
        case .inDoubt(let reason): outcome = .failed("no answer: \(reason)")
        }
        actions.append(.readAnswered(entry.id, outcome))
    }

    /// Read receipts that waited too long, or whose sender was paused or deleted meanwhile.
    mutating func expireReads(into actions: inout [Action]) {
        guard !reads.isEmpty else { return }
        for (sender, waiting) in reads {
            var gone: String?
            if let runtime = senders[sender] {
                if runtime.record.paused { gone = "the sender was paused: \(runtime.record.pauseReason ?? "by the operator")" }
            } else {
                gone = "the sender was deleted"
            }
            var kept = waiting
            kept.removeAll { request in
                let late = now - request.since >= Self.readWaitNanosecondsMax
                guard gone != nil || late else { return false }
                actions.append(.readAnswered(request.id, gone.map(ReadReceiptOutcome.senderUnavailable) ?? .timedOut))
                return true
            }
            let dropped = waiting.count - kept.count
            if dropped > 0 { scheduler.withdrawSide(sender: sender, count: dropped, now: now) }
            reads[sender] = kept.isEmpty ? nil : kept
        }
    }

    /// Every waiting read receipt told `outcome` (the core is stopping).
    mutating func answerAllReads(_ outcome: ReadReceiptOutcome, into actions: inout [Action]) {
        for (sender, waiting) in reads {
            for request in waiting { actions.append(.readAnswered(request.id, outcome)) }
            scheduler.withdrawSide(sender: sender, count: waiting.count, now: now)
        }
        reads = [:]
    }
}
