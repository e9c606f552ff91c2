import Foundation
import SluiceTransport

/// What the endpoint and the dispatcher recorded of a run: the mock's counters, arrivals
/// and acknowledged deliveries, and `serve`'s departure record with the mock's refusals.
extension LoadTestRunner {
    struct MockStats {
        var perSender: [String: Int]
        var errors: MockErrorCounts
    }

    /// `GET /__mock/stats`; the `errors` keys of newer mocks are optional.
    func mockStats(_ http: LoopbackHTTP, _ mockURL: String) throws -> MockStats {
        let r = try http.request("GET", "\(mockURL)/__mock/stats")
        guard r.status == 200 else { throw LoadTestError.http("GET /__mock/stats: \(r.status) \(r.text)") }
        let object = try r.json()
        var perSender: [String: Int] = [:]
        if let counts = object["per_sender"] as? [String: Any] {
            for (id, value) in counts { perSender[id] = (value as? NSNumber)?.intValue ?? 0 }
        }
        return MockStats(perSender: perSender, errors: MockErrorCounts(statsObject: object))
    }

    /// Every arrival from `GET /__mock/arrivals`, page by page (bounded).
    func pagedArrivals(_ http: LoopbackHTTP, _ mockURL: String) throws -> [EndpointArrival] {
        var all: [EndpointArrival] = []
        let decoder = JSONDecoder()
        for page in 0..<Self.arrivalsPagesMax {
            let r = try http.request(
                "GET", "\(mockURL)/__mock/arrivals?offset=\(page * Self.arrivalsPageSize)&limit=\(Self.arrivalsPageSize)",
                timeoutSeconds: LoopbackHTTP.timeoutSecondsMax)
            guard r.status == 200 else { throw LoadTestError.record("GET /__mock/arrivals: \(r.status) \(r.text)") }
            let batch = try decoder.decode([EndpointArrival].self, from: r.body)
            all.append(contentsOf: batch)
            if batch.count < Self.arrivalsPageSize { return all }
        }
        throw LoadTestError.record("more than \(Self.arrivalsPagesMax) pages of arrivals at the mock")
    }

    /// Pages through `GET /__mock/webhooks/delivered` once per poll until the planned
    /// senders' deliveries cover `expected` distinct messages or ``deliveriesWaitSecondsMax`` passes.
    func collectDeliveries(_ http: LoopbackHTTP, _ mockURL: String, senders: Set<String>, expected: Int) async throws -> [EndpointArrival] {
        var all: [EndpointArrival] = []
        var seen = Set<String>()
        let decoder = JSONDecoder()
        let deadline = Date().addingTimeInterval(Self.deliveriesWaitSecondsMax)
        while true {
            var offset = all.count
            for _ in 0..<Self.arrivalsPagesMax {
                let r = try http.request(
                    "GET", "\(mockURL)/__mock/webhooks/delivered?offset=\(offset)&limit=\(Self.arrivalsPageSize)",
                    timeoutSeconds: LoopbackHTTP.timeoutSecondsMax)
                guard r.status == 200 else { throw LoadTestError.record("GET /__mock/webhooks/delivered: \(r.status) \(r.text)") }
                let batch = try decoder.decode([EndpointArrival].self, from: r.body)
                all.append(contentsOf: batch)
                offset += batch.count
                for d in batch where senders.contains(d.phoneNumberID) { seen.insert(d.phoneNumberID + "/" + d.to) }
                if batch.count < Self.arrivalsPageSize { break }
            }
            if seen.count >= expected || Date() >= deadline { break }
            try await Task.sleep(for: .milliseconds(Self.pollMilliseconds / 4))
        }
        if seen.count < expected { logger.warning("\(expected - seen.count) of \(expected) messages got no delivered webhook within \(Int(Self.deliveriesWaitSecondsMax)) s") }
        return all.filter { senders.contains($0.phoneNumberID) }
    }

    /// The started dispatcher's departure record and the started mock's refusal record; nil
    /// (the 130429s are then judged from the endpoint's side alone) when either is missing.
    func departureInput(work: String) throws -> DepartureInput? {
        guard let record = try DepartureRecord.read(path: work + "/data/departures") else {
            logger.warning("no departure record in \(work)/data: 130429s are judged by the endpoint's count alone")
            return nil
        }
        let refusalsPath = work + "/refusals.ndjson"
        guard let data = FileManager.default.contents(atPath: refusalsPath) else {
            logger.warning("no refusal record at \(refusalsPath): 130429s are judged by the endpoint's count alone")
            return nil
        }
        let refusals: [EndpointArrival]
        do { refusals = try EndpointArrival.parseRecord(data) } catch {
            throw LoadTestError.record("cannot read the refusal record \(refusalsPath): \(error)")
        }
        return DepartureInput(entries: record.entries, coveredFromNanoseconds: record.coveredFromNanoseconds, refusals: refusals)
    }
}
