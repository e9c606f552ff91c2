import Foundation

/// Whether a sender holds free-form (non-template) messages to WhatsApp's customer
/// service window: 24 h from the contact's last incoming message.
public enum CustomerWindowPolicy: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// Sent as given; WhatsApp answers 131047 outside the window (a permanent failure).
    case off = 0
    /// A free-form message to a contact with no incoming message in the last 24 h ends
    /// `failed` with 131047, without a request.
    case enforce = 1

    public var description: String { self == .off ? "off" : "enforce" }
    public init?(name: String) {
        guard let p = Self.allCases.first(where: { $0.description == name }) else { return nil }
        self = p
    }
}

/// WhatsApp's customer service window.
public enum CustomerWindow {
    public static let milliseconds: Int64 = 24 * 3_600_000
    /// WhatsApp's code for a free-form message outside the window.
    public static let errorCode: Int32 = 131047
    public static let errorMessage =
        "Re-engagement message: no message from this contact in the last 24 h, and the sender enforces the customer service window (customer_window: enforce); send a template"
}

/// What an incoming message asks of the contact's place on the sender's suppression list.
public enum ContactAction: UInt8, Sendable, Equatable {
    case optOut = 1
    case optIn = 2
}

/// How a contact came onto a suppression list.
public enum SuppressionSource: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// An incoming message matched one of the sender's opt-out keywords.
    case keyword = 1
    /// An operator's `PUT /v1/senders/{id}/suppressions/{wa_id}`.
    case api = 2

    public var description: String { self == .keyword ? "keyword" : "api" }
}

/// What the journal keeps of one contact of one number: kept by phone number id, so that
/// an opt-out outlives the number's deletion and registration again.
public struct ContactRecord: Sendable, Equatable {
    public var phoneNumberID: String
    /// The contact's WhatsApp id (digits), as a recipient `to` names it.
    public var waID: String
    /// When the contact's last incoming message was sent (wall-clock ms); nil: never.
    public var lastInboundMilliseconds: Int64?
    /// When it was suppressed; nil while it is not.
    public var suppressedMilliseconds: Int64?
    public var suppressionSource: SuppressionSource?

    public init(
        phoneNumberID: String, waID: String, lastInboundMilliseconds: Int64? = nil, suppressedMilliseconds: Int64? = nil,
        suppressionSource: SuppressionSource? = nil
    ) {
        self.phoneNumberID = phoneNumberID
        self.waID = waID
        self.lastInboundMilliseconds = lastInboundMilliseconds
        self.suppressedMilliseconds = suppressedMilliseconds
        self.suppressionSource = suppressionSource
    }

    public var isSuppressed: Bool { suppressedMilliseconds != nil }

    /// Whether a free-form message may go to it at `wall` (ms).
    public func windowIsOpen(atMilliseconds wall: Int64) -> Bool {
        guard let last = lastInboundMilliseconds else { return false }
        return wall - last < CustomerWindow.milliseconds
    }
}

/// Opt-out and opt-in keywords, matched against what a customer wrote or tapped.
public enum ContactKeywords {
    /// Used when a sender names none: English and Arabic.
    public static let standardOptOut = [
        "STOP", "UNSUBSCRIBE", "STOP ALL",
        "توقف", "ايقاف", "إيقاف", "الغاء", "إلغاء", "الغاء الاشتراك", "إلغاء الاشتراك", "إيقاف الكل", "ايقاف الكل",
    ]
    public static let optIn = ["START", "ابدأ", "ابدا"]
    /// Per sender.
    public static let countMax = 32
    public static let keywordBytesMax = 64

    /// What a keyword list or a keyword is wrong in, for an API error; nil when fine.
    public static func problem(_ keywords: [String]) -> String? {
        guard keywords.count <= countMax else { return "opt_out_keywords holds at most \(countMax) keywords" }
        for k in keywords {
            let n = normalized(k)
            guard !n.isEmpty, k.utf8.count <= keywordBytesMax else {
                return "each opt-out keyword must be 1–\(keywordBytesMax) bytes of text, not blank"
            }
            guard !optIn.contains(n) else { return "'\(k)' is the opt-in keyword; it cannot also opt out" }
        }
        return nil
    }

    /// Trimmed, inner whitespace collapsed, upper case: "  stop  all " → "STOP ALL".
    public static func normalized(_ text: String) -> String {
        text.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ").uppercased()
    }

    /// The action an incoming message of `type` with the Cloud API message object `object`
    /// asks for: its text body, or a tapped button's or list row's payload, id or title,
    /// equal (ignoring case and spacing) to a keyword. Opt-in wins over nothing else: a
    /// message matching both lists (impossible once `problem` passed) opts out.
    public static func action(type: String, object: [UInt8], optOut keywords: [String]) -> ContactAction? {
        guard type == "text" || type == "button" || type == "interactive" else { return nil }
        guard let parsed = try? JSONTree.parse(object), parsed.isObject else { return nil }
        var candidates: [String] = []
        switch type {
        case "text":
            if let body = parsed["text"]?["body"]?.string { candidates.append(body) }
        case "button":
            for field in ["payload", "text"] { if let v = parsed["button"]?[field]?.string { candidates.append(v) } }
        default:
            for reply in ["button_reply", "list_reply"] {
                for field in ["id", "title"] { if let v = parsed["interactive"]?[reply]?[field]?.string { candidates.append(v) } }
            }
        }
        let texts = candidates.filter { $0.utf8.count <= 4 * keywordBytesMax }.map(normalized)
        let optOut = Set(keywords.map(normalized))
        if texts.contains(where: optOut.contains) { return .optOut }
        if texts.contains(where: Set(optIn).contains) { return .optIn }
        return nil
    }
}

/// Where a page of a suppression list ended: the hash of its last contact's key, so that
/// pages stay stable while the list changes.
public struct SuppressionCursor: Sendable, Equatable {
    public var high: UInt64
    public var low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// 32 hex digits, as the API hands it out.
    public var text: String { Self.hex(high) + Self.hex(low) }

    public init?(text: String) {
        guard text.utf8.count == 32, text.utf8.allSatisfy({ ($0 >= 48 && $0 <= 57) || ($0 >= 97 && $0 <= 102) }),
              let high = UInt64(text.prefix(16), radix: 16), let low = UInt64(text.suffix(16), radix: 16) else { return nil }
        self.init(high: high, low: low)
    }

    private static func hex(_ v: UInt64) -> String {
        let digits = String(v, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}
