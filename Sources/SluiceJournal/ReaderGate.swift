import Foundation

/// Admits read transactions, and lets the writer shut them out while it changes the map
/// size (`mdb_env_set_mapsize` needs no live transaction in the process) or closes the
/// environment. Readers are short, so the writer waits at most one read.
final class ReaderGate: @unchecked Sendable {
    private let condition = NSCondition()
    private var readers = 0
    private var exclusive = false
    private var closed = false

    /// False once the environment is closed.
    func enter() -> Bool {
        condition.lock()
        defer { condition.unlock() }
        // Writer preference: new readers wait while a resize is pending.
        while exclusive { condition.wait() }
        if closed { return false }
        readers += 1
        return true
    }

    func leave() {
        condition.lock()
        readers -= 1
        assert(readers >= 0)
        if readers == 0 { condition.broadcast() }
        condition.unlock()
    }

    /// Runs `body` with no reader inside. `closing` keeps readers out for good afterwards.
    func exclusively<T>(closing: Bool = false, _ body: () throws -> T) rethrows -> T {
        condition.lock()
        while exclusive { condition.wait() }
        exclusive = true
        while readers > 0 { condition.wait() }
        condition.unlock()
        defer {
            condition.lock()
            exclusive = false
            if closing { closed = true }
            condition.broadcast()
            condition.unlock()
        }
        return try body()
    }
}
