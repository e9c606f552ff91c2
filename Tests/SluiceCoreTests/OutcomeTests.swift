import Testing
@testable import SluiceCore

@Suite("Outcomes")
struct OutcomeTests {
    // The lists of DESIGN.md, typed independently of the table under test.
    static let designLists: [(ErrorClass, [Int])] = [
        (.throttle, [130429, 4, 80007]),
        (.pairLimit, [131056]),
        (.transient, [1, 2, 131000, 131016, 131057]),
        (.pauseSender, [131048, 368, 131031, 190, 0, 132015, 132016, 131042]),
        (.permanent, [131026, 131047, 131050, 131051, 131008, 131009, 132000, 132001]),
    ]

    @Test("every listed code maps to its class")
    func table() {
        for (errorClass, codes) in Self.designLists {
            for code in codes {
                #expect(ErrorClass.classify(code: code) == errorClass, "code \(code)")
            }
        }
    }

    @Test("unknown codes are transient", arguments: [3, 100, 131049, 999_999, -5])
    func unknown(code: Int) {
        #expect(ErrorClass.classify(code: code) == .transient)
    }

    @Test("HTTP statuses without a body")
    func httpStatus() {
        #expect(ErrorClass.classify(httpStatus: 429) == .throttle)
        for status in [500, 502, 503, 504, 599] { #expect(ErrorClass.classify(httpStatus: status) == .transient) }
        for status in [400, 401, 403, 404, 413, 499] { #expect(ErrorClass.classify(httpStatus: status) == .permanent) }
    }

    @Test("each result kind")
    func decisions() {
        let policy = OutcomePolicy()
        var rng = SplitMix64(seed: 1)
        func decide(_ r: SendResult, _ attempts: UInt16 = 1) -> OutcomeDecision { policy.decide(r, attempts: attempts, using: &rng) }

        #expect(decide(.accepted(wamid: "wamid.X")) == OutcomeDecision(message: .sent(wamid: "wamid.X"), sender: .none))
        #expect(decide(.rejected(httpStatus: 400, code: 130429, message: "rate")) == OutcomeDecision(message: .requeue, sender: .throttle))
        #expect(decide(.httpError(httpStatus: 429)) == OutcomeDecision(message: .requeue, sender: .throttle))

        let paused = decide(.rejected(httpStatus: 400, code: 131048, message: "spam rate limit hit"))
        #expect(paused.message == .requeue)
        guard case .pause(let reason) = paused.sender else { Issue.record("expected a pause"); return }
        #expect(reason.contains("131048") && reason.contains("spam rate limit hit"))

        #expect(decide(.rejected(httpStatus: 400, code: 131026, message: "undeliverable"))
            == OutcomeDecision(message: .fail(code: 131026, message: "undeliverable"), sender: .none))
        #expect(decide(.httpError(httpStatus: 404)) == OutcomeDecision(message: .fail(code: 404, message: "HTTP 404"), sender: .none))
        #expect(decide(.inDoubt(reason: "timeout")) == OutcomeDecision(message: .inDoubt(settleAfterMilliseconds: 600_000), sender: .none))
        #expect(decide(.httpError(httpStatus: 200)).message == .inDoubt(settleAfterMilliseconds: 600_000))

        // Never left: it waits (no attempt), the sender backs off; an untrusted endpoint pauses it.
        #expect(decide(.notSent(reason: "connect"), 5) == OutcomeDecision(message: .requeue, sender: .backoff(reason: "connect")))
        let untrusted = decide(.untrusted(reason: "curl 60: certificate verify failed"))
        #expect(untrusted.message == .requeue)
        guard case .pause(let why) = untrusted.sender else { Issue.record("an untrusted endpoint pauses the sender"); return }
        #expect(why.contains("not trusted") && why.contains("certificate verify failed"))

        for result in [SendResult.rejected(httpStatus: 500, code: 131000, message: "x"), .httpError(httpStatus: 503)] {
            let decision = decide(result, 2)
            guard case .retry(let delay) = decision.message else { Issue.record("expected a retry for \(result)"); continue }
            #expect(delay >= 0 && delay <= policy.retry.envelopeMilliseconds(attempt: 2))
            #expect(decision.sender == .none)
        }
    }

    @Test("attempts exhausted: transient failures fail with their code")
    func exhaustion() {
        let policy = OutcomePolicy(retry: RetryPolicy(attemptsMax: 3))
        var rng = SplitMix64(seed: 2)
        let before = policy.decide(.rejected(httpStatus: 500, code: 131000, message: "boom"), attempts: 2, using: &rng)
        if case .retry = before.message {} else { Issue.record("attempt 2 of 3 should retry") }
        #expect(policy.decide(.rejected(httpStatus: 500, code: 131000, message: "boom"), attempts: 3, using: &rng).message
            == .fail(code: 131000, message: "boom"))
        #expect(policy.decide(.rejected(httpStatus: 400, code: 424242, message: "new"), attempts: 3, using: &rng).message
            == .fail(code: 424242, message: "new"))
        // A message that never left never exhausts its attempts.
        #expect(policy.decide(.notSent(reason: "dns"), attempts: 3, using: &rng).message == .requeue)
        #expect(policy.decide(.httpError(httpStatus: 502), attempts: 3, using: &rng).message == .fail(code: 502, message: "HTTP 502"))
        #expect(policy.decide(.rejected(httpStatus: 400, code: 131056, message: "pair"), attempts: 3, using: &rng).message
            == .fail(code: 131056, message: "pair"))
        // Throttles never exhaust: they use no attempt.
        #expect(policy.decide(.rejected(httpStatus: 400, code: 130429, message: "rate"), attempts: 3, using: &rng).message == .requeue)
    }

    @Test("jitter stays within [0, envelope], the envelope doubles up to the cap, and spreads")
    func retryJitter() {
        let retry = RetryPolicy()
        var rng = SplitMix64(seed: 3)
        var previousEnvelope: Int64 = 0
        for attempt in 1...20 {
            let envelope = retry.envelopeMilliseconds(attempt: attempt)
            var expected: Int64 = 1000
            for _ in 1..<attempt { expected = min(300_000, expected * 2) }
            #expect(envelope == expected)
            #expect(envelope >= previousEnvelope)
            previousEnvelope = envelope
            var low = Int64.max
            var high = Int64.min
            for _ in 0..<2000 {
                let delay = retry.delayMilliseconds(attempt: attempt, using: &rng)
                #expect(delay >= 0 && delay <= envelope)
                low = min(low, delay)
                high = max(high, delay)
            }
            // Full jitter uses the whole envelope.
            #expect(low < envelope / 10 && high > envelope * 9 / 10)
        }
        #expect(previousEnvelope == 300_000)
    }

    @Test("pair limit waits 4^n seconds, capped")
    func pairLimit() {
        let retry = RetryPolicy()
        var expected: Int64 = 4_000
        for attempt in 1...10 {
            #expect(retry.pairLimitDelayMilliseconds(attempt: attempt) == min(expected, retry.delayMillisecondsMax))
            expected = min(expected * 4, Int64.max / 8)
        }
        var rng = SplitMix64(seed: 4)
        #expect(OutcomePolicy().decide(.rejected(httpStatus: 400, code: 131056, message: "pair"), attempts: 2, using: &rng).message
            == .retry(afterMilliseconds: 16_000))
    }
}
