import SluiceCore
import SluiceJournal

extension Dispatcher {
    /// In a cluster (`EngineConfiguration.clustered`): the numbers this node holds, each
    /// with the instant (on `clock`) after which it must not send for it unless told
    /// again. Numbers not named are held. Outside a cluster: ignored.
    ///
    /// `fencing`: each held number's fencing token (the etcd revision its owner key was
    /// created at), written into its requests' callback data and journaled with the number
    /// (`SenderRecord.fencing`) before anything is sent under it: a number whose token is
    /// new is held from the call after that commit on (the next round, a second later).
    public func setOwnership(_ deadlines: [String: Instant], fencing: [String: Int64] = [:]) throws {
        var byID: [SenderID: Instant] = [:]
        var tokens: [SenderID: Int64] = [:]
        var unjournaled: [String: Int64] = [:]
        for record in try senders() {
            if let token = fencing[record.phoneNumberID] {
                tokens[record.id] = token
                if record.fencing?.token != token {
                    unjournaled[record.phoneNumberID] = token
                    continue
                }
            }
            if let end = deadlines[record.phoneNumberID] { byID[record.id] = end }
        }
        journalFencing(unjournaled)
        // The tokens first: the first request of a new ownership carries its token.
        loop.post(.fencing(tokens))
        loop.post(.ownership(byID))
    }

    /// Journals new ownerships, one commit for all, unless one for the number is on its way.
    private func journalFencing(_ tokens: [String: Int64]) {
        let now = clock.wallMilliseconds()
        let writes = fencingWrites.withLock { writing -> [JournalMutation] in
            let fresh = tokens.filter { !writing.contains($0.key) }
            writing.formUnion(fresh.keys)
            return fresh.sorted { $0.key < $1.key }.map { .setSenderFencing(phoneNumberID: $0.key, SenderFencing(token: $0.value, sinceMilliseconds: now)) }
        }
        guard !writes.isEmpty else { return }
        journal.apply(writes) { [self] result in
            fencingWrites.withLock { writing in for case .setSenderFencing(let phone, _) in writes { writing.remove(phone) } }
            if case .failure(let error) = result { logger.error("journaling the fencing tokens \(tokens) failed: \(error); not sent for until it is") }
        }
    }
}
