import Logging
import SluiceCore
import SluiceJournal
import SluiceTransport

@testable import SluiceEngine

/// The journal as the dispatch core sees it, in memory: messages, campaigns, and the
/// transition rules of `MessageState`. Commits are durable at once.
final class MemoryJournal: DispatchLookups {
    var messages: [MessageID: MessageRecord] = [:]
    var campaigns: [CampaignID: CampaignRecord] = [:]
    var senders: [SenderID: SenderRecord] = [:]
    /// Meta media ids by "media/sender".
    var uploads: [String: MediaUpload] = [:]

    func campaign(_ id: CampaignID) throws(JournalError) -> CampaignRecord? { campaigns[id] }
    func mediaUpload(media: String, sender: SenderID) throws(JournalError) -> MediaUpload? { uploads["\(media)/\(sender)"] }
    func messageState(_ id: MessageID) throws(JournalError) -> MessageState? { messages[id]?.state }

    func queued(sender: SenderID, campaign: CampaignID, after: MessageID?, limit: Int) -> [MessageRecord] {
        let after = after ?? MessageID(0)
        return Array(messages.values
            .filter { $0.sender == sender && $0.campaign == campaign && $0.state == .queued && $0.id > after }
            .sorted { $0.id < $1.id }
            .prefix(limit))
    }

    func due(sender: SenderID, notAfter wall: Int64, limit: Int) -> [MessageRecord] {
        Array(messages.values
            .filter { $0.sender == sender && ($0.state == .retryAt || $0.state == .inDoubt) && $0.notBeforeMilliseconds <= wall }
            .sorted { ($0.notBeforeMilliseconds, $0.id) < ($1.notBeforeMilliseconds, $1.id) }
            .prefix(limit))
    }

    /// Applies what `MessageState` allows; returns how many were rejected.
    @discardableResult
    func apply(_ transitions: [MessageTransition]) -> Int {
        var rejected = 0
        for t in transitions {
            guard var m = messages[t.id], m.state.canTransition(to: t.to) else {
                rejected += 1
                continue
            }
            m.state = t.to
            if let attempts = t.attempts { m.attempts = attempts }
            m.notBeforeMilliseconds = t.notBeforeMilliseconds
            m.updatedMilliseconds = t.updatedMilliseconds
            if let wamid = t.wamid { m.wamid = wamid }
            m.errorCode = t.errorCode
            m.errorMessage = t.errorMessage
            messages[t.id] = m
        }
        return rejected
    }

    func count(_ state: MessageState) -> Int { messages.values.count { $0.state == state } }

    /// Adds a campaign of `count` queued messages (ids from `firstID`), one parameter each.
    func addCampaign(
        _ id: CampaignID, sender: SenderID, count: Int, firstID: UInt64, options: CampaignOptions = .standard,
        message: String = #"{"type":"text","text":{"body":"Hello {{1}}"}}"#
    ) {
        campaigns[id] = CampaignRecord(id: id, sender: sender, createdMilliseconds: 0, message: Array(message.utf8), options: options)
        for i in 0..<UInt64(count) {
            let message = MessageID(firstID + i)
            messages[message] = MessageRecord(id: message, campaign: id, sender: sender, to: String(15_550_000_000 + firstID + i), params: ["n\(i)"])
        }
    }
}

/// Plays the driver's part for a `DispatchCore` on a manual clock: carries out its actions
/// against a `MemoryJournal` and a simulated endpoint that answers each request after
/// `latency`, and wakes the core exactly when it asks to. No threads, no sleeps.
final class CoreHarness {
    struct Sent {
        var at: Instant
        var tag: UInt64
        var sender: String
        var body: [UInt8] = []
    }

