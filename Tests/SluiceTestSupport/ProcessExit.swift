import Foundation

extension Process {
    /// Starts the process and awaits its exit status without blocking a thread: on this
    /// 2-core machine the cooperative pool has two threads, and a blocked one stretches
    /// every other test's sleeps.
    public func runToExit() async throws -> Int32 {
        try await withCheckedThrowingContinuation { continuation in
            terminationHandler = { continuation.resume(returning: $0.terminationStatus) }
            do {
                try run()
            } catch {
                terminationHandler = nil
                continuation.resume(throwing: error)
            }
        }
    }
}
