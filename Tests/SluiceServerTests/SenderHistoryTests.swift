import SluiceServer
import Testing

/// `SenderHistory` as a value: counters in, per-second differences out.
@Suite struct SenderHistoryTests {
    typealias Counters = SenderHistory.Counters

    static func reading(_ id: String, sent: UInt64, throttled: UInt64 = 0) -> Counters {
        Counters(phoneNumberID: id, sent: sent, throttled: throttled)
    }

    @Test func eachSampleIsWhatTheCountersGrewByInThatSecond() {
        var history = SenderHistory()
        history.record([Self.reading("1065", sent: 1_000, throttled: 5)], second: 100)
        #expect(history.samples("1065") == .init(lastSecond: 100, sent: [], throttled: []), "the first reading is the baseline")
        history.record([Self.reading("1065", sent: 1_080, throttled: 5)], second: 101)
        history.record([Self.reading("1065", sent: 1_150, throttled: 9)], second: 102)
        history.record([Self.reading("1065", sent: 1_150, throttled: 9)], second: 103)
        #expect(history.samples("1065") == .init(lastSecond: 103, sent: [80, 70, 0], throttled: [0, 4, 0]))
    }

    @Test func skippedSecondsAreZerosAndARepeatedSecondIsIgnored() {
        var history = SenderHistory()
        history.record([Self.reading("1065", sent: 0)], second: 10)
        history.record([Self.reading("1065", sent: 30)], second: 13)
        history.record([Self.reading("1065", sent: 99)], second: 13)
        #expect(history.samples("1065") == .init(lastSecond: 13, sent: [0, 0, 30], throttled: [0, 0, 0]))
        // A counter that went back (the sender was registered anew) counts from its new value.
        history.record([Self.reading("1065", sent: 4)], second: 14)
        #expect(history.samples("1065")?.sent == [0, 0, 30, 4])
    }

    @Test func theRingKeepsTheLastTenMinutes() {
        var history = SenderHistory()
        let seconds = SenderHistory.samplesMax + 150
        for second in 0...seconds {
            history.record([Self.reading("1065", sent: UInt64(second * (second + 1) / 2))], second: Int64(second))
        }
        let samples = history.samples("1065")
        #expect(samples?.sent.count == SenderHistory.samplesMax)
        #expect(samples?.throttled.count == SenderHistory.samplesMax)
        // The sample for second s is s (the counter is 0 + 1 + … + s): the oldest kept is 151.
        #expect(samples?.sent.first == seconds - SenderHistory.samplesMax + 1)
        #expect(samples?.sent.last == seconds)
        #expect(samples?.lastSecond == Int64(seconds))
        // A gap longer than the ring fills it with zeros and no more.
        history.record([Self.reading("1065", sent: 0)], second: Int64(seconds + 10_000))
        #expect(history.samples("1065")?.sent == [Int](repeating: 0, count: SenderHistory.samplesMax))
    }

    @Test func aSenderThatAppearsLaterStartsItsOwnHistoryAndAGoneOneIsForgotten() {
        var history = SenderHistory()
        history.record([Self.reading("1", sent: 0)], second: 1)
        history.record([Self.reading("1", sent: 10)], second: 2)
        #expect(history.samples("2") == nil)
        history.record([Self.reading("1", sent: 20), Self.reading("2", sent: 500, throttled: 3)], second: 3)
        history.record([Self.reading("1", sent: 30), Self.reading("2", sent: 580, throttled: 4)], second: 4)
        #expect(history.samples("1")?.sent == [10, 10, 10])
        #expect(history.samples("2") == .init(lastSecond: 4, sent: [80], throttled: [1]))
        history.record([Self.reading("2", sent: 600, throttled: 4)], second: 5)
        #expect(history.samples("1") == nil, "a sender no longer listed (deleted) is dropped")
        #expect(history.samples("2")?.sent == [80, 20])
    }
}
