import Foundation
import SluiceCore
import SluiceEngine

/// What a streamed JSON campaign body has said so far (`JSONCampaignScanner` events),
/// and its campaign upload once `sender` and `message` are known.
struct JSONIntake {
    let dispatcher: Dispatcher
    let batchRecipients: Int
    private var members: [String: Any] = [:]
    /// Recipients that arrived before `sender` and `message` (raw, as sent).
    private var early: [(index: Int, bytes: [UInt8])] = []
    private var upload: CampaignUpload?
    private var recipientsClosed = false
    private var count = 0

    /// Options that arrived after the campaign was begun: applied when it completes.
    private var optionsChanged = false

    init(dispatcher: Dispatcher, batchRecipients: Int) {
        self.dispatcher = dispatcher
        self.batchRecipients = batchRecipients
    }

    mutating func take(_ event: JSONCampaignScanner.Event) async throws {
        switch event {
        case .member(let key, let raw):
            if key == "recipients" { throw APIError.invalid("recipients", "recipients must be an array") }
            if members[key] != nil { throw APIError.invalid(key, "\(key) appears twice") }
            if upload != nil && CampaignOptionsInput.names.contains(key) { optionsChanged = true }
            members[key] = try Self.value(of: key, raw)
        case .recipient(let index, let bytes):
            if recipientsClosed { throw APIError.invalid("recipients", "recipients appears twice") }
            count += 1
            guard count <= CampaignIntake.recipientsPerRequestMax else {
                throw CampaignIntakeRoute.apiError(IntakeError.tooManyRecipients(count: count, max: CampaignIntake.recipientsPerRequestMax))
            }
            if upload == nil && members["sender"] != nil && members["message"] != nil { try await begin() }
            if upload != nil {
                try await add(index, bytes)
            } else {
                early.append((index, bytes))
            }
        case .recipientsEnd:
            if recipientsClosed { throw APIError.invalid("recipients", "recipients appears twice") }
            recipientsClosed = true
        }
    }

    /// The body ended: the upload with every recipient added, ready to complete.
    mutating func finish() async throws -> CampaignUpload {
        if upload == nil {
            // Checked in the order a whole body was: sender and message, options, recipients.
            _ = try CampaignIntakeRoute.senderAndMessage(members, where: "")
            _ = try CampaignOptionsInput.parse(members, prefix: "")
            guard recipientsClosed else { throw APIError.invalid("recipients", "recipients is required") }
            guard count > 0 else { throw CampaignIntakeRoute.apiError(IntakeError.noRecipients) }
            try await begin()
        }
        return upload!
    }

    /// The options in full when one came after the campaign was begun (nil: unchanged).
    func lateOptions() throws -> CampaignOptions? {
        optionsChanged ? try CampaignOptionsInput.parse(members, prefix: "") : nil
    }

    /// Gives up: the campaign, if one was begun, is removed with what it journaled — a
    /// body refused as bad input changes nothing, as when it was read whole.
    mutating func cancel() async {
        if let upload { await upload.cancel(removing: true) }
        upload = nil
    }

    private mutating func begin() async throws {
        let (sender, message) = try CampaignIntakeRoute.senderAndMessage(members, where: "")
        let options = try CampaignOptionsInput.parse(members, prefix: "")
        upload = try await CampaignIntakeRoute.begin(dispatcher, sender: sender, message: message, options: options, batchRecipients: batchRecipients)
        let waiting = early
        early = []
        for (index, bytes) in waiting { try await add(index, bytes) }
    }

    private mutating func add(_ index: Int, _ bytes: [UInt8]) async throws {
        let recipient = try Self.recipient(index, bytes)
        do {
            try await upload!.add(recipient, line: index)
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
    static func parse(_ body: [UInt8], chunkBytes: Int) throws -> (sender: String, message: [UInt8], recipients: [RecipientInput], options: CampaignOptions) {
        var scanner = JSONCampaignScanner(memberBytesMax: CampaignIntakeRoute.jsonMemberBytesMax, elementBytesMax: CampaignIntakeRoute.lineBytesMax)
        var events: [JSONCampaignScanner.Event] = []
        var members: [String: Any] = [:]
        var recipients: [RecipientInput] = []
        var closed = false
        do {
            var start = 0
            repeat {
                let end = min(body.count, start + max(1, chunkBytes))
                try body[start..<end].withUnsafeBytes { try scanner.feed($0, into: &events) }
                start = end
            } while start < body.count
            try scanner.finish()
        } catch let error as JSONCampaignScanner.Malformed {
            throw APIError(.badRequest, code: .malformedJSON, message: error.message)
        } catch let error as JSONCampaignScanner.TooLong {
            throw APIError(.contentTooLarge, code: .bodyTooLarge, message: "\(error.what) is longer than \(error.bytesMax) bytes")
        }
        for event in events {
            switch event {
            case .member(let key, let raw):
                if key == "recipients" { throw APIError.invalid("recipients", "recipients must be an array") }
                if members[key] != nil { throw APIError.invalid(key, "\(key) appears twice") }
                members[key] = try value(of: key, raw)
            case .recipient(let index, let bytes):
                if closed { throw APIError.invalid("recipients", "recipients appears twice") }
                recipients.append(try recipient(index, bytes))
            case .recipientsEnd:
                if closed { throw APIError.invalid("recipients", "recipients appears twice") }
                closed = true
            }
        }
        let (sender, message) = try CampaignIntakeRoute.senderAndMessage(members, where: "")
        let options = try CampaignOptionsInput.parse(members, prefix: "")
        guard closed else { throw APIError.invalid("recipients", "recipients is required") }
        guard !recipients.isEmpty else { throw CampaignIntakeRoute.apiError(IntakeError.noRecipients) }
        return (sender, message, recipients, options)
    }
}