    let journal = MemoryJournal()
    var core: DispatchCore
    static let start = Instant(nanoseconds: 1_000_000_000)
    static let startWall: Int64 = 1_800_000_000_000
    private(set) var now = CoreHarness.start
    /// The wall clock in step with `now`.
    var wall: Int64 { Self.startWall + (now - Self.start) / 1_000_000 }
    /// The endpoint's answer time (per request when `latencyOf` is set) and its answer.
    var latency: Int64 = 200_000_000
    var latencyOf: ((OutboundRequest) -> Int64)?
    var answer: (OutboundRequest) -> SendResult = { .accepted(wamid: "wamid.\($0.tag)") }
    /// Outcome commits fail as on a full disk while true.
    var outcomesRefused = false
    private(set) var sent: [Sent] = []
    private(set) var commits: [DispatchCore.Commit] = []
    private(set) var publications: [DispatchCore.Publication] = []
    /// Read receipts answered: the request's id, its outcome, when.
    private(set) var readAnswers: [(id: UInt64, outcome: ReadReceiptOutcome, at: Instant)] = []
    private(set) var drained = false
    /// Uploads the core asked for (sender, Sluice media id, when) and the pauses it journaled.
    private(set) var uploadRequests: [(sender: SenderID, media: String, at: Instant)] = []
    private(set) var pauses: [(campaign: CampaignID, reason: String)] = []
    /// Warm-start asks: connections to open ahead for a number's URL.
    private(set) var warms: [(url: String, connections: Int, at: Instant)] = []
    private var answers: [(due: Instant, completion: TransportCompletion)] = []
    private var events: [DispatchCore.Event] = []

    init(configure: (inout EngineConfiguration) -> Void = { _ in }) {
        var configuration = EngineConfiguration(dataDirectory: "/nonexistent")
        configuration.graphURL = "https://127.0.0.1:1"
        configure(&configuration)
        core = DispatchCore(
            configuration: configuration, lookups: journal, departuresOnClock: false,
            logger: Logger(label: "test.core", factory: { _ in SwiftLogNoOpLogHandler() }), random: SeededGenerator(seed: 7))
    }

    /// Registers a sender (as `PUT /v1/senders` does).
    func addSender(_ id: SenderID, tier: Double, messagingLimit: Int? = nil) {
        let record = SenderRecord(
            id: id, phoneNumberID: "10\(id)", tierMessagesPerSecond: tier, accessToken: "token-\(id)", messagingLimit: messagingLimit)
        journal.senders[id] = record
        handle(.sender(record))
    }

    /// The owner pauses, resumes or cancels a campaign: journaled, then told to the core.
    func change(_ campaign: CampaignID, to state: CampaignState) {
        journal.campaigns[campaign]?.state = state
        handle(.campaignChanged(campaign, state))
    }

    func handle(_ event: DispatchCore.Event) {
        var actions: [DispatchCore.Action] = []
        core.handle(event, now: now, wall: wall, into: &actions)
        perform(actions)
        drainEvents()
    }

    /// Runs the core for `seconds` of its clock: every wakeup it asks for, every answer due.
    func run(seconds: Double) {
        let end = now + Int64(seconds * 1e9)
        var turnsAtOneInstant = 0
        while !drained {
            var wake = core.nextWake(now: now, wall: wall)
            if let next = answers.map(\.due).min() { wake = min(wake, next) }
            if wake > end { break }
            if wake > now {
                advance(to: wake)
                turnsAtOneInstant = 0
            } else {
                turnsAtOneInstant += 1
                precondition(turnsAtOneInstant < 10_000, "the core asks to run again at the same instant without end")
            }
            deliverAnswers()
            var actions: [DispatchCore.Action] = []
            drained = core.tick(now: now, wall: wall, into: &actions)
            perform(actions)
            drainEvents()
        }
        if end > now { advance(to: end) }
    }

    /// The most sends of `sender` (phone number id) in any one second of the run (from
    /// `from` on).
    func mostInOneSecond(sender: String, from: Instant = .zero) -> Int {
        let times = sent.filter { $0.sender == sender && $0.at >= from }.map(\.at)
        var most = 0
        var first = 0
        for last in times.indices {
            while times[last] - times[first] >= 1_000_000_000 { first += 1 }
            most = max(most, last - first + 1)
        }
        return most
    }

