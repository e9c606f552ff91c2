import Foundation
import SluiceCore

extension Journal {
    /// Call once at start, before any `apply`: every `in_flight` message (its send may or
    /// may not have reached WhatsApp) becomes `in_doubt` with not-before
    /// `nowMilliseconds + inDoubtSettleMilliseconds`, in one transaction. Idempotent.
    /// With `departures` (the stopped process's departure record, same boot), those that
    /// certainly never left go back to `queued` instead. Returns what is waiting, per
    /// state and per sender.
    public func recover(
        nowMilliseconds: Int64, inDoubtSettleMilliseconds: Int64, departures: DepartureEvidence? = nil
    ) throws(JournalError) -> RecoveryReport {
        let done = DispatchSemaphore(value: 0)
        nonisolated(unsafe) var result: Result<RecoveryReport, JournalError>?
        writer.enqueueRecovery(nowMilliseconds: nowMilliseconds, settleMilliseconds: inDoubtSettleMilliseconds, departures: departures) {
            result = $0
            done.signal()
        }
        done.wait()
        return try result!.get()
    }
}

extension JournalWriter {
    /// Runs on the writer thread, alone in its transaction; retried after map growth.
    func runRecovery(nowMilliseconds: Int64, settleMilliseconds: Int64, departures: DepartureEvidence?) -> Result<RecoveryReport, JournalError> {
        while true {
            do {
                return .success(try recoverOnce(nowMilliseconds: nowMilliseconds, settleMilliseconds: settleMilliseconds, departures: departures))
            } catch let error as LMDBError where error.isMapFull {
                if let failure = growMap() { return .failure(failure) }
            } catch {
                return .failure(JournalError(any: error, path: path))
            }
        }
    }

    private func recoverOnce(nowMilliseconds: Int64, settleMilliseconds: Int64, departures: DepartureEvidence?) throws -> RecoveryReport {
        var next = state
        let txn = try environment.beginWrite()
        let inFlight = try txn.withCursor(tables.inflight) { c in
            var ids: [MessageID] = []
            var entry = try c.first()
            while let (key, _) = entry {
                ids.append(MessageID(Key.id(key)))
                entry = try c.next()
            }
            return ids
        }
        let notBefore = nowMilliseconds + settleMilliseconds
        var moves: [MessageTransition] = []
        moves.reserveCapacity(inFlight.count)
        var requeued = 0
        for id in inFlight {
            if let departures, try neverLeft(id, departures, txn) {
                // Staged, never written to the wire: nothing can have reached WhatsApp.
                moves.append(MessageTransition(id: id, to: .queued, updatedMilliseconds: nowMilliseconds))
                requeued += 1
            } else {
                moves.append(MessageTransition(id: id, to: .inDoubt, notBeforeMilliseconds: notBefore, updatedMilliseconds: nowMilliseconds))
            }
        }
        let (applied, rejected) = try apply(moves, txn, &next)
        assert(rejected.isEmpty && applied == inFlight.count, "inflight index names \(rejected.count) messages that are not in_flight")
        try flushCampaigns(txn, &next)

        var report = RecoveryReport(inFlightToInDoubt: applied - requeued, queued: 0, due: 0, counts: StateCounts(), senders: [:])
        report.inFlightToQueued = requeued
        try txn.withCursor(tables.pending) { c in
            var entry = try c.first()
            while let (key, _) = entry {
                report.queued += 1
                report.senders[Key.sender(key), default: .init(queued: 0, due: 0)].queued += 1
                entry = try c.next()
            }
        }
        try txn.withCursor(tables.due) { c in
            var entry = try c.first()
            while let (key, _) = entry {
                report.due += 1
                let at = Key.fromOrderedBits(Key.middle(key))
                report.senders[Key.sender(key), default: .init(queued: 0, due: 0)].due += 1
                // Keys are ordered by time within a sender: the first seen is the earliest.
                if report.senders[Key.sender(key)]!.earliestDueMilliseconds == nil {
                    report.senders[Key.sender(key)]!.earliestDueMilliseconds = at
                }
                entry = try c.next()
            }
        }
        try txn.withCursor(tables.campaigns) { c in
            var entry = try c.first()
            while let (key, value) = entry {
                let id = CampaignID(Key.id(key))
                guard let campaign = try? CampaignCodec.readHeader(id: id, value) else {
                    throw JournalError.corruptRecord(path: path, table: Schema.campaigns, key: id.description)
                }
                for (i, n) in campaign.counts.values.enumerated() { report.counts.values[i] += n }
                entry = try c.next()
            }
        }
        // The counts and the indexes are kept in the same transactions: they must agree.
        assert(report.counts[.queued] == UInt64(report.queued), "queued count \(report.counts[.queued]) ≠ pending entries \(report.queued)")
        assert(report.counts[.retryAt] + report.counts[.inDoubt] == UInt64(report.due), "due counts ≠ due entries \(report.due)")
        assert(report.counts[.inFlight] == 0, "in_flight messages remain after recovery")

        try txn.commit()
        state = next
        return report
    }

    /// Whether the departure record proves the `in_flight` message never left: not among
    /// the departures, and staged (its last update) inside the span the record covers.
    private func neverLeft(_ id: MessageID, _ departures: DepartureEvidence, _ txn: borrowing Transaction) throws -> Bool {
        // The staged time decides only when the record wrapped: read it then.
        guard departures.coveredFromMilliseconds != nil else { return departures.neverLeft(id.rawValue, stagedMilliseconds: 0) }
        guard let stored = try Key(id: id.rawValue).withBytes({ try txn.get(tables.messages, $0) }),
            let staged = MessageCodec.readUpdatedMilliseconds(stored)
        else { return false }
        return departures.neverLeft(id.rawValue, stagedMilliseconds: staged)
    }
}
