import SluiceCore
import SluiceJournal
import SluiceTransport

/// One recipient as a client submits it.
public struct RecipientInput: Sendable, Equatable {
    public var to: String
    public var params: [String]
    /// The caller's own id for the recipient (a CRM id), shown with its fate.
    public var externalID: String?
    public init(to: String, params: [String] = [], externalID: String? = nil) {
        self.to = to
        self.params = params
        self.externalID = externalID
    }
}

/// A recipient that was not accepted, by its position in the campaign (a line number for
/// NDJSON and CSV, an index for a JSON array or a list), and why.
public struct RecipientRejection: Sendable, Equatable {
    public var position: Int
    public var reason: String
    public init(position: Int, reason: String) {
        self.position = position
        self.reason = reason
    }
}

/// What an accepted campaign (or an upload so far) holds: its id, how many recipients were
/// journaled, how many were rejected, and the first `CampaignUpload.rejectionsListedMax`
/// rejections.
public struct CampaignReceipt: Sendable, Equatable {
    public var id: CampaignID
    public var accepted: Int
    public var rejectedCount: Int
    public var rejections: [RecipientRejection]
}

/// What is wrong with one field of a request: the field as the API names it, and why.
public struct FieldProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public var field: String
    public var reason: String
    public init(_ field: String, _ reason: String) {
        self.field = field
        self.reason = reason
    }
    public var description: String { reason }
}

/// Input that cannot be accepted at all; nothing was journaled.
public enum IntakeError: Error, Sendable, Equatable, CustomStringConvertible {
    case unknownSender(String)
    case invalidMessage(String)
    case invalidSender(FieldProblem)
    case noRecipients
    case tooManyRecipients(count: Int, max: Int)
    case noValidRecipients(rejectedCount: Int, rejections: [RecipientRejection])
    /// The disk holding the journal is (nearly) full: nothing was journaled; what was
    /// accepted before is kept and sent.
    case storageFull(String)
    /// `schedule_at`, `expires_at`, `priority` or `delivery` cannot be used.
    case invalidOption(FieldProblem)
    /// The campaign recipients were to be added to takes no more (it was cancelled).
    case campaignState(String)
    case journal(String)

    public var description: String {
        switch self {
        case .unknownSender(let id): "sender '\(id)' is not registered (PUT /v1/senders/\(id) first)"
        case .invalidMessage(let why): why
        case .invalidSender(let problem): problem.reason
        case .noRecipients: "recipients must hold at least one recipient"
        case .tooManyRecipients(let count, let max): "recipients holds \(count) entries; at most \(max) per request"
        case .noValidRecipients(let count, _): "none of the recipients is valid (\(count) rejected)"
        case .invalidOption(let problem): problem.reason
        case .storageFull(let why): why
        case .campaignState(let why): why
        case .journal(let why): "the journal could not record the campaign: \(why)"
        }
    }
}

/// Validation of what clients submit, shared by the HTTP API, the CLI and the load test.
public enum CampaignIntake {
    public static let recipientsPerRequestMax = 1_000_000
    public static let paramBytesMax = 1_024
    public static let phoneNumberIDBytesMax = 64
    public static let accessTokenBytesMax = 4_096
    public static let tierRange: ClosedRange<Double> = 1...1000

