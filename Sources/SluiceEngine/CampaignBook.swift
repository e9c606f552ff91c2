import HeapModule
import SluiceCore
import SluiceJournal
import SluiceTransport

/// What the dispatch core knows of each campaign it has seen: its compiled message, its
/// options and whether it may send now. Loaded from the journal on first use.
struct CampaignBook {
    enum Status: Equatable {
        /// Sending.
        case open
        /// Paused by its owner.
        case paused
        /// `schedule_at` is still ahead.
        case scheduled
        /// Open, but a file it sends has no Meta media id for its number yet: it waits
        /// for the upload (`DispatchCore+Media`).
        case preparing
        /// Cancelled or expired: what was not sent ends in this state.
        case ended(MessageState)
    }

    struct Entry {
        var sender: SenderID
        var template: MessageTemplate?
        /// Why the message cannot be rendered, when it cannot.
        var broken: String?
        var options: CampaignOptions
        var status: Status
        /// Journal commits that return its messages to the queue, not yet durable: it
        /// must not page in until they are (they could be skipped).
        var restaging = 0
        /// It became open while `restaging > 0`: page it in when they are done.
        var availableAfterRestage = false
        /// The message object, kept only when it names files of the media volume: it is
        /// compiled again with each new Meta media id.
        var message: [UInt8]? = nil
        /// The files it names (Sluice ids, each once) and the number's upload of each.
        var media: [String] = []
        var uploads: [String: MediaUpload] = [:]
        /// Pauses it when its first outcomes all fail the same permanent way.
        var failureGuard = FailureGuard(limit: 0)

        /// A file it names has no usable Meta media id yet.
        var mediaMissing: Bool { media.contains { uploads[$0] == nil } }
    }

    private struct Timer: Comparable {
        var wallMilliseconds: Int64
        var campaign: CampaignID
        static func < (a: Self, b: Self) -> Bool {
            a.wallMilliseconds != b.wallMilliseconds ? a.wallMilliseconds < b.wallMilliseconds : a.campaign < b.campaign
        }
    }

    /// A campaign as intake compiled it: what the loop would otherwise read back.
    struct Compiled: Sendable {
        var sender: SenderID
        var template: MessageTemplate
        var options: CampaignOptions
    }

    private(set) var entries: [CampaignID: Entry] = [:]
    /// `EngineConfiguration.failureGuardMessages`.
    var failureGuardLimit = 0
    private var timers = Heap<Timer>()

    /// The campaign's entry, read from the journal the first time; nil when the journal
    /// has no such campaign (its messages cannot be sent).
    mutating func entry(_ id: CampaignID, lookups: any DispatchLookups, wallMilliseconds wall: Int64) throws(JournalError) -> Entry? {
        if let e = entries[id] { return e }
        guard let record = try lookups.campaign(id) else { return nil }
        var entry = Entry(sender: record.sender, options: record.options, status: Self.status(record, wallMilliseconds: wall))
        // Outcomes before this process (a restart, an owner's resume after the guard):
        // the guard looks only at a campaign's first ones.
        let settled = record.counts[.sent] + record.counts[.delivered] + record.counts[.read] + record.counts[.failed]
        entry.failureGuard = FailureGuard(limit: failureGuardLimit, armed: settled == 0)
        do {
            let template = try MessageTemplate(messageObject: record.message)
            if template.mediaResolved {
                entry.template = template
            } else {
                // Compiled again once its files have Meta media ids (`prepareMedia`).
                entry.message = record.message
                var seen = Set<String>()
                entry.media = template.media.map(\.id).filter { seen.insert($0).inserted }
            }
        } catch {
            entry.broken = "campaign message is invalid: \(error)"
        }
        return insert(id, entry, wallMilliseconds: wall)
    }

    /// The entry of a campaign intake just made active, from what intake compiled.
    mutating func entry(_ id: CampaignID, compiled: Compiled, wallMilliseconds wall: Int64) -> Entry {
        let status = Self.status(options: compiled.options, paused: false, wallMilliseconds: wall)
        var entry = Entry(sender: compiled.sender, template: compiled.template, options: compiled.options, status: status)
        entry.failureGuard = FailureGuard(limit: failureGuardLimit)
        return insert(id, entry, wallMilliseconds: wall)
    }

    private mutating func insert(_ id: CampaignID, _ entry: Entry, wallMilliseconds wall: Int64) -> Entry {
        entries[id] = entry
        if let start = entry.options.scheduleAtMilliseconds, start > wall { timers.insert(Timer(wallMilliseconds: start, campaign: id)) }
        if let end = entry.options.expiresAtMilliseconds, end > wall { timers.insert(Timer(wallMilliseconds: end, campaign: id)) }
        return entry
    }

    subscript(id: CampaignID) -> Entry? {
        get { entries[id] }
        // In place: `campaigns[id]?.failureGuard.succeeded()` runs for every answer, and
        // a get/set pair would copy the entry each time.
        _modify { yield &entries[id] }
    }

    /// Drops the campaign (its start or expiry timer, if any, finds no entry and is skipped).
    mutating func remove(_ id: CampaignID) -> Entry? { entries.removeValue(forKey: id) }

    /// What a journaled campaign's state and options say at `wall`.
    static func status(_ record: CampaignRecord, wallMilliseconds wall: Int64) -> Status {
        switch record.state {
        case .withdrawn, .cancelled: return .ended(.cancelled)
        case .paused: return .paused
        case .active, .done, .receiving:
            if let end = record.options.expiresAtMilliseconds, wall >= end { return .ended(.expired) }
            if let start = record.options.scheduleAtMilliseconds, wall < start { return .scheduled }
            return .open
        }
    }

    /// The status after an owner's change or a timer, from the options and `wall`.
    static func status(options: CampaignOptions, paused: Bool, mediaMissing: Bool = false, wallMilliseconds wall: Int64) -> Status {
        if let end = options.expiresAtMilliseconds, wall >= end { return .ended(.expired) }
        if paused { return .paused }
        if let start = options.scheduleAtMilliseconds, wall < start { return .scheduled }
        return mediaMissing ? .preparing : .open
    }

    /// The earliest start or expiry still ahead (wall-clock ms).
    var nextTimerMilliseconds: Int64? { timers.min?.wallMilliseconds }

    /// Campaigns whose start or expiry has come by `wall`.
    mutating func dueTimers(wallMilliseconds wall: Int64) -> [CampaignID] {
        var due: [CampaignID] = []
        while let top = timers.min, top.wallMilliseconds <= wall {
            timers.removeMin()
            due.append(top.campaign)
        }
        return due
    }
}
