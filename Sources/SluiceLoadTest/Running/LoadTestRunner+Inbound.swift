import Foundation

/// Customers writing in during a run: the harness's subscriber, the wait for the
/// dispatcher to measure their share of each tier, and each message's trip to the subscriber.
extension LoadTestRunner {
    /// Incoming messages per `GET /__mock/inbound` page (the mock's own maximum).
    static let inboundPageSize = 100_000

    /// Starts the subscriber and subscribes it to `message` events.
    func subscribe(_ receiver: SubscriberReceiver, api: LoopbackHTTP, serverURL: String, key: String, bodies: String) async throws {
        let url = try await receiver.start(logger: logger)
        let file = bodies + "/subscription.json"
        try Data(#"{"url":"\#(url)","secret":"\#(receiver.secret)","events":["message"]}"#.utf8).write(to: URL(fileURLWithPath: file))
        let r = try api.request("POST", "\(serverURL)/v1/subscriptions", bearer: key, bodyFile: file)
        guard r.status == 201 else { throw LoadTestError.http("POST /v1/subscriptions: \(r.status) \(r.text)") }
    }

    /// Waits (bounded) until the dispatcher reserves a share of every number's tier for its
    /// incoming messages: a campaign that started before would meet a second it could not
    /// foresee, as on a live number whose customers start writing all at once.
    func waitForInboundReserve(api: LoopbackHTTP, serverURL: String, key: String, senders: [String]) async throws {
        let deadline = Date().addingTimeInterval(Self.inboundMeasuredWaitSecondsMax)
        var waiting = Set(senders)
        while !waiting.isEmpty {
            if let r = try? api.request("GET", "\(serverURL)/v1/senders", bearer: key), r.status == 200,
               let list = (try? r.json())?["senders"] as? [[String: Any]] {
                for s in list {
                    guard let id = s["phone_number_id"] as? String, let reserve = s["inbound_reserve_mps"] as? NSNumber else { continue }
                    // A second of traffic seen: the reserve is over the rate's first samples.
                    if reserve.doubleValue >= (options.inbound ?? 0) { waiting.remove(id) }
                }
            }
            if waiting.isEmpty { break }
            guard Date() < deadline else {
                throw LoadTestError.http("no inbound reserve within \(Int(Self.inboundMeasuredWaitSecondsMax)) s for \(waiting.sorted().joined(separator: ", ")): do incoming messages reach the dispatcher? (see mock.log and serve.log)")
            }
            try await Task.sleep(for: .milliseconds(250))
        }
    }

    /// Every incoming message the dispatcher acknowledged by `endNanoseconds`, with when the
    /// subscriber got it; waits (bounded by ``deliveriesWaitSecondsMax``) for stragglers.
    func collectInbound(_ http: LoopbackHTTP, _ mockURL: String, subscriber: SubscriberReceiver, endNanoseconds: Int64) async throws -> [InboundTrip] {
        var trips: [InboundTrip] = []
        for page in 0..<Self.arrivalsPagesMax {
            let r = try http.request(
                "GET", "\(mockURL)/__mock/inbound?offset=\(page * Self.inboundPageSize)&limit=\(Self.inboundPageSize)",
                timeoutSeconds: LoopbackHTTP.timeoutSecondsMax)
            guard r.status == 200, let list = try JSONSerialization.jsonObject(with: r.body) as? [[String: Any]] else {
                throw LoadTestError.record("GET /__mock/inbound: \(r.status) \(r.text.prefix(300))")
            }
            for item in list {
                guard let wamid = item["wamid"] as? String, let phone = item["phone_number_id"] as? String,
                      let posted = (item["posted_t"] as? NSNumber)?.int64Value, let acknowledged = (item["t"] as? NSNumber)?.int64Value,
                      acknowledged <= endNanoseconds else { continue }
                trips.append(InboundTrip(phoneNumberID: phone, wamid: wamid, postedNanoseconds: posted, acknowledgedNanoseconds: acknowledged, receivedNanoseconds: nil))
            }
            if list.count < Self.inboundPageSize { break }
        }
        let deadline = Date().addingTimeInterval(Self.deliveriesWaitSecondsMax)
        var received = subscriber.arrivals()
        while trips.contains(where: { received[$0.wamid] == nil }) && Date() < deadline {
            try await Task.sleep(for: .milliseconds(Self.pollMilliseconds / 4))
            received = subscriber.arrivals()
        }
        for i in trips.indices { trips[i].receivedNanoseconds = received[trips[i].wamid] }
        return trips
    }
}
