import Testing
@testable import SluiceCore

@Suite("Recipient window (messaging limit)")
struct RecipientWindowTests {
    let day = RecipientWindow.dayMilliseconds

    @Test func newRecipientsAreAdmittedOnlyBelowTheCap() {
        var window = RecipientWindow(cap: 2)
        let v1 = window.admit("a", nowMilliseconds: 1_000)
        #expect(v1)
        #expect(window.nextCapacityAt == nil, "one of two used")
        let v2 = window.admit("b", nowMilliseconds: 2_000)
        #expect(v2)
        let v3 = window.admit("c", nowMilliseconds: 3_000)
        #expect(!v3, "a third new recipient waits")
        let v4 = window.count(nowMilliseconds: 3_000)
        #expect(v4 == 2, "a refusal records nothing")
        #expect(window.nextCapacityAt == 1_000 + day, "room when the oldest leaves")
    }

    @Test func aRecipientInTheWindowIsFree() {
        var window = RecipientWindow(cap: 1)
        let v5 = window.admit("a", nowMilliseconds: 0)
        #expect(v5)
        for t in stride(from: Int64(1), to: 10_000, by: 1_000) {
            let v6 = window.admit("a", nowMilliseconds: t)
            #expect(v6, "repeated recipients are not blocked")
        }
        let v7 = window.count(nowMilliseconds: 10_000)
        #expect(v7 == 1)
        let v8 = window.admits("b", nowMilliseconds: 10_000)
        #expect(!v8)
    }

    @Test func theWindowRollsFromEachFirstSend() {
        var window = RecipientWindow(cap: 2, windowMilliseconds: 1_000)
        let v9 = window.admit("a", nowMilliseconds: 0)
        #expect(v9)
        let v10 = window.admit("b", nowMilliseconds: 400)
        #expect(v10)
        let v11 = window.admit("a", nowMilliseconds: 600)
        #expect(v11, "a later send does not move a's first send")
        let v12 = window.admit("c", nowMilliseconds: 999)
        #expect(!v12)
        #expect(window.nextCapacityAt == 1_000)
        let v13 = window.admit("c", nowMilliseconds: 1_000)
        #expect(v13, "a left exactly one window after its first send")
        let v14 = window.admit("a", nowMilliseconds: 1_001)
        #expect(!v14, "a counts anew, and the window is full again")
        #expect(window.nextCapacityAt == 1_400)
        let v15 = window.admit("a", nowMilliseconds: 1_400)
        #expect(v15)
        let v16 = window.count(nowMilliseconds: 1_400)
        #expect(v16 == 2)
    }

    @Test func aRebuiltWindowOverTheCapWaitsForEnoughToLeave() {
        var window = RecipientWindow(cap: 2, windowMilliseconds: 1_000)
        for (i, t) in [Int64(100), 200, 300, 400].enumerated() { window.record("r\(i)", atMilliseconds: t) }
        let v17 = window.count(nowMilliseconds: 500)
        #expect(v17 == 4, "history counts whatever the cap")
        let v18 = window.admits("new", nowMilliseconds: 500)
        #expect(!v18)
        // Three must leave to make room for one: r0, r1 and r2; r2 leaves at 1 300.
        #expect(window.nextCapacityAt == 1_300)
        let v19 = window.admits("new", nowMilliseconds: 1_299)
        #expect(!v19)
        let v20 = window.admits("new", nowMilliseconds: 1_300)
        #expect(v20)
        let v21 = window.admits("r3", nowMilliseconds: 1_300)
        #expect(v21, "still in the window")
    }

    @Test func noCapAdmitsEverything() {
        var window = RecipientWindow(cap: nil, windowMilliseconds: 1_000)
        for i in 0..<1_000 {
            let admitted = window.admits("r\(i)", nowMilliseconds: Int64(i))
            #expect(admitted)
        }
        #expect(window.nextCapacityAt == nil)
    }

    @Test func memoryHoldsAtMostTheCap() {
        var window = RecipientWindow(cap: 250)
        var admitted = 0
        for i in 0..<10_000 where window.admit("r\(i)", nowMilliseconds: Int64(i)) { admitted += 1 }
        #expect(admitted == 250)
        let v22 = window.count(nowMilliseconds: 10_000)
        #expect(v22 == 250)
        #expect(window.nextCapacityAt == day)
        let v23 = window.count(nowMilliseconds: day + 249)
        #expect(v23 == 0, "all first sent more than a day ago")
    }
}
