import SluiceCore

extension Dispatcher {
    /// In a cluster (`EngineConfiguration.clustered`): the numbers this node holds, each
    /// with the instant (on `clock`) after which it must not send for it unless told
    /// again. Numbers not named are held. Outside a cluster: ignored.
    public func setOwnership(_ deadlines: [String: Instant]) throws {
        var byID: [SenderID: Instant] = [:]
        for record in try senders() {
            if let end = deadlines[record.phoneNumberID] { byID[record.id] = end }
        }
        loop.post(.ownership(byID))
    }
}