    private func advance(to instant: Instant) { now = instant }

    private func deliverAnswers() {
        let due = answers.filter { $0.due <= now }
        guard !due.isEmpty else { return }
        answers.removeAll { $0.due <= now }
        events.append(.transport(departed: [], completions: due.map(\.completion)))
        drainEvents()
    }

    private func drainEvents() {
        while !events.isEmpty {
            let event = events.removeFirst()
            var actions: [DispatchCore.Action] = []
            core.handle(event, now: now, wall: wall, into: &actions)
            perform(actions)
        }
    }

    private func perform(_ list: [DispatchCore.Action]) {
        var actions = list
        var i = 0
        while i < actions.count {
            let action = actions[i]
            i += 1
            switch action {
            case .readPage(let key, let after, let limit, let generation):
                let page = journal.queued(sender: key.sender, campaign: key.campaign, after: after, limit: limit)
                core.handle(.pageRead(key, page, limit: limit, generation: generation), now: now, wall: wall, into: &actions)
            case .readDue(let sender, let notAfter, let limit):
                core.handle(.dueRead(sender, journal.due(sender: sender, notAfter: notAfter, limit: limit)), now: now, wall: wall, into: &actions)
            case .stage(let staging, let transitions, let messages):
                journal.apply(transitions)
                switch staging {
                case .page(let key, let exhausted, let generation):
                    events.append(.paged(key.sender, key.campaign, messages, exhausted: exhausted, generation: generation))
                case .due(let sender):
                    events.append(.due(sender, messages))
                }
            case .commit(let commit):
                commits.append(commit)
                self.commit(commit)
            case .send(let requests):
                for request in requests {
                    let phone = request.url.split(separator: "/").dropLast().last.map(String.init) ?? ""
                    sent.append(Sent(at: now, tag: request.tag, sender: phone, body: request.body))
                    let took = latencyOf?(request) ?? latency
                    answers.append((now + took, TransportCompletion(tag: request.tag, result: answer(request), elapsedNanoseconds: took)))
                }
                events.append(.transport(departed: requests.map { TransportDeparture(tag: $0.tag, monotonicNanoseconds: now.nanoseconds) }, completions: []))
            case .readHistory(let senders, _):
                // This journal holds no sends from before the harness started.
                events.append(.recipientHistory(senders, []))
            case .warm(let url, _, let connections):
                warms.append((url, connections, now))
            case .publish(let publication):
                publications.append(publication)
            case .readAnswered(let id, let outcome):
                readAnswers.append((id, outcome, now))
            case .uploadMedia(let sender, let media):
                uploadRequests.append((sender, media, now))
            case .pauseCampaign(let id, let reason):
                journal.campaigns[id]?.state = .paused
                journal.campaigns[id]?.pauseReason = reason
                pauses.append((id, reason))
                events.append(.campaignChanged(id, .paused))
            }
        }
    }

    private func commit(_ commit: DispatchCore.Commit) {
        switch commit {
        case .outcomes(let transitions):
            if outcomesRefused {
                events.append(.outcomesFailed(transitions))
            } else {
                journal.apply(transitions)
                events.append(.outcomesRecorded)
            }
        case .returnToQueue(let campaign, let transitions):
            journal.apply(transitions)
            events.append(.restaged(campaign))
        case .settleDue(_, let transitions, let restaged):
            journal.apply(transitions)
            for c in restaged { events.append(.restaged(c)) }
        case .restage(let transitions):
            journal.apply(transitions)
        case .endUnsent(let campaign, let state, let max, let wall):
            let unsent = journal.messages.values
                .filter { $0.campaign == campaign && [.queued, .retryAt, .inDoubt].contains($0.state) }
                .prefix(max)
            for m in unsent {
                journal.messages[m.id]?.state = state
                journal.messages[m.id]?.updatedMilliseconds = wall
            }
            if unsent.count == max { events.append(.endMore(campaign, state)) }
        case .sender(let record):
            journal.senders[record.id] = record
        }
    }
}
