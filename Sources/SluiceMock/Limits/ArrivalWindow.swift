/// Accepted arrival times of one sender, oldest first, for counting a trailing window.
///
/// A sliding log, not a bucket: the mock judges a pacer, so it counts what actually arrived.
struct ArrivalWindow {
    /// Dead slots at the front above which the storage is compacted.
    static let compactionSlotsMin = 1024

    private var times: [Int64] = []
    private var head = 0

    /// Arrivals held (after the last ``drop(atOrBefore:)``).
    var count: Int { times.count - head }

    /// Forgets arrivals at or before `limit` (they have left the window).
    mutating func drop(atOrBefore limit: Int64) {
        while head < times.count && times[head] <= limit { head += 1 }
        if head >= Self.compactionSlotsMin && head * 2 >= times.count {
            times.removeFirst(head)
            head = 0
        }
    }

    /// Whether one more arrival at `time` leaves every window of `windowNanoseconds` with
    /// at most `allowed` arrivals: the window ending at `time`, and, for requests judged
    /// out of stamp order (handlers run concurrently), each window ending at an arrival
    /// already held that is later than `time`. Counting everything after `time - window`
    /// instead would refuse a send that no window really exceeds.
    func admits(_ time: Int64, allowed: Int, windowNanoseconds: Int64) -> Bool {
        if count(after: time - windowNanoseconds, through: time) >= allowed { return false }
        var index = firstIndex(after: time)
        while index < times.count {
            let later = times[index]
            guard later - windowNanoseconds < time else { break }
            if count(after: later - windowNanoseconds, through: later) + 1 > allowed { return false }
            index += 1
        }
        return true
    }

    /// Arrivals held in `(lower, upper]`.
    func count(after lower: Int64, through upper: Int64) -> Int {
        firstIndex(after: upper) - firstIndex(after: lower)
    }

    /// The first index at or after `head` whose time is greater than `time`.
    private func firstIndex(after time: Int64) -> Int {
        var low = head
        var high = times.count
        while low < high {
            let mid = (low + high) / 2
            if times[mid] <= time { low = mid + 1 } else { high = mid }
        }
        return low
    }

    /// Adds an arrival, keeping the order even when requests were stamped slightly out of order.
    mutating func insert(_ time: Int64) {
        times.append(time)
        var index = times.count - 1
        while index > head && times[index - 1] > times[index] {
            times.swapAt(index - 1, index)
            index -= 1
        }
    }
}
