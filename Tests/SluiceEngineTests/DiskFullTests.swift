import Foundation
import Logging
import SluiceCore
import SluiceEngine
import SluiceJournal
import SluiceMock
import Testing
import SluiceTestSupport

/// A small tmpfs holds the journal; a filler file eats its space. Needs root for the mount
/// (CI runs as root); elsewhere the suite is skipped.
@Suite(.serialized, .enabled(if: getuid() == 0, "mounting a tmpfs needs root"))
struct DiskFullTests {
    static let message = Array(#"{"type":"text","text":{"body":"Hello {{1}}"}}"#.utf8)

    /// A 40 MB tmpfs at a fresh directory, unmounted afterwards (the dispatcher allocates
    /// 8 MiB of it for its departure record at start).
    func withTmpfs(_ body: (String) async throws -> Void) async throws {
        let mountPoint = NSTemporaryDirectory() + "sluice-diskfull-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: mountPoint) }
        try run("/bin/mount", ["-t", "tmpfs", "-o", "size=40m", "tmpfs", mountPoint])
        defer { try? run("/bin/umount", ["-l", mountPoint]) }
        try await body(mountPoint)
    }

    func run(_ tool: String, _ arguments: [String]) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown, userInfo: [NSLocalizedDescriptionKey: "\(tool) \(arguments) failed"]) }
    }

    /// Fills the file system up to `leaving` bytes free with a file of zeros.
    func fill(_ directory: String, leaving: UInt64) throws -> String {
        let path = directory + "/filler"
        var info = statvfs()
        _ = statvfs(directory, &info)
        let free = UInt64(info.f_bavail) * UInt64(info.f_frsize)
        let size = free > leaving ? free - leaving : 0
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        let chunk = Data(count: 1 << 20)
        var written: UInt64 = 0
        while written < size {
            let n = min(UInt64(chunk.count), size - written)
            try handle.write(contentsOf: chunk.prefix(Int(n)))
            written += n
        }
        try handle.close()
        return path
    }


    func withEngine(dataDirectory: String, reserveBytes: UInt64, _ body: (MockEndpoint, Dispatcher) async throws -> Void) async throws {
        let certificates = NSTemporaryDirectory() + "sluice-diskfull-mock-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: certificates) }
        let mock = MockEndpoint(configuration: MockConfiguration(certificateDirectory: certificates), logger: Logger(label: "test.mock"))
        let running = try await mock.start()
        var configuration = EngineConfiguration(dataDirectory: dataDirectory)
        configuration.graphURL = running.baseURL
        configuration.transport.caFile = running.caFile
        configuration.intakeFreeBytesMin = reserveBytes
        configuration.journal.mapSizeBytes = 4 << 20
        let dispatcher = try Dispatcher(configuration: configuration)
        do {
            try await body(mock, dispatcher)
        } catch {
            await dispatcher.shutdown()
            await mock.stop()
            throw error
        }
        await dispatcher.shutdown()
        await mock.stop()
    }

    /// Submits campaigns of `size` until intake refuses for lack of space (at most `max`).
    func submitUntilFull(_ dispatcher: Dispatcher, size: Int, max: Int) async throws -> (accepted: Int, refusal: String?) {
        var accepted = 0
        for n in 0..<max {
            do {
                let receipt = try await dispatcher.submitCampaign(
                    senderPhoneNumberID: "3001", messageObject: Self.message, recipients: recipients(size, from: 966_530_000_000 + n * size))
                accepted += receipt.accepted
            } catch .storageFull(let why) {
                return (accepted, why)
            }
        }
        return (accepted, nil)
    }

    /// Tens of thousands of messages at tier 1000: as long as they keep arriving (a
    /// sanitized build sends several times slower), not by a deadline. A pause longer than
    /// the endpoint back-off's ceiling (30 s) is a stall: in a sanitized build the mock's
    /// TLS handshakes can time out, and the sender then backs off.
    func waitForArrivals(_ mock: MockEndpoint, _ count: Int, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        try await eventually("\(count) arrivals at the mock", reaching: count, stallingAfter: 45, sourceLocation: sourceLocation) {
            mock.recorder.count
        }
    }

    @Test("below the intake reserve new campaigns are refused with a clear error; what was accepted is sent; intake resumes when space returns")
    func reserveRefusesIntake() async throws {
        try await withTmpfs { root in
            try await withEngine(dataDirectory: root + "/data", reserveBytes: 8 << 20) { mock, dispatcher in
                try await dispatcher.putSender(phoneNumberID: "3001", tierMessagesPerSecond: 1000, accessToken: "t")
                let filler = try fill(root, leaving: 10 << 20)
                let (accepted, refusal) = try await submitUntilFull(dispatcher, size: 1_000, max: 60)
                let why = try #require(refusal, "intake was never refused")
                #expect(why.contains("free") && why.contains("accepted messages are kept"), "\(why)")
                #expect(accepted > 0)
                // Sending goes on: every accepted message reaches the endpoint once.
                try await waitForArrivals(mock, accepted)
                let callbacks = mock.recorder.snapshot().compactMap(\.callbackData)
                #expect(callbacks.count == accepted && Set(callbacks).count == accepted)

                try FileManager.default.removeItem(atPath: filler)
                let again = try await dispatcher.submitCampaign(
                    senderPhoneNumberID: "3001", messageObject: Self.message, recipients: recipients(100, from: 966_539_000_000))
                #expect(again.accepted == 100)
                try await waitForArrivals(mock, accepted + 100)
                #expect(mock.recorder.count == accepted + 100)
            }
        }
    }

    @Test("with no reserve the disk itself fills: intake is refused, outcomes wait in memory, and nothing is lost or sent twice once space returns")
    func fullDiskLosesNothing() async throws {
        try await withTmpfs { root in
            try await withEngine(dataDirectory: root + "/data", reserveBytes: 0) { mock, dispatcher in
                try await dispatcher.putSender(phoneNumberID: "3001", tierMessagesPerSecond: 1000, accessToken: "t")
                let filler = try fill(root, leaving: 3 << 20)
                let (accepted, refusal) = try await submitUntilFull(dispatcher, size: 1_000, max: 200)
                let why = try #require(refusal, "the disk never filled")
                #expect(why.contains("full"), "\(why)")
                // A while with the disk full: sends and outcomes wait, nothing is dropped.
                try await Task.sleep(for: .seconds(2))
                // Space returns: outcomes that waited are recorded, the rest goes out.
                try FileManager.default.removeItem(atPath: filler)
                try await waitForArrivals(mock, accepted)
                // An outcome is `sent`, or `in_doubt` when the answer timed out after the
                // request went (it happens in a sanitized build: the mock answers slowly).
                var recorded: UInt64 = 0
                try await eventually("every outcome recorded", reaching: accepted, stallingAfter: 45) {
                    recorded = try dispatcher.campaignPage(after: nil, limit: 500, state: nil).campaigns.reduce(0) { $0 + $1.sent + $1.inDoubt }
                    return Int(recorded)
                }
                let callbacks = mock.recorder.snapshot().compactMap(\.callbackData)
                #expect(Set(callbacks).count == accepted, "every accepted message arrived")
                #expect(callbacks.count == accepted, "none twice")
                #expect(recorded == UInt64(accepted), "the journal recorded every outcome")
            }
        }
    }
}
