/// A sending number registered with the mock: its throughput tier and the token it accepts.
public struct MockSender: Sendable, Equatable {
    /// Tiers the mock accepts, in messages per second.
    public static let tierMessagesPerSecondRange: ClosedRange<Double> = 1...100_000

    /// Messages per second the number may receive in any trailing second (only the whole part
    /// counts); nil is unlimited.
    public var tierMessagesPerSecond: Double?
    /// The bearer token this number accepts; nil accepts any non-empty token.
    public var accessToken: String?

    /// Creates a sender; the defaults are unlimited with any token.
    public init(tierMessagesPerSecond: Double? = nil, accessToken: String? = nil) {
        self.tierMessagesPerSecond = tierMessagesPerSecond
        self.accessToken = accessToken
    }

    /// Throws when the tier is outside ``tierMessagesPerSecondRange`` or the token is empty.
    public func validate() throws(MockError) {
        if let tier = tierMessagesPerSecond, !Self.tierMessagesPerSecondRange.contains(tier) {
            throw .invalidConfiguration(
                "tier \(tier) msg/s is outside \(Int(Self.tierMessagesPerSecondRange.lowerBound))...\(Int(Self.tierMessagesPerSecondRange.upperBound))"
            )
        }
        if let accessToken, accessToken.isEmpty || accessToken.contains(where: \.isWhitespace) {
            throw .invalidConfiguration("access token must be non-empty without spaces")
        }
    }

    /// Parses the CLI form `ID=TIER[:TOKEN]`, where TIER is a number or `unlimited`.
    ///
    /// ```swift
    /// let (id, sender) = try MockSender.parse(argument: "106540352242922=80:secret")
    /// ```
    public static func parse(argument: String) throws(MockError) -> (phoneNumberID: String, sender: MockSender) {
        guard let equals = argument.firstIndex(of: "=") else {
            throw .invalidConfiguration("sender '\(argument)' must look like ID=TIER[:TOKEN]")
        }
        let id = String(argument[..<equals])
        guard SendRequestValidator.isPhoneNumberID(id[...]) else {
            throw .invalidConfiguration("sender id '\(id)' must be digits")
        }
        let rest = argument[argument.index(after: equals)...]
        let tierText = rest.split(separator: ":", maxSplits: 1, omittingEmptySubsequences: false)[0]
        let token = rest.contains(":") ? String(rest[rest.index(after: rest.firstIndex(of: ":")!)...]) : nil
        var sender = MockSender(accessToken: token)
        if tierText != "unlimited" {
            guard let tier = Double(tierText) else {
                throw .invalidConfiguration("sender '\(argument)': tier '\(tierText)' must be a number or 'unlimited'")
            }
            sender.tierMessagesPerSecond = tier
        }
        try sender.validate()
        return (id, sender)
    }
}

/// What the mock saw: accepted arrivals and every refusal by error code.
public struct MockStats: Sendable, Equatable {
    /// Sends accepted and recorded.
    public var arrivals: Int
    /// Accepted sends per `phone_number_id`.
    public var perSender: [String: Int]
    /// Answers with an error, by `error.code` (130429, 131056, 190, 100, injected codes…).
    public var errors: [Int: Int]
    /// The same per `phone_number_id` (requests whose path held a valid id).
    public var errorsPerSender: [String: [Int: Int]]
    /// Requests held without an answer by fault injection.
    public var hangs: Int
    /// Connections closed without an answer by fault injection.
    public var resets: Int
    /// Answered reads of a number's node (`GET /{version}/{phone_number_id}`), per number.
    public var phoneNumberReads: [String: Int] = [:]
    /// Read receipts answered, per number.
    public var readReceipts: [String: Int] = [:]
    /// Status webhooks: posts and statuses delivered, failed posts, statuses dropped, and
    /// whether the subscribe handshake succeeded; nil when webhooks are off.
    public var webhooks: WebhookCounters?
    /// The storm schedule and the 130429 answers it gave; nil without a storm.
    public var storm: StormCounters?

    /// Creates stats.
    public init(
        arrivals: Int = 0,
        perSender: [String: Int] = [:],
        errors: [Int: Int] = [:],
        errorsPerSender: [String: [Int: Int]] = [:],
        hangs: Int = 0,
        resets: Int = 0,
        webhooks: WebhookCounters? = nil,
        storm: StormCounters? = nil
    ) {
        self.arrivals = arrivals
        self.perSender = perSender
        self.errors = errors
        self.errorsPerSender = errorsPerSender
        self.hangs = hangs
        self.resets = resets
        self.webhooks = webhooks
        self.storm = storm
    }

