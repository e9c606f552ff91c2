/// One send request the mock accepted, as recorded when it arrived.
///
/// Encodes with the same keys as a record-file line:
/// `{"t":…,"phone_number_id":"…","to":"…","callback":"…","wamid":"…"}`.
public struct Arrival: Sendable, Codable, Equatable {
    /// Wall-clock arrival time (CLOCK_REALTIME) in nanoseconds since the Unix epoch.
    public var timeNanoseconds: Int64
    /// The sender from the request path.
    public var phoneNumberID: String
    /// The recipient exactly as the request gave it.
    public var to: String
    /// `biz_opaque_callback_data` from the request, if any.
    public var callbackData: String?
    /// The message id the mock answered with.
    public var wamid: String

    /// Creates an arrival.
    public init(timeNanoseconds: Int64, phoneNumberID: String, to: String, callbackData: String?, wamid: String) {
        self.timeNanoseconds = timeNanoseconds
        self.phoneNumberID = phoneNumberID
        self.to = to
        self.callbackData = callbackData
        self.wamid = wamid
    }

    enum CodingKeys: String, CodingKey {
        case timeNanoseconds = "t"
        case phoneNumberID = "phone_number_id"
        case to
        case callbackData = "callback"
        case wamid
    }
}

extension Arrival {
    /// The record-file line for this arrival, newline included.
    ///
    /// Written by hand: it runs once per request and must not build a JSON tree.
    func appendJSONLine(to bytes: inout [UInt8]) {
        bytes.append(contentsOf: #"{"t":"#.utf8)
        bytes.append(contentsOf: String(timeNanoseconds).utf8)
        bytes.append(contentsOf: #","phone_number_id":"#.utf8)
        JSONText.appendString(phoneNumberID, to: &bytes)
        bytes.append(contentsOf: #","to":"#.utf8)
        JSONText.appendString(to, to: &bytes)
        bytes.append(contentsOf: #","callback":"#.utf8)
        if let callbackData {
            JSONText.appendString(callbackData, to: &bytes)
        } else {
            bytes.append(contentsOf: "null".utf8)
        }
        bytes.append(contentsOf: #","wamid":"#.utf8)
        JSONText.appendString(wamid, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
    }
}
