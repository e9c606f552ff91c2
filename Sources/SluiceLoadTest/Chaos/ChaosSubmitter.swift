import Foundation
import SluiceMock
import SluiceCore

/// The client of a chaos run, on its own thread (its requests block on curl): submits
/// campaigns round-robin over the senders, JSON and streamed NDJSON, half of them with an
/// `Idempotency-Key` (retried with it after a broken connection), keeping about
/// `backlogSeconds` of each sender's sending submitted ahead of the endpoint. Every
/// recipient number is used once in the whole run.
final class ChaosSubmitter: Sendable {
    /// The first recipient number; submission recipients follow one another from here.
    static let recipientBase: Int64 = 966_700_000_000
    /// Tries of a keyed submission whose connection broke.
    static let keyedAttemptsMax = 4
    /// Longest a submission waits for the dispatcher to be up, in seconds.
    static let upWaitSecondsMax = 60.0
    static let pollMilliseconds = 50
    /// Mock stats are read at most this often, in milliseconds.
    static let statsIntervalMilliseconds = 250

    private struct State {
        var up = false
        var stop = false
        var finished = false
        /// A kill in the intake phase asks for a submission now, backlog or not.
        var urgent = false
        var requestInFlight = false
        var submissions: [ChaosSubmission] = []
        var acknowledgedPerSender: [String: Int] = [:]
    }

    private let state = Locked(State())
    private let options: ChaosOptions
    private let apiURL: String
    private let mockURL: String
    private let mockHTTP: LoopbackHTTP
    private let bodies: String

    init(options: ChaosOptions, apiURL: String, mockURL: String, mockHTTP: LoopbackHTTP) {
        self.options = options
        self.apiURL = apiURL
        self.mockURL = mockURL
        self.mockHTTP = mockHTTP
        self.bodies = options.workDirectory + "/bodies"
    }

    // MARK: Control (from the kill loop)

    func setUp(_ up: Bool) { state.withLock { $0.up = up } }
    func requestUrgentSubmission() { state.withLock { $0.urgent = true } }
    var requestInFlight: Bool { state.withLock { $0.requestInFlight } }
    var isFinished: Bool { state.withLock { $0.finished } }
    var submissions: [ChaosSubmission] { state.withLock { $0.submissions } }
    func stop() { state.withLock { $0.stop = true } }

    func start() {
        let thread = Thread { [self] in
            run()
            state.withLock { $0.finished = true }
        }
        thread.name = "chaos-submitter"
        thread.start()
    }

    // MARK: The loop

    private func run() {
        try? FileManager.default.createDirectory(atPath: bodies, withIntermediateDirectories: true)
        var random = SeededGenerator(seed: options.seed &+ 0x5EED)
        let senders = Array(zip(options.phoneNumberIDs, options.tiers))
        let deadline = Date().addingTimeInterval(options.secondsMax)
        var nextRecipient = Self.recipientBase
        var arrived: [String: Int] = [:]
        var statsAt = Date.distantPast
        let api = ChaosHTTP(bearer: options.adminKey)
        for index in 0..<options.campaignsMax {
            let (sender, tier) = senders[index % senders.count]
            // Wait for the dispatcher and for room in this sender's backlog.
            while true {
                let (stop, up, urgent, acknowledged) = state.withLock { ($0.stop, $0.up, $0.urgent, $0.acknowledgedPerSender[sender] ?? 0) }
                if stop || Date() >= deadline { return }
                if Date().timeIntervalSince(statsAt) * 1000 >= Double(Self.statsIntervalMilliseconds) {
                    arrived = (try? mockCounts()) ?? arrived
                    statsAt = Date()
                }
                if up && (urgent || acknowledged - (arrived[sender] ?? 0) < Int(Double(tier) * options.backlogSeconds)) { break }
                Thread.sleep(forTimeInterval: Double(Self.pollMilliseconds) / 1000)
            }
            let count = max(10, Int.random(in: (tier / 2)...(tier * 2), using: &random))
            let format = index % 2 == 0 ? "json" : "ndjson"
            let keyed = (index / 2) % 2 == 1
            var submission = ChaosSubmission(
                index: index, phoneNumberID: sender, format: format, keyed: keyed, delivery: options.delivery,
                firstRecipient: nextRecipient, count: count)
            nextRecipient += Int64(count)
            let file = bodies + "/campaign-\(index).\(format)"
            let body = Self.body(submission)
            do {
                try body.write(to: URL(fileURLWithPath: file))
            } catch {
                submission.detail = "cannot write the body: \(error)"
                state.withLock { $0.submissions.append(submission) }
                continue
            }
            // Half the streamed uploads are slowed to last 0.5–2 s: a window to be killed in.
            let slow = format == "ndjson" && Bool.random(using: &random)
            let rate = slow ? Int(Double(body.count) / Double.random(in: 0.5...2.0, using: &random)) : nil
            submit(&submission, file: file, rateLimit: rate, api: api)
            try? FileManager.default.removeItem(atPath: file)
            state.withLock {
                $0.submissions.append(submission)
                if submission.outcome == .acknowledged { $0.acknowledgedPerSender[sender, default: 0] += submission.count }
            }
        }
    }

