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

/// Waits until `value` reaches `target` for as long as it keeps moving: records an issue
/// at the caller's line when it has not changed for `stallSeconds`, and returns false. For
/// work whose length follows the machine's speed (a sanitized build runs several times
/// slower) rather than a deadline; a run that is stuck still fails.
///
/// ```swift
/// try await eventually("14 000 arrivals", reaching: 14_000, stallingAfter: 15) { mock.recorder.count }
/// ```
@discardableResult
public func eventually(
    _ what: @autoclosure () -> String, reaching target: Int, stallingAfter stallSeconds: Double, every milliseconds: Int = 50,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ value: () async throws -> Int
) async throws -> Bool {
    var last = try await value()
    var lastMoved = ContinuousClock.now
    while last < target {
        try await Task.sleep(for: .milliseconds(milliseconds))
        let now = try await value()
        if now != last {
            last = now
            lastMoved = ContinuousClock.now
        } else if ContinuousClock.now - lastMoved > .milliseconds(Int64(stallSeconds * 1_000)) {
            Issue.record("\(what()): stuck at \(now) of \(target) for \(stallSeconds) s", sourceLocation: sourceLocation)
            return false
        }
    }
    return true
}
