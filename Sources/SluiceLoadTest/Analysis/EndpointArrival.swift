import Foundation

/// One send as the endpoint recorded it: a line of the mock's NDJSON record
/// `{"t": ns, "phone_number_id": "…", "to": "…", "callback": "…", "wamid": "…"}`
/// or an element of `GET /__mock/arrivals`.
public struct EndpointArrival: Sendable, Equatable, Codable {
    /// Wall-clock arrival time in nanoseconds since the Unix epoch.
    public var timeNanoseconds: Int64
    /// The sender from the request path.
    public var phoneNumberID: String
    /// The recipient as the request gave it.
    public var to: String
    /// `biz_opaque_callback_data` (Sluice's message id), if any.
    public var callback: String?

    /// Creates an arrival.
    public init(timeNanoseconds: Int64, phoneNumberID: String, to: String, callback: String?) {
        self.timeNanoseconds = timeNanoseconds
        self.phoneNumberID = phoneNumberID
        self.to = to
        self.callback = callback
    }

    enum CodingKeys: String, CodingKey {
        case timeNanoseconds = "t"
        case phoneNumberID = "phone_number_id"
        case to
        case callback
    }

    /// What identifies one message: its callback data, else its recipient (unique per campaign here).
    var messageKey: String { callback ?? "to:" + to }

    /// Parses NDJSON; blank lines are skipped, a malformed line throws with its number.
    public static func parseRecord(_ data: Data) throws -> [EndpointArrival] {
        let decoder = JSONDecoder()
        var arrivals: [EndpointArrival] = []
        var lineNumber = 0
        for line in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            if line.allSatisfy({ $0 == UInt8(ascii: " ") || $0 == UInt8(ascii: "\r") }) { continue }
            do {
                arrivals.append(try decoder.decode(EndpointArrival.self, from: Data(line)))
            } catch {
                // The mock flushes whole lines; a torn last line means it was still writing.
                throw ArrivalRecordError(line: lineNumber, reason: "\(error)")
            }
        }
        return arrivals
    }
}

/// A record line that is not an arrival.
public struct ArrivalRecordError: Error, CustomStringConvertible {
    /// 1-based line number in the record.
    public var line: Int
    /// What the decoder said.
    public var reason: String

    public var description: String { "arrival record line \(line) is not an arrival: \(reason)" }
}
