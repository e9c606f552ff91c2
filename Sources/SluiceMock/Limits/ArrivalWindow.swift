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
