import SluiceCore
import Testing

/// The guard trips on the `limit`-th permanent failure in a row with one code, and never
/// after a success, a second code, or once it has tripped.
@Suite struct FailureGuardTests {
    /// `#expect` cannot call a mutating method itself.
    func fail(_ g: inout FailureGuard, _ code: Int32, _ message: String? = nil) -> Bool { g.failed(code: code, message: message) }

    @Test func theTwentiethFailureWithOneCodeTripsItOnce() {
        var g = FailureGuard(limit: 20)
        for n in 1..<20 {
            let tripped = fail(&g, 132000, "Number of parameters does not match")
            #expect(!tripped, "failure \(n)")
        }
        let twentieth = fail(&g, 132000, "Number of parameters does not match")
        #expect(twentieth)
        #expect(g.reason.contains("first 20 messages all failed with error 132000 (Number of parameters does not match)"))
        let after = fail(&g, 132000)
        #expect(!after && !g.armed, "tripped once; resumed, it does not trip again")
    }

    @Test func aSuccessOrASecondCodeDisarmsIt() {
        var mixed = FailureGuard(limit: 3)
        var tripped = [fail(&mixed, 131026), fail(&mixed, 132000)]
        for _ in 0..<5 { tripped.append(fail(&mixed, 132000)) }
        #expect(!tripped.contains(true), "two codes: not one systematic failure")

        var lucky = FailureGuard(limit: 3)
        tripped = [fail(&lucky, 132000)]
        lucky.succeeded()
        for _ in 0..<5 { tripped.append(fail(&lucky, 132000)) }
        #expect(!tripped.contains(true), "a success among the first")

        var off = FailureGuard(limit: 0)
        #expect(!off.armed)
        tripped = [fail(&off, 1)]
        var restarted = FailureGuard(limit: 3, armed: false)
        for _ in 0..<5 { tripped.append(fail(&restarted, 1)) }
        #expect(!tripped.contains(true), "off, or a campaign with outcomes before a restart")
    }
}
