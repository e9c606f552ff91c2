import Foundation
import Hummingbird
import SluiceCore
import SluiceEngine

/// `schedule_at`, `expires_at`, `priority` and `delivery` of a campaign, from the JSON
/// body or NDJSON header (`"schedule_at": "2026-12-01T09:00:00Z"`) or the CSV query
/// (`?schedule_at=…`). Times are RFC 3339 with a zone, or Unix seconds.
enum CampaignOptionsInput {
    static let names = ["schedule_at", "expires_at", "priority", "delivery", "name", "labels"]
    /// Said at intake, not kept with the campaign.
    static let intakeNames = ["dedupe"]

    static func parse(_ object: [String: Any], prefix: String) throws -> CampaignOptions {
        var options = CampaignOptions.standard
        if let value = object["schedule_at"], !(value is NSNull) {
            options.scheduleAtMilliseconds = try time(value, field: prefix + "schedule_at")
        }
        if let value = object["expires_at"], !(value is NSNull) {
            options.expiresAtMilliseconds = try time(value, field: prefix + "expires_at")
        }
        if let value = object["priority"], !(value is NSNull) {
            guard let text = value as? String, let priority = CampaignPriority(name: text) else {
                throw APIError.invalid(prefix + "priority", "priority must be \"transactional\" or \"marketing\"")
            }
            options.priority = priority
        }
        if let value = object["delivery"], !(value is NSNull) {
            guard let text = value as? String, let delivery = DeliveryMode(name: text) else {
                throw APIError.invalid(prefix + "delivery", "delivery must be \"at_least_once\" or \"at_most_once\"")
            }
            options.delivery = delivery
        }
        if let value = object["name"], !(value is NSNull) {
            guard let text = value as? String, (1...CampaignIntake.nameBytesMax).contains(text.utf8.count), !text.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw APIError.invalid(prefix + "name", "name must be a string of 1–\(CampaignIntake.nameBytesMax) bytes without control characters")
            }
            options.name = text
        }
        if let value = object["labels"], !(value is NSNull) {
            let expected = "labels must be an array of at most \(CampaignIntake.labelsMax) distinct strings of 1–\(CampaignIntake.labelBytesMax) letters, digits, '.', '_', ':', '/' or '-'"
            guard let list = value as? [Any], list.count <= CampaignIntake.labelsMax else { throw APIError.invalid(prefix + "labels", expected) }
            var labels: [String] = []
            for item in list {
                guard let label = item as? String, CampaignIntake.isLabel(label), !labels.contains(label) else { throw APIError.invalid(prefix + "labels", expected) }
                labels.append(label)
            }
            options.labels = labels
        }
        return options
    }

    /// `dedupe` (default true): whether a recipient already in the campaign is refused.
    static func dedupe(_ object: [String: Any], prefix: String) throws -> Bool {
        guard let value = object["dedupe"], !(value is NSNull) else { return true }
        // A JSON number is not a flag (1 bridges to Bool on Linux).
        guard let flag = value as? NSNumber, APIRoutes.number(value) == nil else { throw APIError.invalid(prefix + "dedupe", "dedupe must be true or false") }
        return flag.boolValue
    }

    /// `dedupe` from a query string: `true` or `false`.
    static func dedupe(query: Parameters) throws -> Bool {
        guard let value = query["dedupe"] else { return true }
        switch value {
        case "true": return true
        case "false": return false
        default: throw APIError.invalid("dedupe", "dedupe must be true or false")
        }
    }

    /// The same names from a query string; values are strings there.
    static func parse(query: Parameters) throws -> CampaignOptions {
        var object: [String: Any] = [:]
        for name in names {
            guard let value = query[name[...]] else { continue }
            let text = String(value)
            // Unix seconds arrive as text in a query; labels as `a,b`.
            if name.hasSuffix("_at"), let seconds = Double(text) {
                object[name] = NSNumber(value: seconds)
            } else if name == "labels" {
                object[name] = text.isEmpty ? [] : text.split(separator: ",", omittingEmptySubsequences: false).map(String.init)
            } else {
                object[name] = text
            }
        }
        return try parse(object, prefix: "")
    }

    /// Wall-clock milliseconds of an RFC 3339 time with a zone, or of Unix seconds.
    static func time(_ value: Any, field: String) throws -> Int64 {
        let expected = "\(field) must be an RFC 3339 time with a zone (\"2026-12-01T09:00:00Z\") or Unix seconds"
        if let text = value as? String {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime]
            var date = formatter.date(from: text)
            if date == nil {
                formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                date = formatter.date(from: text)
            }
            guard let date else { throw APIError.invalid(field, expected) }
            return Int64((date.timeIntervalSince1970 * 1000).rounded())
        }
        guard let seconds = APIRoutes.number(value), seconds.isFinite, seconds >= 0, seconds < 1e11 else { throw APIError.invalid(field, expected) }
        return Int64((seconds * 1000).rounded())
    }

    /// RFC 3339 (UTC, milliseconds) for answers.
    static func text(_ milliseconds: Int64) -> String { RFC3339.text(milliseconds: milliseconds) }

    /// The options in a canonical text, for the idempotency digest of a CSV query.
    static func canonical(_ o: CampaignOptions) -> String {
        "schedule_at=\(o.scheduleAtMilliseconds.map(String.init) ?? "")\u{0}expires_at=\(o.expiresAtMilliseconds.map(String.init) ?? "")"
            + "\u{0}priority=\(o.priority)\u{0}delivery=\(o.delivery)\u{0}name=\(o.name ?? "")\u{0}labels=\(o.labels.joined(separator: ","))\n"
    }
}
