#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A value behind a lock: `withLock` gives one thread at a time exclusive access.
///
/// A pthread mutex rather than the standard library's `Mutex`: on Linux that one locks
/// with futex calls the thread sanitizer cannot see, so every access under it reads as a
/// race, and `swift test --sanitize=thread` would report nothing else.
///
/// ```swift
/// let counts = Locked<[String: Int]>([:])
/// counts.withLock { $0["sent", default: 0] += 1 }
/// ```
public final class Locked<Value>: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private var value: Value

    public init(_ value: sending Value) {
        self.value = value
        mutex = .allocate(capacity: 1)
        mutex.initialize(to: pthread_mutex_t())
        precondition(pthread_mutex_init(mutex, nil) == 0, "pthread_mutex_init failed")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    public func withLock<Result, E: Error>(_ body: (inout sending Value) throws(E) -> sending Result) throws(E) -> sending Result {
        pthread_mutex_lock(mutex)
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
