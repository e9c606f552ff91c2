import Testing

@testable import SluiceMock

/// The throughput judgement when requests are judged out of the order they arrived in
/// (handler tasks run concurrently; arrival is stamped on the event loop).
@Suite struct ArrivalWindowTests {
    let second: Int64 = 1_000_000_000
    func ms(_ value: Int64) -> Int64 { value * 1_000_000 }

    func window(_ times: [Int64]) -> ArrivalWindow {
        var window = ArrivalWindow()
        for t in times { window.insert(t) }
        return window
    }

    @Test func inOrderTheWindowEndingAtTheArrivalDecides() {
        let w = window([ms(100), ms(600)])
        #expect(!w.admits(ms(1_050), allowed: 2, windowNanoseconds: second))
        // 100 ms has left the window ending at 1 100 ms (half-open at the start).
        #expect(w.admits(ms(1_100), allowed: 2, windowNanoseconds: second))
    }

    @Test func anEarlierArrivalJudgedLateCountsOnlyWindowsThatHoldIt() {
        // Held: 150 ms and 1 200 ms; judged now: a request stamped 1 100 ms. The window
        // ending at 1 100 ms holds 150 and 1 100; the one ending at 1 200 ms holds 1 100 and
        // 1 200: two each, within 2. Counting everything after 100 ms would see three.
        let w = window([ms(150), ms(1_200)])
        #expect(w.admits(ms(1_100), allowed: 2, windowNanoseconds: second))
        #expect(w.count(after: ms(100), through: .max) == 2)
    }

    @Test func anEarlierArrivalJudgedLateIsRefusedWhenALaterWindowWouldOverflow() {
        // The window ending at 1 200 ms would hold 500, 1 100 and 1 200.
        let w = window([ms(500), ms(1_200)])
        #expect(!w.admits(ms(1_100), allowed: 2, windowNanoseconds: second))
        // One more allowed: fine.
        #expect(w.admits(ms(1_100), allowed: 3, windowNanoseconds: second))
    }

    @Test func countsAreHalfOpen() {
        let w = window([ms(0), ms(10), ms(10), ms(20)])
        #expect(w.count(after: ms(0), through: ms(10)) == 2)
        #expect(w.count(after: -1, through: ms(20)) == 4)
        #expect(w.count(after: ms(20), through: ms(30)) == 0)
    }
}

extension ArrivalWindowTests {
    /// Judged in the order handlers ran (not the stamps'): a late-stamped request judged
    /// first must not make the book forget arrivals an earlier-stamped one still needs.
    @Test func theBookKeepsWhatAnEarlierStampJudgedLaterNeeds() {
        let book = SenderBook(senders: ["1": MockSender(tierMessagesPerSecond: 2)], requireRegistered: true, pairLimit: false)
        #expect(book.admit(phoneNumberID: "1", recipient: "a", time: ms(0)) == nil)
        #expect(book.admit(phoneNumberID: "1", recipient: "b", time: ms(30)) == nil)
        // Stamped at 1 040 ms, judged first: its window (40, 1 040] is empty: admitted.
        #expect(book.admit(phoneNumberID: "1", recipient: "c", time: ms(1_040)) == nil)
        // Stamped at 990 ms, judged after: its window (-10, 990] already holds 0 and 30.
        #expect(book.admit(phoneNumberID: "1", recipient: "d", time: ms(990)) != nil)
    }
}
