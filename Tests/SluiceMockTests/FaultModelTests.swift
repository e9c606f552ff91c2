import Foundation
import SluiceCore
import Testing

@testable import SluiceMock

@Suite("Fault model, limits and parsing without sockets")
struct FaultModelTests {
    static let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    @Test func seededGeneratorIsReproducible() {
        var a = SeededGenerator(seed: 42)
        var b = SeededGenerator(seed: 42)
        var c = SeededGenerator(seed: 43)
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        #expect(first != (0..<8).map { _ in c.next() })
    }

    @Test func fixedAndUniformStayInBounds() {
        var generator = SeededGenerator(seed: 1)
        #expect(LatencyDistribution.fixed(milliseconds: 12).sample(using: &generator) == 12)
        let uniform = LatencyDistribution.uniform(minMilliseconds: 5, maxMilliseconds: 9)
        let samples = (0..<10_000).map { _ in uniform.sample(using: &generator) }
        #expect(samples.allSatisfy { (5..<9).contains($0) })
        #expect(samples.min()! < 5.1 && samples.max()! > 8.9)
    }

    @Test func longTailHasItsMedianAndP99() {
        var generator = SeededGenerator(seed: 99)
        let distribution = LatencyDistribution.longTail(medianMilliseconds: 20, p99Milliseconds: 200)
        let samples = (0..<40_000).map { _ in distribution.sample(using: &generator) }.sorted()
        let median = samples[samples.count / 2]
        let p99 = samples[samples.count * 99 / 100]
        #expect(abs(median - 20) < 1.5, "median \(median)")
        #expect(abs(p99 - 200) < 25, "p99 \(p99)")
        #expect(samples.first! > 0 && samples.last! <= LatencyDistribution.millisecondsMax)
    }

    @Test func latencyParsing() throws {
        #expect(try LatencyDistribution(parsing: "fixed:5") == .fixed(milliseconds: 5))
        #expect(try LatencyDistribution(parsing: "uniform:1-20") == .uniform(minMilliseconds: 1, maxMilliseconds: 20))
        #expect(try LatencyDistribution(parsing: "long-tail:20/250") == .longTail(medianMilliseconds: 20, p99Milliseconds: 250))
        #expect(throws: MockError.self) { try LatencyDistribution(parsing: "uniform:20-1") }
        #expect(throws: MockError.self) { try LatencyDistribution(parsing: "gaussian:3") }
    }

    @Test func decisionsPartitionTheUnitInterval() {
        var profile = FaultProfile()
        profile.serverErrorShare = 0.1
        profile.errorMix = [.init(code: 131_000, share: 0.1)]
        profile.hangShare = 0.1
        profile.resetShare = 0.1
        #expect(FaultInjector.decide(roll: 0.05, coin: 0.2, profile: profile) == .answer(.unknownServerError()))
        #expect(FaultInjector.decide(roll: 0.05, coin: 0.7, profile: profile) == .answer(.serviceUnavailable()))
        #expect(FaultInjector.decide(roll: 0.15, coin: 0, profile: profile) == .answer(.injected(code: 131_000)))
        #expect(FaultInjector.decide(roll: 0.25, coin: 0, profile: profile) == .hang(.milliseconds(FaultProfile.hangMillisecondsDefault)))
        #expect(FaultInjector.decide(roll: 0.35, coin: 0, profile: profile) == .reset)
        #expect(FaultInjector.decide(roll: 0.45, coin: 0, profile: profile) == FaultDecision.none)
    }

    @Test func sameSeedSameFaults() {
        var profile = FaultProfile()
        profile.seed = 5
        profile.serverErrorShare = 0.3
        profile.resetShare = 0.3
        profile.latency = .uniform(minMilliseconds: 0, maxMilliseconds: 100)
        let a = FaultInjector(profile: profile)
        let b = FaultInjector(profile: profile)
        for _ in 0..<200 {
            let (x, y) = (a.draw(), b.draw())
            #expect(x.decision == y.decision && x.latencyMilliseconds == y.latencyMilliseconds)
        }
    }

    @Test func stormsRecurOnTheMocksClock() throws {
        var profile = FaultProfile()
        profile.storm = .init(everyMilliseconds: 1_000, durationMilliseconds: 200)
        let ms: UInt64 = 1_000_000
        let start: UInt64 = 5_000 * ms
        let injector = FaultInjector(profile: profile, startNanoseconds: start)
        for (offset, raging) in [(0, true), (199, true), (200, false), (999, false), (1_000, true), (1_150, true), (1_250, false), (7_100, true)] {
            let decision = injector.draw(nowNanoseconds: start + UInt64(offset) * ms).decision
            #expect(decision == (raging ? .storm : FaultDecision.none), "at \(offset) ms")
        }
        let parsed = try FaultProfile(toml: "[storm]\nevery_ms = 10000\nduration_ms = 1500\n")
        #expect(parsed.storm == .init(everyMilliseconds: 10_000, durationMilliseconds: 1_500))
        #expect(!parsed.isInert)
        #expect(throws: MockError.self) { try FaultProfile(toml: "[storm]\nevery_ms = 100\nduration_ms = 200\n") }
        #expect(throws: MockError.self) { try FaultProfile(toml: "[storm]\nevery_ms = 100\n") }
    }

    @Test func shippedProfilesLoad() throws {
        let flaky = try FaultProfile(tomlFile: Self.repositoryRoot.appendingPathComponent("tuning/faults/flaky.toml").path)
        #expect(flaky.serverErrorShare == 0.05)
        #expect(flaky.hangShare == 0.02)
        #expect(flaky.resetShare == 0.01)
        #expect(flaky.errorMix == [.init(code: 131_000, share: 0.005)])
        #expect(flaky.latency == .longTail(medianMilliseconds: 15, p99Milliseconds: 250))
        #expect(flaky.storm == .init(everyMilliseconds: 15_000, durationMilliseconds: 1_000))
        let storm = try FaultProfile(tomlFile: Self.repositoryRoot.appendingPathComponent("tuning/faults/storm.toml").path)
        #expect(storm.totalShare == 0)
        #expect(storm.latency == .uniform(minMilliseconds: 1, maxMilliseconds: 5))
    }

