import Foundation
import Hummingbird
import NIOCore

/// `POST /{version}/{phone_number_id}/messages`: draws a fault, checks the token, validates
/// like the Cloud API, judges the customer window (when on), throughput and the pair limit,
/// records the arrival, waits the latency and answers with a fresh wamid. Every error answer
/// is counted by code.
struct SendRoute: Sendable {
    /// Send bodies are small; anything bigger is a client bug (answered 413).
    static let bodyBytesMax = 64 * 1024
    static let path: RouterPath = "/:version/:phoneNumberID/messages"

    let recorder: ArrivalRecorder
    let book: SenderBook
    let faults: FaultInjector
    let templates: [String: Int]
    /// The configuration's fixed latency, added to the profile's.
    let fixedLatencyMilliseconds: Int
    let webhooks: StatusWebhookSender?
    /// Where sends refused over the tier are recorded; nil: not recorded.
    var refusals: RecordFile? = nil
    /// Media ids a send may name; nil: not checked.
    var media: MockMediaStore? = nil

    /// Thrown after a fault closed the connection: nothing is left to answer.
    struct ConnectionDropped: Error {}

    func register(on router: Router<MockRequestContext>) {
        router.post(Self.path) { request, context in
            try await handle(request, context: context)
        }
    }

    func handle(_ request: Request, context: MockRequestContext) async throws -> Response {
        // Arrival is when the request head was decoded, before body and latency.
        let arrivedAt = ArrivalStamp.arrival(of: request)
        let rawID = context.parameters.get("phoneNumberID") ?? ""
        let phoneNumberID = SendRequestValidator.isPhoneNumberID(rawID[...]) ? rawID : nil
        let (fault, sampledLatency) = faults.draw()
        let latency = Duration.milliseconds(fixedLatencyMilliseconds) + .nanoseconds(Int64(sampledLatency * 1e6))

        switch fault {
        case .none:
            break
        case .answer(let error):
            return try await answer(error, phoneNumberID: phoneNumberID, after: latency)
        case .storm:
            book.noteStorm(phoneNumberID: phoneNumberID)
            return try await answer(.rateLimitHit(), phoneNumberID: phoneNumberID, after: latency)
        case .hang(let hold):
            book.noteHang()
            try await Task.sleep(for: hold)
            // Only this request: on HTTP/2 other streams of the connection carry on.
            try await Self.drop(context.channel, wholeConnection: false)
        case .reset:
            book.noteReset()
            try await Self.drop(context.channel, wholeConnection: true)
        }

        guard let authorization = request.headers[.authorization], let token = Self.bearerToken(authorization) else {
            return try await answer(.invalidAccessToken(), phoneNumberID: phoneNumberID, after: latency)
        }
        guard let phoneNumberID else {
            return try await answer(
                .invalidParameter("phone_number_id", "Unsupported post request. Object with ID '\(rawID.prefix(64))' does not exist."),
                phoneNumberID: nil,
                after: latency
            )
        }
        guard book.authorizes(phoneNumberID: phoneNumberID, token: token) else {
            return try await answer(.accessTokenRejected(phoneNumberID: phoneNumberID), phoneNumberID: phoneNumberID, after: latency)
        }
        let body = try await request.body.collect(upTo: Self.bodyBytesMax)
        // A read receipt is not a message: answered, counted, not judged against the tier.
        switch SendRequestValidator.readReceipt(Data(body.readableBytesView)) {
        case .success?:
            book.noteReadReceipt(phoneNumberID)
            if latency > .zero { try await Task.sleep(for: latency) }
            return JSONResponse.make(status: .ok, bytes: Array(#"{"success":true}"#.utf8))
        case .failure(let error)?:
            return try await answer(error, phoneNumberID: phoneNumberID, after: latency)
        case nil:
            break
        }
        let send: ValidatedSend
        switch SendRequestValidator.validate(Data(body.readableBytesView)) {
        case .success(let valid): send = valid
        case .failure(let error): return try await answer(error, phoneNumberID: phoneNumberID, after: latency)
        }
        if let error = SendRequestValidator.checkTemplate(send, templates: templates) {
            return try await answer(error, phoneNumberID: phoneNumberID, after: latency)
        }
        if let media, let id = send.mediaIDs.first(where: { !media.isSendable($0, phoneNumberID: phoneNumberID, nowNanoseconds: MockMediaStore.wallNanoseconds()) }) {
            return try await answer(.mediaNotUsable(id), phoneNumberID: phoneNumberID, after: latency)
        }
        // A template (templateName set) may always open a conversation; anything else is free-form.
        if let error = book.admit(phoneNumberID: phoneNumberID, recipient: send.to, time: arrivedAt, freeForm: send.templateName == nil) {
            if error.code == 130_429, let refusals { Self.recordRefusal(refusals, time: arrivedAt, phoneNumberID: phoneNumberID, to: send.to, callbackData: send.callbackData) }
            return try await answer(error, phoneNumberID: phoneNumberID, after: latency)
        }
        let wamid = recorder.record(
            timeNanoseconds: arrivedAt,
            phoneNumberID: phoneNumberID,
            to: send.to,
            callbackData: send.callbackData
        )
        webhooks?.accepted(phoneNumberID: phoneNumberID, to: send.to, callbackData: send.callbackData, wamid: wamid)
        if latency > .zero {
            try await Task.sleep(for: latency)
        }
        return Self.successResponse(to: send.to, wamid: wamid)
    }

    /// `{"t":…,"phone_number_id":…,"to":…,"callback":…}` and a newline: refusals are rare,
    /// written at once. The callback (the dispatcher's message id) ties a refusal to its send.
    static func recordRefusal(_ file: RecordFile, time: Int64, phoneNumberID: String, to: String, callbackData: String?) {
        var line = Array(#"{"t":"#.utf8)
        line.append(contentsOf: String(time).utf8)
        line.append(contentsOf: #","phone_number_id":"#.utf8)
        JSONText.appendString(phoneNumberID, to: &line)
        line.append(contentsOf: #","to":"#.utf8)
        JSONText.appendString(to, to: &line)
        if let callbackData {
            line.append(contentsOf: #","callback":"#.utf8)
            JSONText.appendString(callbackData, to: &line)
        }
        line.append(contentsOf: "}\n".utf8)
        _ = file.write { line }
    }

    /// Counts the error, waits the latency, answers it.
    private func answer(_ error: MetaError, phoneNumberID: String?, after latency: Duration) async throws -> Response {
        book.noteError(code: error.code, phoneNumberID: phoneNumberID)
        if latency > .zero {
            try await Task.sleep(for: latency)
        }
        return error.response
    }

    /// Closes the request's channel (HTTP/1.1: the connection; HTTP/2: the stream, or with
    /// `wholeConnection` its connection and every stream on it) and throws, so nothing is
    /// answered; the server's attempt to write its fallback 500 then fails silently.
    static func drop(_ channel: any Channel, wholeConnection: Bool) async throws -> Never {
        // An HTTP/2 stream's parent is the connection, whose parent is the listener; an
        // HTTP/1.1 channel is itself the connection (its parent is the listener: never close that).
        let isStream = channel.parent?.parent != nil
        let target = isStream && wholeConnection ? channel.parent! : channel
        try? await target.close()
        throw ConnectionDropped()
    }

    /// The token of `Bearer <token>` when non-empty (the scheme is case-insensitive).
    static func bearerToken(_ header: String) -> Substring? {
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else { return nil }
        let token = parts[1].trimmingCharacters(in: .whitespaces)
        return token.isEmpty ? nil : token[...]
    }

    /// `Bearer <token>` with a non-empty token (the scheme is case-insensitive).
    static func hasBearerToken(_ header: String) -> Bool {
        bearerToken(header) != nil
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
