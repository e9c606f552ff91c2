import Foundation
import Hummingbird

/// `POST /{version}/{phone_number_id}/messages`: validates like the Cloud API, records the
/// arrival, waits the configured latency and answers with a fresh wamid.
struct SendRoute: Sendable {
    /// Send bodies are small; anything bigger is a client bug (answered 413).
    static let bodyBytesMax = 64 * 1024
    static let path: RouterPath = "/:version/:phoneNumberID/messages"

    let recorder: ArrivalRecorder
    let latency: Duration?

    func register(on router: Router<BasicRequestContext>) {
        router.post(Self.path) { request, context in
            try await handle(request, context: context)
        }
    }

    func handle(_ request: Request, context: BasicRequestContext) async throws -> Response {
        // Taken first: arrival time is when the request reached us, before body and latency.
        let arrivedAt = WallClock.nowNanoseconds()
        guard let authorization = request.headers[.authorization], Self.hasBearerToken(authorization) else {
            return MetaError.invalidAccessToken().response
        }
        let phoneNumberID = context.parameters.get("phoneNumberID") ?? ""
        guard SendRequestValidator.isPhoneNumberID(phoneNumberID[...]) else {
            return MetaError.invalidParameter(
                "phone_number_id",
                "Unsupported post request. Object with ID '\(phoneNumberID.prefix(64))' does not exist."
            ).response
        }
        let body = try await request.body.collect(upTo: Self.bodyBytesMax)
        let send: ValidatedSend
        switch SendRequestValidator.validate(Data(body.readableBytesView)) {
        case .success(let valid): send = valid
        case .failure(let error): return error.response
        }
        let wamid = recorder.record(
            timeNanoseconds: arrivedAt,
            phoneNumberID: phoneNumberID,
            to: send.to,
            callbackData: send.callbackData
        )
        if let latency {
            try await Task.sleep(for: latency)
        }
        return Self.successResponse(to: send.to, wamid: wamid)
    }

    /// `Bearer <token>` with a non-empty token (the scheme is case-insensitive).
    static func hasBearerToken(_ header: String) -> Bool {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return false }
        return parts[1].contains { !$0.isWhitespace }
    }

    /// `{"messaging_product":"whatsapp","contacts":[{"input":…,"wa_id":…}],"messages":[{"id":…}]}`.
    static func successResponse(to: String, wamid: String) -> Response {
        let waID = to.hasPrefix("+") ? String(to.dropFirst()) : to
        var bytes: [UInt8] = []
        bytes.reserveCapacity(160)
        bytes.append(contentsOf: #"{"messaging_product":"whatsapp","contacts":[{"input":"#.utf8)
        JSONText.appendString(to, to: &bytes)
        bytes.append(contentsOf: #","wa_id":"#.utf8)
        JSONText.appendString(waID, to: &bytes)
        bytes.append(contentsOf: #"}],"messages":[{"id":"#.utf8)
        JSONText.appendString(wamid, to: &bytes)
        bytes.append(contentsOf: "}]}".utf8)
        return JSONResponse.make(status: .ok, bytes: bytes)
    }
}