    /// Sends `submission` until it has an answer (keyed: up to ``keyedAttemptsMax`` tries).
    private func submit(_ submission: inout ChaosSubmission, file: String, rateLimit: Int?, api: ChaosHTTP) {
        var broken = false
        let attemptsMax = submission.keyed ? Self.keyedAttemptsMax : 1
        let headers = submission.keyed ? ["Idempotency-Key: chaos-\(options.seed)-\(submission.index)"] : []
        let contentType = submission.format == "ndjson" ? "application/x-ndjson" : "application/json"
        while submission.attempts < attemptsMax {
            guard waitUntilUp() else { break }
            submission.attempts += 1
            state.withLock {
                $0.requestInFlight = true
                $0.urgent = false
            }
            let outcome = try? api.request(
                "POST", apiURL + "/v1/campaigns", bodyFile: file, contentType: contentType, headers: headers,
                limitRateBytesPerSecond: rateLimit, timeoutSeconds: ChaosHTTP.timeoutSecondsMax)
            state.withLock { $0.requestInFlight = false }
            switch outcome {
            case .answered(let status, let body)?:
                if status == 202, let object = outcome?.json, let id = object["id"] as? String {
                    submission.outcome = .acknowledged
                    submission.campaignID = id
                    submission.accepted = (object["accepted"] as? NSNumber)?.intValue
                    submission.detail = nil
                    return
                }
                submission.detail = "HTTP \(status): \(String(decoding: body.prefix(300), as: UTF8.self))"
                submission.outcome = broken ? .indeterminate : .failed
                return
            case .refused(let why)?:
                // Never reached the server; a keyed submission tries again.
                submission.detail = "refused: \(why)"
            case .broken(_, let why)?:
                broken = true
                submission.detail = why
            case nil:
                submission.detail = "curl could not be started"
            }
        }
        submission.outcome = broken ? .indeterminate : .failed
    }

    private func waitUntilUp() -> Bool {
        let deadline = Date().addingTimeInterval(Self.upWaitSecondsMax)
        while Date() < deadline {
            let (up, stop) = state.withLock { ($0.up, $0.stop) }
            if up { return true }
            if stop { return false }
            Thread.sleep(forTimeInterval: Double(Self.pollMilliseconds) / 1000)
        }
        return false
    }

    private func mockCounts() throws -> [String: Int] {
        let r = try mockHTTP.request("GET", "\(mockURL)/__mock/stats")
        guard r.status == 200, let counts = try r.json()["per_sender"] as? [String: Any] else { return [:] }
        return counts.compactMapValues { ($0 as? NSNumber)?.intValue }
    }

    /// The campaign as JSON (`{"sender", "message", "recipients": […]}`) or NDJSON (a header
    /// line, then one recipient per line); `delivery` in the object or header when set.
    static func body(_ s: ChaosSubmission) -> Data {
        let delivery = s.delivery.map { #","delivery":""# + $0 + #"""# } ?? ""
        let header = #"{"sender":""# + s.phoneNumberID + #"","message":{"type":"text","text":{"body":"Chaos {{1}}"}}"# + delivery
        var text = s.format == "json" ? header + #","recipients":["# : header + "}\n"
        text.reserveCapacity(text.utf8.count + s.count * 48)
        for n in 0..<s.count {
            let line = #"{"to":""# + String(s.firstRecipient + Int64(n)) + #"","params":["c"# + String(s.index) + "n" + String(n) + #""]}"#
            if s.format == "json" {
                if n > 0 { text += "," }
                text += line
            } else {
                text += line + "\n"
            }
        }
        if s.format == "json" { text += "]}" }
        return Data(text.utf8)
    }
}
