import SluiceCore

extension Dispatcher {
    /// In a cluster (`EngineConfiguration.clustered`): the numbers this node holds, each
    /// with the instant (on `clock`) after which it must not send for it unless told
    /// again. Numbers not named are held. Outside a cluster: ignored.
    ///
    /// `fencing`: each held number's fencing token (the etcd revision its owner key was
    /// created at), written into its requests' callback data.
    public func setOwnership(_ deadlines: [String: Instant], fencing: [String: Int64] = [:]) throws {
        var byID: [SenderID: Instant] = [:]
        var tokens: [SenderID: Int64] = [:]
        for record in try senders() {
            if let end = deadlines[record.phoneNumberID] { byID[record.id] = end }
            if let token = fencing[record.phoneNumberID] { tokens[record.id] = token }
        }
        // The tokens first: the first request of a new ownership carries its token.
        loop.post(.fencing(tokens))
        loop.post(.ownership(byID))
    }
}
