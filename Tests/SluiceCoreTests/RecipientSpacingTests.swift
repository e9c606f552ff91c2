import Testing
@testable import SluiceCore

@Suite("Recipient spacing (pair limit)")
struct RecipientSpacingTests {
    @Test func aRecipientWaitsUntilTheSpacingEnds() {
        var spacing = RecipientSpacing(spacingMilliseconds: 6_000)
        #expect(spacing.admit("a", nowMilliseconds: 1_000) == nil)
        #expect(spacing.admit("b", nowMilliseconds: 1_000) == nil, "other recipients are not held")
        #expect(spacing.admit("a", nowMilliseconds: 1_001) == 7_000)
        #expect(spacing.admit("a", nowMilliseconds: 6_999) == 7_000, "a refusal records nothing")
        #expect(spacing.admit("a", nowMilliseconds: 7_000) == nil)
        #expect(spacing.admit("a", nowMilliseconds: 8_000) == 13_000)
    }

    @Test func memoryHoldsOnlyTheLastSpacing() {
        var spacing = RecipientSpacing(spacingMilliseconds: 1_000)
        for i in 0..<5_000 { #expect(spacing.admit("r\(i)", nowMilliseconds: Int64(i)) == nil) }
        // Sends at 4000...4999 are within 1 s of 5000; older ones are forgotten.
        #expect(spacing.admit("x", nowMilliseconds: 5_000) == nil)
        #expect(spacing.count == 1_000)
        #expect(spacing.admit("r4000", nowMilliseconds: 5_000) == nil, "sent exactly one spacing ago")
        #expect(spacing.admit("r4999", nowMilliseconds: 5_000) == 5_999)
    }

    @Test func aResendOfTheSameMessageIsNotHeldByItself() {
        var spacing = RecipientSpacing(spacingMilliseconds: 6_000)
        #expect(spacing.admit("a", message: 7, nowMilliseconds: 0) == nil)
        #expect(spacing.admit("a", message: 7, nowMilliseconds: 500) == nil, "throttled, then resent")
        #expect(spacing.admit("a", message: 8, nowMilliseconds: 600) == 6_500, "another message waits for the resend's spacing")
    }

    @Test func zeroSpacingIsOff() {
        var spacing = RecipientSpacing(spacingMilliseconds: 0)
        #expect(spacing.admit("a", nowMilliseconds: 1) == nil)
        #expect(spacing.admit("a", nowMilliseconds: 1) == nil)
        #expect(spacing.count == 0)
    }
}
