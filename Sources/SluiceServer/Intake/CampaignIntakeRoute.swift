import Foundation
import Hummingbird
import NIOCore
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// `POST /v1/campaigns` in its three formats (see `CampaignFormat`), with
/// `Idempotency-Key`.
///
/// Streamed formats are journaled in batches of `CampaignUpload.batchRecipientsDefault`
/// as the body arrives, each batch durable before more is read, and sent only after the
/// last line: an upload that ends early (the client went away, a line too long) cancels
/// the campaign and nothing of it is sent. A bad header or query answers 4xx with nothing
/// journaled; a bad row is counted and listed (`line`, `reason`), never fatal.
///
/// `Idempotency-Key` (1–255 printable ASCII): the first 202 answer is stored with the
/// SHA-256 of the request (format, CSV query, body), per API key id (`admin` for the
/// bootstrap key), for 24 hours. The same key with the same request answers the stored
/// status and body again (`Idempotent-Replayed: true`) and journals nothing; with another
/// request it is a 422 `idempotency_key_conflict`. Error answers are not stored.
enum CampaignIntakeRoute {
    /// Longest line of an NDJSON or CSV body (the NDJSON header holds the message object).
    static let lineBytesMax = 256 * 1024
    static let idempotencyKeyHeader = HTTPFields.Element.Name("Idempotency-Key")!
    static let replayedHeader = HTTPFields.Element.Name("Idempotent-Replayed")!
    static let templateNameBytesMax = 512
    static let languageBytesMax = 32
    /// Parameter columns of a CSV upload (`MessageTemplate.placeholderNumberMax`).
    static let parameterColumnsMax = 100

    static func post(_ request: Request, dispatcher: Dispatcher, keys: APIKeyStore, batchRecipients: Int) async throws -> Response {
        let format = CampaignFormat(contentType: request.headers[.contentType])
        let idempotencyKey = try Self.idempotencyKey(request.headers[idempotencyKeyHeader])
        let csvQuery = format == .csv ? try CSVQuery(request.uri.queryParameters) : nil
        // The request digest, only when there is a key to store it under.
        let hasher = idempotencyKey.map { _ in SHA256Hasher() }
        hasher?.update(Array("\(format.rawValue)\n".utf8))
        if let csvQuery { hasher?.update(Array(csvQuery.canonical.utf8)) }

        var claim: Claim?
        if let idempotencyKey, let hasher {
            let caller = try keys.authenticate(authorizationHeader: request.headers[.authorization])
            claim = Claim(scope: caller.id, key: idempotencyKey)
            if let replay = try await replay(request, format: format, claim: claim!, hasher: hasher, dispatcher: dispatcher) { return replay }
        }
        switch format {
        case .json: return try await postJSON(request, dispatcher: dispatcher, hasher: hasher, claim: claim, batchRecipients: batchRecipients)
        case .ndjson: return try await postNDJSON(request, dispatcher: dispatcher, hasher: hasher, claim: claim, batchRecipients: batchRecipients)
        case .csv: return try await postCSV(request, query: csvQuery!, dispatcher: dispatcher, hasher: hasher, claim: claim, batchRecipients: batchRecipients)
        }
    }

    struct Claim {
        var scope: String
        var key: String
    }

    /// The stored answer when the claim's key was used before (the body read only to tell
    /// a retry from a different request); nil when it is new.
    static func replay(_ request: Request, format: CampaignFormat, claim: Claim, hasher: SHA256Hasher, dispatcher: Dispatcher) async throws -> Response? {
        guard let stored = try dispatcher.idempotencyRecord(scope: claim.scope, key: claim.key) else { return nil }
        var received = 0
        for try await chunk in request.body {
            received += chunk.readableBytes
            if format == .json && received > APIRoutes.campaignBodyBytesMax { throw Self.jsonBodyTooLarge }
            chunk.withUnsafeReadableBytes { hasher.update($0) }
        }
        return try answer(stored, digest: hasher.finish())
    }

