import Foundation

/// How a `POST /v1/campaigns` body is laid out, from its `Content-Type`.
///
/// - `application/json` (and anything unrecognised, as before streaming existed): one
///   object `{"sender", "message", "recipients": […]}`, read whole (64 MiB at most).
/// - `application/x-ndjson`: a header line `{"sender": …, "message": {…}}`, then one
///   recipient per line `{"to": "…", "params": ["…"]}`; streamed.
/// - `text/csv`: `?sender=…&template=…&language=…` in the query, a header row with a `to`
///   column (the other columns fill `{{1}}`, `{{2}}` … in order), one recipient per row;
///   streamed.
enum CampaignFormat: String, Sendable {
    case json
    case ndjson
    case csv

    init(contentType: String?) {
        let media = (contentType ?? "").split(separator: ";", maxSplits: 1).first.map {
            $0.trimmingCharacters(in: .whitespaces).lowercased()
        } ?? ""
        switch media {
        case "application/x-ndjson", "application/ndjson": self = .ndjson
        case "text/csv": self = .csv
        default: self = .json
        }
    }
}
