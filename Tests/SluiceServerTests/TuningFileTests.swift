import Foundation
import SluiceCore
import SluiceEngine
import Testing

/// `tuning/tiers.toml` documents the named tiers and the pacing margin; the code holds the
/// same values. This keeps the two from drifting apart.
@Suite struct TuningFileTests {
    static func tuningFile() throws -> [String: [String: String]] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let text = try String(contentsOf: root.appendingPathComponent("tuning/tiers.toml"), encoding: .utf8)
        var tables: [String: [String: String]] = [:]
        var current = ""
        for raw in text.split(separator: "\n") {
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? ""
            if line.isEmpty { continue }
            if line.hasPrefix("[") && line.hasSuffix("]") {
                current = String(line.dropFirst().dropLast())
                continue
            }
            let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2 { tables[current, default: [:]][parts[0]] = parts[1] }
        }
        return tables
    }

    @Test func namedTiersMatchTheCode() throws {
        let tiers = try #require(try Self.tuningFile()["tiers"])
        #expect(Set(tiers.keys) == Set(RateTier.allCases.map(\.rawValue)))
        for tier in RateTier.allCases {
            #expect(tiers[tier.rawValue].flatMap(Double.init) == tier.messagesPerSecond, "\(tier.rawValue)")
        }
    }

    @Test func pacingMarginMatchesTheEngineDefault() throws {
        let pacing = try #require(try Self.tuningFile()["pacing"])
        #expect(pacing["safety_margin"].flatMap(Double.init) == EngineConfiguration.defaultPacingMargin)
        #expect(EngineConfiguration(dataDirectory: "/unused").scheduler.safetyMargin == EngineConfiguration.defaultPacingMargin)
        #expect(pacing["burst"].flatMap(Int.init) == 1)
    }
}