    // MARK: JSON

    static let jsonBodyTooLarge = APIError(
        .contentTooLarge, code: .bodyTooLarge, message: "the request body is larger than \(APIRoutes.campaignBodyBytesMax) bytes")

    /// Longest value of a top-level member other than `recipients` (the message object,
    /// options) in a JSON body.
    static let jsonMemberBytesMax = 1 << 20
    /// A JSON body, `{"sender", "message", "recipients": [{"to", "params"}], options…}`,
    /// read as it arrives: `recipients` one element at a time, journaled in batches by a
    /// campaign upload, so a million recipients take no more memory than an NDJSON body.
    /// Elements that come before `sender` and `message` wait (raw) until they are known;
    /// an option after `recipients` is refused (400 naming it), since the campaign was
    /// created without it. A malformed element or any other 4xx cancels the upload:
    /// nothing is journaled.
    static func postJSON(_ request: Request, dispatcher: Dispatcher, hasher: SHA256Hasher?, claim: Claim?, batchRecipients: Int) async throws -> Response {
        var scanner = JSONCampaignScanner(memberBytesMax: jsonMemberBytesMax, elementBytesMax: lineBytesMax)
        var intake = JSONIntake(dispatcher: dispatcher, batchRecipients: batchRecipients)
        var events: [JSONCampaignScanner.Event] = []
        var received = 0
        do {
            for try await chunk in request.body {
                received += chunk.readableBytes
                guard received <= APIRoutes.campaignBodyBytesMax else { throw Self.jsonBodyTooLarge }
                if let hasher { chunk.withUnsafeReadableBytes { hasher.update($0) } }
                try chunk.withUnsafeReadableBytes { try scanner.feed($0, into: &events) }
                for event in events { try await intake.take(event) }
                events.removeAll(keepingCapacity: true)
            }
            try scanner.finish()
            var upload = try await intake.finish()
            return try await complete(
                &upload, dispatcher: dispatcher, digest: hasher?.finish() ?? [], claim: claim, position: "index", options: try intake.lateOptions())
        } catch let error as JSONCampaignScanner.Malformed {
            await intake.cancel()
            throw error.apiError
        } catch let error as JSONCampaignScanner.TooLong {
            await intake.cancel()
            throw error.apiError
        } catch {
            await intake.cancel()
            throw apiError(error)
        }
    }

    /// A campaign's members besides its recipients (a JSON body's top level, an NDJSON header).
    static let headerFields: Set<String> = Set(["sender", "message"] + CampaignOptionsInput.names + CampaignOptionsInput.intakeNames)

    // MARK: NDJSON

    ///
    /// A cluster node's handover names the campaign's `origin`: the new campaign keeps it,
    /// and `notes(id)` commit with it.
    static func postNDJSON(
        _ request: Request, dispatcher: Dispatcher, hasher: SHA256Hasher?, claim: Claim?, batchRecipients: Int,
        origin: CampaignOrigin? = nil, notes: (CampaignID) -> [IdempotencyRecord] = { _ in [] }
    ) async throws -> Response {
        var lines = BodyLines(request.body, lineBytesMax: lineBytesMax, hasher: hasher)
        guard let header = try await lines.nextNonBlank() else {
            throw APIError.invalid("header", #"the body is empty; its first line must be the campaign header {"sender": …, "message": {…}}"#)
        }
        var (sender, message, options, dedupe) = try ndjsonHeader(header.bytes, number: header.number)
        options.origin = origin
        var upload = try await begin(dispatcher, sender: sender, message: message, options: options, batchRecipients: batchRecipients)
        upload.dedupe = dedupe
        return try await readLines(&lines, into: &upload, dispatcher: dispatcher, hasher: hasher, claim: claim, notes: notes(upload.id)) { RecipientLine.parse($0) }
    }

    /// The header line of an NDJSON body, `{"sender": …, "message": {…}}` (line `number`):
    /// the sender and the message object, or a 400 naming what is wrong.
    static func ndjsonHeader(_ bytes: [UInt8], number: Int) throws -> (sender: String, message: [UInt8], options: CampaignOptions, dedupe: Bool) {
        let object: [String: Any]
        do {
            guard let parsed = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any] else {
                throw APIError.invalid("header", "line \(number), the campaign header, must be a JSON object")
            }
            object = parsed
        } catch let error as APIError {
            throw error
        } catch {
            throw APIError.invalid("header", "line \(number), the campaign header, is not valid JSON: \(JSONBody.reason(error))")
        }
        if object["recipients"] != nil {
            throw APIError.invalid("header.recipients", "the header line holds no recipients: put one recipient object per line after it")
        }
        try KnownFields.check(object, headerFields, prefix: "header.")
        let (sender, message) = try senderAndMessage(object, where: "header.")
        return (sender, message, try CampaignOptionsInput.parse(object, prefix: "header."), try CampaignOptionsInput.dedupe(object, prefix: "header."))
    }

