import Foundation
import TOMLKit

/// Faults the mock injects into send requests, drawn per request from a seeded generator so
/// a run against one sequential client is reproducible.
///
/// Each request draws one number in [0, 1): the first ``serverErrorShare`` of it answers 5xx,
/// the next shares answer the ``errorMix`` codes, then ``hangShare`` hangs and ``resetShare``
/// resets; the rest is served normally. Faulted requests are never recorded as arrivals.
/// A ``storm``, when set, answers every send 130429 during a window that recurs on the
/// mock's clock, as WhatsApp does when a number is throttled at the platform level.
///
/// TOML form (every key optional):
/// ```toml
/// seed = 42
/// server_error_share = 0.05     # 500 (code 1) or 503 (code 2)
/// hang_share = 0.02
/// hang_ms = 60000
/// reset_share = 0.01
/// [latency]                     # kind = "fixed" (ms) | "uniform" (min_ms, max_ms) | "long_tail" (median_ms, p99_ms)
/// kind = "long_tail"
/// median_ms = 20
/// p99_ms = 250
/// [[errors]]
/// code = 131000
/// share = 0.005
/// [storm]                       # every send answers 130429 for duration_ms of each every_ms
/// every_ms = 10000
/// duration_ms = 1000
/// ```
public struct FaultProfile: Sendable, Equatable {
    /// One injected error code and the share of requests that get it.
    public struct ErrorShare: Sendable, Equatable {
        /// The Graph API `error.code` to answer (e.g. 131000 transient, 131026 permanent, 190 token).
        public var code: Int
        /// Share of requests, 0...1.
        public var share: Double

        /// Creates an entry.
        public init(code: Int, share: Double) {
            self.code = code
            self.share = share
        }
    }

    /// Recurring windows in which every send is refused with 130429.
    public struct Storm: Sendable, Equatable {
        /// Period of the storms, from the mock's start.
        public var everyMilliseconds: Int
        /// Length of each storm, at the start of its period.
        public var durationMilliseconds: Int

        /// Creates a storm schedule.
        public init(everyMilliseconds: Int, durationMilliseconds: Int) {
            self.everyMilliseconds = everyMilliseconds
            self.durationMilliseconds = durationMilliseconds
        }

        /// Whether `elapsedNanoseconds` after the start falls inside a storm.
        public func isRaging(elapsedNanoseconds: Int64) -> Bool {
            guard elapsedNanoseconds >= 0 else { return false }
            let phase = (elapsedNanoseconds / 1_000_000) % Int64(everyMilliseconds)
            return phase < Int64(durationMilliseconds)
        }
    }

    /// Default hold of a hanging request: longer than any sane client timeout.
    public static let hangMillisecondsDefault = 60_000
    /// Longest hold allowed, so a hang always ends.
    public static let hangMillisecondsMax = 600_000
    static let keys: Set<String> = ["seed", "server_error_share", "errors", "latency", "hang_share", "hang_ms", "reset_share", "storm"]

    /// Seed of the fault generator.
    public var seed: UInt64 = 1
    /// Share of requests answered 500 (code 1) or 503 (code 2).
    public var serverErrorShare: Double = 0
    /// Error codes answered instead of a send, each with its share.
    public var errorMix: [ErrorShare] = []
    /// Delay before each answer (added to ``MockConfiguration/latencyMilliseconds``).
    public var latency: LatencyDistribution = .none
    /// Share of requests held for ``hangMilliseconds`` and then closed without an answer.
    public var hangShare: Double = 0
    /// How long a hanging request is held, in milliseconds.
    public var hangMilliseconds: Int = hangMillisecondsDefault
    /// Share of requests whose connection is closed without an answer.
    public var resetShare: Double = 0
    /// 130429 storms, if any.
    public var storm: Storm? = nil

    /// No faults, no latency.
    public init() {}

