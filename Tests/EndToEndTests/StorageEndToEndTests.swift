import Foundation
import Testing

/// The journal's guards as the operator meets them: a foreign data directory is refused
/// at start and left as it was; a running server holds the journal (`sluice.lock`) against
/// a second server and a compaction, not against `sluice journal check`.
@Suite(.serialized) struct StorageEndToEndTests {
    @Test func serveRefusesAForeignDataDirectoryAndLeavesItUntouched() async throws {
        let root = try temporaryDirectory("serve-foreign")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let journal = root + "/data/journal"
        try FileManager.default.createDirectory(atPath: journal, withIntermediateDirectories: true)
        var rng = SystemRandomNumberGenerator()
        let garbage = Data((0..<50_000).map { _ in UInt8.random(in: 0...255, using: &rng) })
        try garbage.write(to: URL(fileURLWithPath: journal + "/data.mdb"))

        let serve = try ChildProcess(arguments: ["serve", "--data-dir", root + "/data", "--listen", "127.0.0.1:0"], logPath: root + "/serve.log")
        let status = await serve.waitForExit()
        await serve.stop()
        #expect(status != nil && status != 0)
        let log = serve.stderrTail()
        #expect(log.contains("journal \(journal): not a Sluice journal") && log.contains("nothing was changed"), "\(log)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: journal + "/data.mdb")) == garbage)
        #expect(try FileManager.default.contentsOfDirectory(atPath: journal) == ["data.mdb"])
    }

    @Test func aRunningServerHoldsTheJournalAgainstWritersButNotAgainstCheck() async throws {
        let root = try temporaryDirectory("serve-lock")
        defer { try? FileManager.default.removeItem(atPath: root) }
        let binary = try SluiceBinary.path()
        let arguments = ["serve", "--data-dir", root + "/data", "--listen", "127.0.0.1:0", "--graph-url", "http://127.0.0.1:9"]
        let serve = try ChildProcess(arguments: arguments, logPath: root + "/serve.log")
        _ = try await serve.waitForLine(prefix: "sluice listening on ")

        let second = try ChildProcess(arguments: arguments, logPath: root + "/second.log")
        let secondStatus = await second.waitForExit()
        await second.stop()
        #expect(secondStatus != nil && secondStatus != 0)
        #expect(second.stderrTail().contains("is in use by another process"), "\(second.stderrTail())")

        let check = try await runToEnd(binary, ["journal", "check", "--data-dir", root + "/data"], mergeErrors: true)
        #expect(check.status == 0 && check.output.hasPrefix("journal check: ok"), "\(check.output)")
        let refused = try await runToEnd(binary, ["journal", "compact", "--data-dir", root + "/data"], mergeErrors: true)
        #expect(refused.status != 0 && refused.output.contains("is in use by another process"), "\(refused.output)")

        #expect(await serve.stop() == 0)
        let compact = try await runToEnd(binary, ["journal", "compact", "--data-dir", root + "/data"], mergeErrors: true)
        #expect(compact.status == 0 && compact.output.contains("compacted \(root)/data/journal"), "\(compact.output)")
        let stats = try await runToEnd(binary, ["journal", "stats", "--data-dir", root + "/data"], mergeErrors: true)
        #expect(stats.status == 0 && stats.output.contains("retention       removed so far: 0 campaign(s), 0 message(s)"), "\(stats.output)")
    }
}