    // MARK: CSV

    /// `?sender=…&template=…&language=…`, with `separator` and `column=NAME=TARGET`
    /// (``CSVColumnMapping``) when the file needs them, checked before the body is read.
    struct CSVQuery {
        var sender: String
        var template: String
        var language: String
        var options: CampaignOptions
        var dedupe: Bool
        /// nil: detected from the header row.
        var separator: CSVSeparator?
        /// Empty: a `to` column, the others parameters in order.
        var columns: [CSVColumnMapping]

        init(_ query: Parameters) throws {
            func required(_ name: String, bytesMax: Int) throws -> String {
                guard let value = query[name[...]].map(String.init), !value.isEmpty else {
                    throw APIError.invalid(name, "\(name) is required in the query for text/csv (?sender=…&template=…&language=…)")
                }
                guard value.utf8.count <= bytesMax else { throw APIError.invalid(name, "\(name) is longer than \(bytesMax) bytes") }
                return value
            }
            sender = try required("sender", bytesMax: CampaignIntake.phoneNumberIDBytesMax)
            guard APIRoutes.isPhoneNumberID(sender) else {
                throw APIError.invalid("sender", "sender must be a phone_number_id of 1–\(CampaignIntake.phoneNumberIDBytesMax) digits")
            }
            template = try required("template", bytesMax: CampaignIntakeRoute.templateNameBytesMax)
            language = try required("language", bytesMax: CampaignIntakeRoute.languageBytesMax)
            options = try CampaignOptionsInput.parse(query: query)
            dedupe = try CampaignOptionsInput.dedupe(query: query)
            if let value = query["separator"].map(String.init) {
                guard let separator = CSVSeparator(query: value) else {
                    throw APIError.invalid("separator", "separator must be ',', ';' or 'tab' (leave it out to detect it from the header row), got '\(value)'")
                }
                self.separator = separator
            }
            columns = try CSVColumnMapping.parse(query.getAll("column"))
        }

        /// What identifies the query in the request digest.
        var canonical: String {
            "sender=\(sender)\u{0}template=\(template)\u{0}language=\(language)\u{0}dedupe=\(dedupe)\n" + CampaignOptionsInput.canonical(options)
                + "separator=\(separator?.name ?? "")\u{0}column=\(CSVColumnMapping.canonical(columns))\n"
        }

        /// A template message whose body has `parameterCount` text parameters `{{1}}`….
        func messageObject(parameterCount: Int) throws -> [UInt8] {
            var template: [String: Any] = ["name": self.template, "language": ["code": language]]
            if parameterCount > 0 {
                let parameters = (1...parameterCount).map { ["type": "text", "text": "{{\($0)}}"] }
                template["components"] = [["type": "body", "parameters": parameters]]
            }
            return try Array(JSONSerialization.data(withJSONObject: ["type": "template", "template": template], options: [.sortedKeys, .withoutEscapingSlashes]))
        }
    }

