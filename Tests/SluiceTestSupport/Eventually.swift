import Foundation
import Testing

/// Polls `condition` until it holds or `seconds` pass. When time runs out it records a
/// test issue at the caller's line naming what was awaited, and returns false: a wait
/// never runs out silently (the expectations after it would then fail for a reason
/// further from the cause).
///
/// ```swift
/// try await eventually("20 arrivals at the mock", within: 20) { mock.recorder.count >= 20 }
/// ```
@discardableResult
public func eventually(
    _ what: @autoclosure () -> String = "the awaited condition", within seconds: Double, every milliseconds: Int = 20,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ condition: () async throws -> Bool
) async throws -> Bool {
    let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1_000))
    while true {
        if try await condition() { return true }
        guard ContinuousClock.now < deadline else {
            Issue.record("\(what()) did not happen within \(seconds) s", sourceLocation: sourceLocation)
            return false
        }
        try await Task.sleep(for: .milliseconds(milliseconds))
    }
}