    /// Loads a profile from a TOML file (see the type's documentation for the keys).
    public init(tomlFile path: String) throws(MockError) {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            throw .invalidConfiguration("cannot read fault profile \(path): \(error.localizedDescription)")
        }
        try self.init(toml: text, source: path)
    }

    /// Parses a profile from TOML text; `source` names it in errors. Unknown keys are errors.
    public init(toml text: String, source: String = "fault profile") throws(MockError) {
        let table: TOMLTable
        do {
            table = try TOMLTable(string: text)
        } catch {
            throw .invalidConfiguration("\(source) is not valid TOML: \(error)")
        }
        for key in table.keys where !Self.keys.contains(key) {
            throw .invalidConfiguration("\(source): unknown key '\(key)' (known: \(Self.keys.sorted().joined(separator: ", ")))")
        }
        func number(_ table: TOMLTable, _ key: String, _ path: String) throws(MockError) -> Double? {
            guard let value = table[key] else { return nil }
            guard let number = value.double ?? value.int.map(Double.init) else {
                throw .invalidConfiguration("\(source): \(path) must be a number")
            }
            return number
        }
        if let value = table["seed"] {
            guard let seed = value.int, seed >= 0 else { throw .invalidConfiguration("\(source): seed must be a non-negative integer") }
            self.seed = UInt64(seed)
        }
        serverErrorShare = try number(table, "server_error_share", "server_error_share") ?? 0
        hangShare = try number(table, "hang_share", "hang_share") ?? 0
        resetShare = try number(table, "reset_share", "reset_share") ?? 0
        if let value = table["hang_ms"] {
            guard let ms = value.int else { throw .invalidConfiguration("\(source): hang_ms must be an integer") }
            hangMilliseconds = ms
        }
        if let value = table["errors"] {
            guard let entries = value.array else { throw .invalidConfiguration("\(source): errors must be an array of tables ([[errors]])") }
            for (index, entry) in entries.enumerated() {
                let path = "errors[\(index)]"
                guard let entry = entry.table, let code = entry["code"]?.int else {
                    throw .invalidConfiguration("\(source): \(path) needs an integer code")
                }
                guard let share = try number(entry, "share", path + ".share") else {
                    throw .invalidConfiguration("\(source): \(path) needs a share")
                }
                errorMix.append(ErrorShare(code: code, share: share))
            }
        }
        if let value = table["storm"] {
            guard let stormTable = value.table, let every = stormTable["every_ms"]?.int, let duration = stormTable["duration_ms"]?.int else {
                throw .invalidConfiguration("\(source): [storm] needs integer every_ms and duration_ms")
            }
            storm = Storm(everyMilliseconds: every, durationMilliseconds: duration)
        }
        if let value = table["latency"] {
            guard let latencyTable = value.table, let kind = latencyTable["kind"]?.string else {
                throw .invalidConfiguration("\(source): [latency] needs kind = \"fixed\" | \"uniform\" | \"long_tail\"")
            }
            func required(_ key: String) throws(MockError) -> Double {
                guard let value = try number(latencyTable, key, "latency." + key) else {
                    throw .invalidConfiguration("\(source): latency kind \(kind) needs \(key)")
                }
                return value
            }
            switch kind {
            case "fixed": latency = .fixed(milliseconds: try required("ms"))
            case "uniform": latency = .uniform(minMilliseconds: try required("min_ms"), maxMilliseconds: try required("max_ms"))
            case "long_tail":
                latency = .longTail(medianMilliseconds: try required("median_ms"), p99Milliseconds: try required("p99_ms"))
            default:
                throw .invalidConfiguration("\(source): latency kind '\(kind)' must be fixed, uniform or long_tail")
            }
        }
        do {
            try validate()
        } catch .invalidConfiguration(let message) {
            throw .invalidConfiguration("\(source): \(message)")
        } catch {
            throw error
        }
    }

    /// Throws when a share is outside 0...1, the shares add up to more than 1, a code is not
    /// positive, the hang is outside 0...``hangMillisecondsMax`` or the latency is invalid.
    public func validate() throws(MockError) {
        let shares = [("server_error_share", serverErrorShare), ("hang_share", hangShare), ("reset_share", resetShare)]
            + errorMix.map { ("share of error \($0.code)", $0.share) }
        for (name, share) in shares where !(0...1).contains(share) {
            throw .invalidConfiguration("\(name) \(share) is outside 0...1")
        }
        // A little slack for decimal shares such as 0.1 + 0.2 + 0.7.
        guard totalShare <= 1 + 1e-9 else { throw .invalidConfiguration("fault shares add up to \(totalShare), more than 1") }
        for entry in errorMix where entry.code <= 0 {
            throw .invalidConfiguration("error code \(entry.code) must be positive")
        }
        guard (0...Self.hangMillisecondsMax).contains(hangMilliseconds) else {
            throw .invalidConfiguration("hang_ms \(hangMilliseconds) is outside 0...\(Self.hangMillisecondsMax)")
        }
        if let storm {
            guard storm.everyMilliseconds >= 1, (0...storm.everyMilliseconds).contains(storm.durationMilliseconds) else {
                throw .invalidConfiguration(
                    "storm every_ms \(storm.everyMilliseconds) must be ≥ 1 and duration_ms \(storm.durationMilliseconds) within 0...every_ms")
            }
        }
        try latency.validate()
    }

    /// Sum of every fault share.
    var totalShare: Double {
        serverErrorShare + hangShare + resetShare + errorMix.reduce(0) { $0 + $1.share }
    }

    /// True when no request can be faulted or delayed.
    var isInert: Bool { totalShare == 0 && latency.isZero && (storm?.durationMilliseconds ?? 0) == 0 }
}