    static func postCSV(_ request: Request, query: CSVQuery, dispatcher: Dispatcher, hasher: SHA256Hasher?, claim: Claim?, batchRecipients: Int) async throws -> Response {
        var lines = BodyLines(request.body, lineBytesMax: lineBytesMax, hasher: hasher)
        guard let header = try await lines.nextNonBlank() else {
            throw APIError.invalid("header", "the body is empty; its first row must name the columns, one of them 'to'")
        }
        let columns = try CSVColumns(header: header.bytes, number: header.number, separator: query.separator, mappings: query.columns)
        let message = try query.messageObject(parameterCount: columns.parameterCount)
        var upload = try await begin(dispatcher, sender: query.sender, message: message, options: query.options, batchRecipients: batchRecipients)
        upload.dedupe = query.dedupe
        return try await readLines(&lines, into: &upload, dispatcher: dispatcher, hasher: hasher, claim: claim) { columns.recipient($0) }
    }

    /// Reads the recipient lines after the header into `upload` — blank lines skipped, each
    /// other line a recipient or a rejection — and completes it; cancels it on any throw.
    static func readLines<Problem: Error & CustomStringConvertible>(
        _ lines: inout BodyLines, into upload: inout CampaignUpload, dispatcher: Dispatcher, hasher: SHA256Hasher?, claim: Claim?,
        notes: [IdempotencyRecord] = [], recipient: ([UInt8]) -> Result<RecipientInput, Problem>
    ) async throws -> Response {
        do {
            while let line = try await lines.next() {
                if BodyLines.isBlank(line.bytes) { continue }
                // Invalid UTF-8 would reach WhatsApp as U+FFFD: a Latin-1 export sends garbled names.
                guard BodyLines.isValidUTF8(line.bytes) else {
                    upload.reject(position: line.number, reason: "the line is not valid UTF-8 (save the file as UTF-8)")
                    continue
                }
                switch recipient(line.bytes) {
                case .success(let recipient): try await upload.add(recipient, position: line.number)
                case .failure(let problem): upload.reject(position: line.number, reason: problem.description)
                }
            }
            return try await complete(&upload, dispatcher: dispatcher, digest: hasher?.finish() ?? [], claim: claim, position: "line", notes: notes)
        } catch {
            await upload.cancel()
            throw apiError(error, position: "line")
        }
    }

    // MARK: Shared

    static func senderAndMessage(_ body: [String: Any], where prefix: String) throws -> (String, [UInt8]) {
        guard let senderValue = body["sender"] else { throw APIError.invalid(prefix + "sender", "sender is required (a registered phone_number_id)") }
        guard let sender = senderValue as? String else { throw APIError.invalid(prefix + "sender", "sender must be a string") }
        guard APIRoutes.isPhoneNumberID(sender) else {
            throw APIError.invalid(prefix + "sender", "sender must be a phone_number_id of 1–\(CampaignIntake.phoneNumberIDBytesMax) digits")
        }
        guard let messageValue = body["message"] else { throw APIError.invalid(prefix + "message", "message is required (a Cloud API message object)") }
        guard let message = messageValue as? [String: Any] else { throw APIError.invalid(prefix + "message", "message must be a JSON object") }
        let bytes = try Array(JSONSerialization.data(withJSONObject: message, options: [.sortedKeys, .withoutEscapingSlashes]))
        return (sender, bytes)
    }

    static func begin(_ dispatcher: Dispatcher, sender: String, message: [UInt8], options: CampaignOptions, batchRecipients: Int) async throws -> CampaignUpload {
        do {
            return try await dispatcher.beginCampaign(senderPhoneNumberID: sender, messageObject: message, options: options, batchRecipients: batchRecipients)
        } catch {
            throw apiError(error)
        }
    }