    /// nil when `to` is 7–15 ASCII digits, otherwise the reason.
    public static func problem(to: String) -> String? {
        let utf8 = to.utf8
        guard (7...15).contains(utf8.count) else { return "to must be 7–15 digits, got \(utf8.count) characters" }
        guard utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) else {
            return "to must hold digits only (country code first, no '+')"
        }
        return nil
    }

    /// nil when the recipient can be sent with a template that uses `placeholderCount`
    /// placeholders, otherwise the reason.
    public static func problem(recipient: RecipientInput, placeholderCount: Int) -> String? {
        if let problem = problem(to: recipient.to) { return problem }
        if recipient.params.count != placeholderCount {
            return "params must hold \(placeholderCount) value(s) for the message's placeholders, got \(recipient.params.count)"
        }
        for (i, p) in recipient.params.enumerated() where p.utf8.count > paramBytesMax {
            return "params[\(i)] is longer than \(paramBytesMax) bytes"
        }
        if let x = recipient.externalID, x.isEmpty || x.utf8.count > externalIDBytesMax {
            return "external_id must be 1–\(externalIDBytesMax) bytes"
        }
        return nil
    }

    public static let externalIDBytesMax = 128
    public static let nameBytesMax = 200
    public static let labelBytesMax = 64
    public static let labelsMax = 16

    /// 1–64 letters, digits, '.', '_', ':', '/' or '-': safe in a query and a CSV export.
    public static func isLabel(_ text: String) -> Bool {
        (1...labelBytesMax).contains(text.utf8.count)
            && text.utf8.allSatisfy { c in
                (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2e || c == 0x5f || c == 0x3a || c == 0x2f || c == 0x2d
            }
    }

    public static let appSecretBytesMax = 256
    /// Furthest ahead `schedule_at` and `expires_at` may be.
    public static let scheduleHorizonMilliseconds: Int64 = 366 * 24 * 3_600_000

    /// nil when a campaign submitted at `now` can be sent with these options, otherwise
    /// the field and the reason.
    public static func problem(options: CampaignOptions, nowMilliseconds now: Int64) -> FieldProblem? {
        if let start = options.scheduleAtMilliseconds, start > now + scheduleHorizonMilliseconds {
            return FieldProblem("schedule_at", "schedule_at is more than 366 days ahead")
        }
        if let end = options.expiresAtMilliseconds {
            if end <= now { return FieldProblem("expires_at", "expires_at is not in the future") }
            if end > now + scheduleHorizonMilliseconds { return FieldProblem("expires_at", "expires_at is more than 366 days ahead") }
            if let start = options.scheduleAtMilliseconds, end <= start { return FieldProblem("expires_at", "expires_at must be after schedule_at") }
        }
        return nil
    }

    /// nil when `appSecret` can sign webhooks.
    public static func problem(appSecret: String) -> FieldProblem? {
        if appSecret.isEmpty { return FieldProblem("app_secret", "app_secret must not be empty") }
        if appSecret.utf8.count > appSecretBytesMax { return FieldProblem("app_secret", "app_secret is longer than \(appSecretBytesMax) bytes") }
        return nil
    }

    public static let groupBytesMax = 64

    /// nil when `limit` is one of WhatsApp's messaging limits (`RecipientWindow.tiers`).
    public static func problem(messagingLimit limit: Int) -> FieldProblem? {
        RecipientWindow.tiers.contains(limit) ? nil
            : FieldProblem("messaging_limit", "messaging_limit must be one of \(RecipientWindow.tiers.map(String.init).joined(separator: ", ")) or \"unlimited\"")
    }

    /// nil when `group` names a sender group: 1–64 letters, digits, '.', '_' or '-'.
    public static func problem(group: String) -> FieldProblem? {
        let utf8 = group.utf8
        guard (1...groupBytesMax).contains(utf8.count), utf8.allSatisfy({ byte in
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
                || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }) else {
            return FieldProblem("group", "group must be 1–\(groupBytesMax) letters, digits, '.', '_' or '-'")
        }
        return nil
    }

    /// Checks a sender registration; nil when it is valid.
    public static func problem(phoneNumberID: String, tier: Double, burst: Int, accessToken: String) -> FieldProblem? {
        let id = phoneNumberID.utf8
        if id.isEmpty || id.count > phoneNumberIDBytesMax || !id.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) {
            return FieldProblem("phone_number_id", "phone_number_id must be 1–\(phoneNumberIDBytesMax) digits")
        }
        if !tier.isFinite || !tierRange.contains(tier) { return FieldProblem("tier_mps", "tier_mps must be between 1 and 1000 messages per second") }
        if burst < 1 || burst > 1000 { return FieldProblem("burst", "burst must be between 1 and 1000") }
        if accessToken.isEmpty { return FieldProblem("access_token", "access_token must not be empty") }
        if accessToken.utf8.count > accessTokenBytesMax { return FieldProblem("access_token", "access_token is longer than \(accessTokenBytesMax) bytes") }
        if accessToken.utf8.contains(where: { $0 < 0x21 || $0 > 0x7e }) {
            return FieldProblem("access_token", "access_token must be printable ASCII without spaces")
        }
        return nil
    }
}