    /// `{"arrivals":N,"per_sender":{…},"errors":{"130429":N,…},"errors_per_sender":{"id":{"130429":N}},"hangs":N,"resets":N,"phone_number_reads":{"id":N},"read_receipts":{"id":N}}`.
    func jsonBytes() -> [UInt8] {
        var bytes = Array(#"{"arrivals":"#.utf8)
        bytes.append(contentsOf: String(arrivals).utf8)
        bytes.append(contentsOf: #","per_sender":"#.utf8)
        Self.appendObject(perSender.map { ($0.key, $0.value) }, to: &bytes)
        bytes.append(contentsOf: #","errors":"#.utf8)
        Self.appendObject(errors.map { (String($0.key), $0.value) }, to: &bytes)
        bytes.append(contentsOf: #","errors_per_sender":{"#.utf8)
        for (index, entry) in errorsPerSender.sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.appendString(entry.key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            Self.appendObject(entry.value.map { (String($0.key), $0.value) }, to: &bytes)
        }
        bytes.append(contentsOf: #"},"hangs":"#.utf8)
        bytes.append(contentsOf: String(hangs).utf8)
        bytes.append(contentsOf: #","resets":"#.utf8)
        bytes.append(contentsOf: String(resets).utf8)
        bytes.append(contentsOf: #","phone_number_reads":"#.utf8)
        Self.appendObject(phoneNumberReads.map { ($0.key, $0.value) }, to: &bytes)
        bytes.append(contentsOf: #","read_receipts":"#.utf8)
        Self.appendObject(readReceipts.map { ($0.key, $0.value) }, to: &bytes)
        if let w = webhooks {
            bytes.append(contentsOf: #","webhooks":{"posts":\#(w.posts),"statuses":\#(w.statuses),"failures":\#(w.failures),"dropped":\#(w.dropped),"subscribed":\#(w.subscribed),"delivered":\#(w.delivered)}"#.utf8)
        }
        if let s = storm {
            bytes.append(contentsOf: #","storm":{"every_ms":\#(s.everyMilliseconds),"duration_ms":\#(s.durationMilliseconds),"elapsed_ms":\#(s.elapsedMilliseconds),"answers":\#(s.answers),"per_sender":"#.utf8)
            Self.appendObject(s.perSender.map { ($0.key, $0.value) }, to: &bytes)
            bytes.append(UInt8(ascii: "}"))
        }
        bytes.append(UInt8(ascii: "}"))
        return bytes
    }

    private static func appendObject(_ entries: [(String, Int)], to bytes: inout [UInt8]) {
        bytes.append(UInt8(ascii: "{"))
        for (index, entry) in entries.sorted(by: { $0.0 < $1.0 }).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.appendString(entry.0, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: String(entry.1).utf8)
        }
        bytes.append(UInt8(ascii: "}"))
    }
}

/// A storm schedule and what it refused: every send inside a window of `duration_ms` at
/// each multiple of `every_ms` after the schedule's start is answered 130429.
public struct StormCounters: Sendable, Equatable {
    public var everyMilliseconds: Int
    public var durationMilliseconds: Int
    /// Milliseconds from the schedule's start to when these counters were read: the
    /// reader places the windows on its own clock with it.
    public var elapsedMilliseconds: Int64
    /// 130429 answers given because a storm raged (they are in `errors` too).
    public var answers: Int
    /// The same per `phone_number_id`.
    public var perSender: [String: Int]

    public init(everyMilliseconds: Int, durationMilliseconds: Int, elapsedMilliseconds: Int64, answers: Int, perSender: [String: Int]) {
        self.everyMilliseconds = everyMilliseconds
        self.durationMilliseconds = durationMilliseconds
        self.elapsedMilliseconds = elapsedMilliseconds
        self.answers = answers
        self.perSender = perSender
    }
}

/// The display number the mock gives each phone number id, the same in every webhook and
/// answer: "15550" and the id's last six digits.
enum MockDisplayNumber {
    static func of(_ phoneNumberID: String) -> String { "15550" + phoneNumberID.suffix(6) }
}