    /// Makes the upload's campaign active (storing the answer under the key) and answers
    /// 202, or replays what a concurrent request with the same key stored first.
    static func complete(
        _ upload: inout CampaignUpload, dispatcher: Dispatcher, digest: [UInt8], claim: Claim?, position: String, options: CampaignOptions? = nil,
        notes: [IdempotencyRecord] = []
    ) async throws -> Response {
        let receipt = upload.receipt
        var json: [String: Any] = [
            "id": receipt.id.description,
            "accepted": receipt.accepted,
            "rejected_count": receipt.rejectedCount,
            "rejected": receipt.rejections.map { [position: $0.position, "reason": $0.reason] as [String: Any] },
        ]
        // Ids are per node: any node finds it as `<node>:<id>`.
        if let node = dispatcher.configuration.nodeID { json["node"] = node }
        let body = try Array(JSONSerialization.data(withJSONObject: json, options: [.sortedKeys, .withoutEscapingSlashes]))
        let record = claim.map {
            IdempotencyRecord(
                scope: $0.scope, key: $0.key, createdMilliseconds: dispatcher.clock.wallMilliseconds(),
                requestDigest: digest, status: Int(HTTPResponse.Status.accepted.code), body: body)
        }
        switch try await upload.complete(storing: record, options: options, alsoStoring: notes) {
        case .completed:
            return response(.accepted, body)
        case .keyTaken(let stored):
            return try answer(stored, digest: digest)
        }
    }

    /// The stored answer for a retry of the same request, a 422 for a different one.
    static func answer(_ stored: IdempotencyRecord, digest: [UInt8]) throws -> Response {
        guard Digest.constantTimeEqual(stored.requestDigest, digest) else {
            throw APIError(
                .unprocessableContent, code: .idempotencyKeyConflict, field: "Idempotency-Key",
                message: "Idempotency-Key '\(stored.key)' was first used with a different request (format, query or body); nothing was journaled — use a new key for a new campaign")
        }
        var response = response(HTTPResponse.Status(code: stored.status), stored.body)
        response.headers[replayedHeader] = "true"
        return response
    }

    static func response(_ status: HTTPResponse.Status, _ body: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// The header's value: nil when absent, a 400 when it is not 1–255 printable ASCII.
    static func idempotencyKey(_ value: String?) throws -> String? {
        guard let value else { return nil }
        let bytes = value.utf8
        guard !bytes.isEmpty, bytes.count <= IdempotencyRecord.keyBytesMax, bytes.allSatisfy({ $0 >= 0x20 && $0 <= 0x7e }) else {
            throw APIError.invalid("Idempotency-Key", "Idempotency-Key must be 1–\(IdempotencyRecord.keyBytesMax) printable ASCII characters")
        }
        return value
    }

    /// The answer for what intake threw; API errors pass through.
    static func apiError(_ error: any Error, position: String = "index") -> any Error {
        guard let error = error as? IntakeError else { return error }
        switch error {
        case .unknownSender: return APIError(.unprocessableContent, code: .unknownSender, field: "sender", message: error.description)
        case .invalidMessage(let why): return APIError.invalid("message", why.hasPrefix("message") ? why : "message: \(why)")
        case .invalidSender(let problem): return APIError.invalid(problem.field, problem.reason)
        case .noRecipients, .tooManyRecipients: return APIError.invalid("recipients", error.description)
        case .noValidRecipients(_, let rejections):
            var answer = APIError(.unprocessableContent, code: .noValidRecipients, field: "recipients", message: error.description)
            if let first = rejections.first { answer.message += "; first: \(position == "line" ? "line \(first.position)" : "recipients[\(first.position)]"): \(first.reason)" }
            return answer
        case .invalidOption(let problem): return APIError.invalid(problem.field, problem.reason)
        case .storageFull(let why): return APIError(HTTPResponse.Status(code: 507, reasonPhrase: "Insufficient Storage"), code: .insufficientStorage, message: why)
        case .campaignState(let why): return APIError(.conflict, code: .campaignState, field: "id", message: why)
        case .journal(let why): return APIError(.serviceUnavailable, code: .journalUnavailable, message: why)
        }
    }
}
