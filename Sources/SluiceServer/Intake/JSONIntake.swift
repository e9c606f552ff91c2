import Foundation
import SluiceCore
import SluiceEngine

/// What a JSON campaign body's events (`JSONCampaignScanner`) have said so far: its
/// members parsed, its recipients counted and handed back one by one. Shared by the route
/// (`JSONIntake`) and `JSONIntake.parse`.
struct JSONCampaignBody {
    private(set) var members: [String: Any] = [:]
    private(set) var recipientsClosed = false
    private(set) var count = 0

    /// Takes one event; returns the recipient element it carried, for the caller to add.
    mutating func take(_ event: JSONCampaignScanner.Event) throws -> (index: Int, bytes: [UInt8])? {
        switch event {
        case .member(let key, let raw):
            if key == "recipients" { throw APIError.invalid("recipients", "recipients must be an array") }
            guard CampaignIntakeRoute.headerFields.contains(key) else { throw KnownFields.unknown(key, CampaignIntakeRoute.headerFields.union(["recipients"])) }
            if members[key] != nil { throw APIError.invalid(key, "\(key) appears twice") }
            members[key] = try JSONIntake.value(of: key, raw)
            return nil
        case .recipient(let index, let bytes):
            if recipientsClosed { throw APIError.invalid("recipients", "recipients appears twice") }
            count += 1
            guard count <= CampaignIntake.recipientsPerRequestMax else {
                throw CampaignIntakeRoute.apiError(IntakeError.tooManyRecipients(count: count, max: CampaignIntake.recipientsPerRequestMax))
            }
            return (index, bytes)
        case .recipientsEnd:
            if recipientsClosed { throw APIError.invalid("recipients", "recipients appears twice") }
            recipientsClosed = true
            return nil
        }
    }

    func dedupe() throws -> Bool { try CampaignOptionsInput.dedupe(members, prefix: "") }

    /// Whether a campaign can be begun: `sender` and `message` have arrived.
    var hasHeader: Bool { members["sender"] != nil && members["message"] != nil }

    func header() throws -> (sender: String, message: [UInt8], options: CampaignOptions) {
        let (sender, message) = try CampaignIntakeRoute.senderAndMessage(members, where: "")
        return (sender, message, try CampaignOptionsInput.parse(members, prefix: ""))
    }

    /// The body ended: its header, checked in the order a whole body was (sender and
    /// message, options, then recipients).
    func completeHeader() throws -> (sender: String, message: [UInt8], options: CampaignOptions) {
        let header = try header()
        guard recipientsClosed else { throw APIError.invalid("recipients", "recipients is required") }
        guard count > 0 else { throw CampaignIntakeRoute.apiError(IntakeError.noRecipients) }
        return header
    }
}

/// A streamed JSON campaign body and its campaign upload, begun once `sender` and
/// `message` are known.
struct JSONIntake {
    let dispatcher: Dispatcher
    let batchRecipients: Int
    private var body = JSONCampaignBody()
    /// Recipients that arrived before `sender` and `message` (raw, as sent).
    private var early: [(index: Int, bytes: [UInt8])] = []
    private var upload: CampaignUpload?
    /// Options that arrived after the campaign was begun: applied when it completes.
    private var optionsChanged = false

    init(dispatcher: Dispatcher, batchRecipients: Int) {
        self.dispatcher = dispatcher
        self.batchRecipients = batchRecipients
    }

    mutating func take(_ event: JSONCampaignScanner.Event) async throws {
        if upload != nil, case .member(let key, _) = event, CampaignOptionsInput.names.contains(key) { optionsChanged = true }
        if case .member("dedupe", _) = event, upload?.hasRecipients == true {
            throw APIError.invalid("dedupe", "dedupe must come before recipients: it decides how they are taken")
        }
        guard let (index, bytes) = try body.take(event) else {
            if case .member("dedupe", _) = event, upload != nil { upload!.dedupe = try body.dedupe() }
            return
        }
        if upload == nil && body.hasHeader { try await begin(try body.header()) }
        if upload != nil {
            try await add(index, bytes)
        } else {
            early.append((index, bytes))
        }
    }

