import Foundation
import Hummingbird

/// `GET /__mock/stats` and `GET /__mock/arrivals`: what the mock saw, for tests and demos.
struct InspectionRoutes: Sendable {
    /// Most arrivals one `/__mock/arrivals` response returns; page with `offset`.
    static let arrivalsPerResponseMax = 100_000

    let recorder: ArrivalRecorder

    func register(on router: Router<BasicRequestContext>) {
        router.get("/__mock/stats") { _, _ in
            stats()
        }
        router.get("/__mock/arrivals") { request, _ in
            arrivals(request)
        }
    }

    /// `{"arrivals": N, "per_sender": {"<phone_number_id>": N, …}}`.
    func stats() -> Response {
        var bytes = Array(#"{"arrivals":"#.utf8)
        bytes.append(contentsOf: String(recorder.count).utf8)
        bytes.append(contentsOf: #","per_sender":{"#.utf8)
        for (index, entry) in recorder.counts().sorted(by: { $0.key < $1.key }).enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            JSONText.appendString(entry.key, to: &bytes)
            bytes.append(UInt8(ascii: ":"))
            bytes.append(contentsOf: String(entry.value).utf8)
        }
        bytes.append(contentsOf: "}}".utf8)
        return JSONResponse.make(status: .ok, bytes: bytes)
    }

    /// JSON array of arrivals, oldest first; query: `phone_number_id`, `offset`, `limit`.
    func arrivals(_ request: Request) -> Response {
        let query = request.uri.queryParameters
        let phoneNumberID = query.get("phone_number_id")
        let offset = query.get("offset", as: Int.self) ?? 0
        let limit = query.get("limit", as: Int.self) ?? Self.arrivalsPerResponseMax
        guard offset >= 0 else {
            return MetaError.invalidParameter("offset", "Param offset must be a non-negative integer.").response
        }
        guard (0...Self.arrivalsPerResponseMax).contains(limit) else {
            return MetaError.invalidParameter(
                "limit",
                "Param limit must be between 0 and \(Self.arrivalsPerResponseMax)."
            ).response
        }
        let arrivals = recorder.arrivals(phoneNumberID: phoneNumberID, offset: offset, limit: limit)
        var bytes: [UInt8] = [UInt8(ascii: "[")]
        bytes.reserveCapacity(arrivals.count * 180 + 2)
        for (index, arrival) in arrivals.enumerated() {
            if index > 0 { bytes.append(UInt8(ascii: ",")) }
            arrival.appendJSONLine(to: &bytes)
        }
        bytes.append(UInt8(ascii: "]"))
        return JSONResponse.make(status: .ok, bytes: bytes)
    }
}