    @Test func badProfilesNameTheProblem() {
        let cases: [(String, String)] = [
            ("server_error_share = 0.7\nhang_share = 0.5", "add up"),
            ("reset_share = 2", "reset_share"),
            ("shares = 1", "unknown key 'shares'"),
            ("[latency]\nkind = \"uniform\"\nmin_ms = 1", "max_ms"),
            ("hang_ms = -1", "hang_ms"),
            ("[[errors]]\nshare = 0.1", "code"),
            ("seed = ", "not valid TOML"),
        ]
        for (text, expected) in cases {
            do {
                _ = try FaultProfile(toml: text, source: "test.toml")
                Issue.record("accepted: \(text)")
            } catch .invalidConfiguration(let message) {
                #expect(message.contains(expected), "\(message)")
                #expect(message.hasPrefix("test.toml"), "\(message)")
            } catch {
                Issue.record("unexpected \(error)")
            }
        }
    }

    @Test func senderArguments() throws {
        let parsed = try MockSender.parse(argument: "106=80:tok")
        #expect(parsed.phoneNumberID == "106")
        #expect(parsed.sender == MockSender(tierMessagesPerSecond: 80, accessToken: "tok"))
        #expect(try MockSender.parse(argument: "7=unlimited").sender == MockSender())
        #expect(try MockSender.parse(argument: "7=20.5").sender == MockSender(tierMessagesPerSecond: 20.5))
        #expect(throws: MockError.self) { try MockSender.parse(argument: "x=80") }
        #expect(throws: MockError.self) { try MockSender.parse(argument: "7=fast") }
        #expect(throws: MockError.self) { try MockSender.parse(argument: "7=80:") }
    }

    @Test func slidingWindowAllowsExactlyTheTier() {
        let book = SenderBook(senders: ["1": MockSender(tierMessagesPerSecond: 5.9)], requireRegistered: false, pairLimit: false)
        let second = SenderBook.windowNanoseconds
        // Five at 0…40 ms, then refusals until the first leaves the window.
        for index in 0..<5 { #expect(book.admit(phoneNumberID: "1", recipient: "9", time: Int64(index) * 10_000_000) == nil) }
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: 500_000_000)?.code == 130_429)
        // The window is the trailing (t - 1 s, t]: the 0 ms arrival leaves it at exactly 1 s.
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: second - 1)?.code == 130_429)
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: second) == nil)
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: second + 1)?.code == 130_429)
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: second + 10_000_000) == nil)
        // Unregistered numbers are not limited.
        for _ in 0..<50 { #expect(book.admit(phoneNumberID: "2", recipient: "9", time: 0) == nil) }
    }

    @Test func pairLimitBurstThenOnePerInterval() {
        let book = SenderBook(senders: ["1": MockSender()], requireRegistered: false, pairLimit: true)
        let interval = SenderBook.pairIntervalNanoseconds
        for _ in 0..<SenderBook.pairBurst { #expect(book.admit(phoneNumberID: "1", recipient: "9", time: 0) == nil) }
        #expect(book.admit(phoneNumberID: "1", recipient: "+9", time: 1)?.code == 131_056)
        #expect(book.admit(phoneNumberID: "1", recipient: "8", time: 1) == nil)
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: interval) == nil)
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: interval + 1)?.code == 131_056)
        #expect(book.admit(phoneNumberID: "1", recipient: "9", time: 2 * interval) == nil)
    }

    @Test func tokens() {
        let book = SenderBook(senders: ["1": MockSender(accessToken: "abc"), "2": MockSender()], requireRegistered: true, pairLimit: true)
        #expect(book.authorizes(phoneNumberID: "1", token: "abc"))
        #expect(!book.authorizes(phoneNumberID: "1", token: "abd"))
        #expect(book.authorizes(phoneNumberID: "2", token: "anything"))
        #expect(!book.authorizes(phoneNumberID: "3", token: "abc"))
        #expect(SendRoute.bearerToken("Bearer  abc ") == "abc")
    }

    @Test func templateChecks() {
        let send = ValidatedSend(to: "1", callbackData: nil, templateName: "t", templateBodyParameters: 2)
        #expect(SendRequestValidator.checkTemplate(send, templates: [:]) == nil)
        #expect(SendRequestValidator.checkTemplate(send, templates: ["t": 2]) == nil)
        #expect(SendRequestValidator.checkTemplate(send, templates: ["t": 1])?.code == 132_000)
        #expect(SendRequestValidator.checkTemplate(send, templates: ["u": 2])?.code == 132_001)
        let parsed = SendRequestValidator.validate(Data(templateBody(name: "t", parameters: 3).utf8))
        #expect((try? parsed.get())?.templateBodyParameters == 3)
        #expect((try? parsed.get())?.templateName == "t")
    }

    @Test func statsJSON() throws {
        let stats = MockStats(arrivals: 3, perSender: ["1": 3], errors: [130_429: 2], errorsPerSender: ["1": [130_429: 2]], hangs: 1, resets: 0)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.jsonBytes())) as? [String: Any])
        #expect(object["arrivals"] as? Int == 3)
        #expect(object["errors"] as? [String: Int] == ["130429": 2])
        #expect(object["errors_per_sender"] as? [String: [String: Int]] == ["1": ["130429": 2]])
        #expect(object["hangs"] as? Int == 1)
    }
}