    /// The body ended: the upload with every recipient added, ready to complete.
    mutating func finish() async throws -> CampaignUpload {
        if upload == nil { try await begin(try body.completeHeader()) }
        return upload!
    }

    /// The options in full when one came after the campaign was begun (nil: unchanged).
    func lateOptions() throws -> CampaignOptions? {
        optionsChanged ? try body.header().options : nil
    }

    /// Gives up: the campaign, if one was begun, is removed with what it journaled — a
    /// body refused as bad input changes nothing, as when it was read whole.
    mutating func cancel() async {
        if let upload { await upload.cancel(removing: true) }
        upload = nil
    }

    private mutating func begin(_ header: (sender: String, message: [UInt8], options: CampaignOptions)) async throws {
        upload = try await CampaignIntakeRoute.begin(
            dispatcher, sender: header.sender, message: header.message, options: header.options, batchRecipients: batchRecipients)
        upload!.dedupe = try body.dedupe()
        let waiting = early
        early = []
        for (index, bytes) in waiting { try await add(index, bytes) }
    }

    private mutating func add(_ index: Int, _ bytes: [UInt8]) async throws {
        let recipient = try Self.recipient(index, bytes)
        do {
            try await upload!.add(recipient, position: index)
        } catch {
            throw CampaignIntakeRoute.apiError(error)
        }
    }

    /// A top-level member's value, or a 400 naming it.
    static func value(of key: String, _ raw: [UInt8]) throws -> Any {
        do {
            return try JSONSerialization.jsonObject(with: Data(raw), options: [.fragmentsAllowed])
        } catch {
            throw APIError(.badRequest, code: .malformedJSON, message: "the request body is not valid JSON: the value of \"\(key)\": \(JSONBody.reason(error))")
        }
    }

    /// Element `index` of `recipients`, or a 400 naming what is wrong in it.
    static func recipient(_ index: Int, _ bytes: [UInt8]) throws -> RecipientInput {
        switch RecipientLine.parse(bytes) {
        case .success(let recipient):
            guard BodyLines.isValidUTF8(bytes) else {
                throw APIError.invalid("recipients[\(index)]", "recipients[\(index)] is not valid UTF-8")
            }
            return recipient
        case .failure(let problem):
            guard let name = problem.field else {
                let why = problem.description.hasPrefix("the line is not") ? "must be an object" : problem.description
                throw APIError.invalid("recipients[\(index)]", "recipients[\(index)] \(why)")
            }
            throw APIError.invalid("recipients[\(index)].\(name)", "recipients[\(index)].\(problem.description)")
        }
    }

    /// A whole JSON body read the way the route reads a streamed one (in chunks of
    /// `chunkBytes`), without a dispatcher: the sender, message object, recipients and
    /// options, or the `APIError` the route would answer. For the fuzzer and tests.
    static func parse(_ bytes: [UInt8], chunkBytes: Int) throws -> (sender: String, message: [UInt8], recipients: [RecipientInput], options: CampaignOptions) {
        var scanner = JSONCampaignScanner(memberBytesMax: CampaignIntakeRoute.jsonMemberBytesMax, elementBytesMax: CampaignIntakeRoute.lineBytesMax)
        var events: [JSONCampaignScanner.Event] = []
        do {
            var start = 0
            repeat {
                let end = min(bytes.count, start + max(1, chunkBytes))
                try bytes[start..<end].withUnsafeBytes { try scanner.feed($0, into: &events) }
                start = end
            } while start < bytes.count
            try scanner.finish()
        } catch let error as JSONCampaignScanner.Malformed {
            throw error.apiError
        } catch let error as JSONCampaignScanner.TooLong {
            throw error.apiError
        }
        var body = JSONCampaignBody()
        var recipients: [RecipientInput] = []
        for event in events {
            if let (index, element) = try body.take(event) { recipients.append(try recipient(index, element)) }
        }
        let header = try body.completeHeader()
        return (header.sender, header.message, recipients, header.options)
    }
}
