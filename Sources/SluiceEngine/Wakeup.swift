#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import SluiceCore

/// A mutex-protected mailbox with a monotonic-clock timed wait: the dispatch loop sleeps
/// until its next send slot or until another thread posts work. Sub-millisecond wakeups
/// matter at 1 000 msg/s, so this waits on `CLOCK_MONOTONIC` rather than wall time.
final class Mailbox<Event>: @unchecked Sendable {
    private var mutex = pthread_mutex_t()
    private var condition = pthread_cond_t()
    private var events: [Event] = []

    init() {
        pthread_mutex_init(&mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(&condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(&condition)
        pthread_mutex_destroy(&mutex)
    }

    func post(_ event: Event) {
        pthread_mutex_lock(&mutex)
        events.append(event)
        pthread_cond_signal(&condition)
        pthread_mutex_unlock(&mutex)
    }

    /// Takes every posted event; waits until `deadline` (monotonic) when there is none.
    func take(waitingUntil deadline: Instant?, into out: inout [Event]) {
        pthread_mutex_lock(&mutex)
        if events.isEmpty {
            if let deadline {
                var ts = timespec(
                    tv_sec: Int(deadline.nanoseconds / 1_000_000_000),
                    tv_nsec: Int(deadline.nanoseconds % 1_000_000_000))
                _ = pthread_cond_timedwait(&condition, &mutex, &ts)
            } else {
                pthread_cond_wait(&condition, &mutex)
            }
        }
        swap(&out, &events)
        pthread_mutex_unlock(&mutex)
    }
}
