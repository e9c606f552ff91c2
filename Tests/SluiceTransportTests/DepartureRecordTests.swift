import Foundation
import SluiceCore
import Testing

@testable import SluiceTransport

/// The departure record against a real file: what one process writes, the next one
/// (a second mapping of the same file) reads back.
@Suite struct DepartureRecordTests {
    private static func path() -> String {
        NSTemporaryDirectory() + "sluice-departures-\(UInt64.random(in: 1...UInt64.max))"
    }

    @Test func aRestartInTheSameBootReadsWhatLeft() throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        do {
            let record = try DepartureRecord(path: path, capacity: 8)
            try record.reset(bootID: "boot-a", wallNanoseconds: 1_000)
            record.record(id: 7, wallNanoseconds: 2_000_000)
            record.record(id: 0, wallNanoseconds: 2_100_000)  // a warm-up: no message
            record.record(id: 9, wallNanoseconds: 3_000_000)
            // No close, no sync: a killed process leaves its pages in the page cache.
        }
        let reopened = try DepartureRecord(path: path, capacity: 8)
        #expect(reopened.evidence(bootID: "boot-a") == DepartureEvidence(departed: [7, 9]))
        #expect(reopened.entries().map(\.id) == [7, 9])
        // Another boot may have lost pages: nothing is trusted.
        #expect(reopened.evidence(bootID: "boot-b") == nil)
        // After the reset for the new run it is empty.
        try reopened.reset(bootID: "boot-a", wallNanoseconds: 4_000)
        #expect(reopened.evidence(bootID: "boot-a") == DepartureEvidence(departed: []))
    }

    @Test func aRecordNeverResetOrOfAnotherSizeSaysNothing() throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fresh = try DepartureRecord(path: path, capacity: 8)
        #expect(fresh.evidence(bootID: "boot-a") == nil)
        try fresh.reset(bootID: "boot-a", wallNanoseconds: 0)
        fresh.record(id: 3, wallNanoseconds: 5)
        let resized = try DepartureRecord(path: path, capacity: 16)
        #expect(resized.evidence(bootID: "boot-a") == nil)
    }

    @Test func aWrappedRecordKnowsOnlyTheSpanItKept() throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        let record = try DepartureRecord(path: path, capacity: 4)
        try record.reset(bootID: "boot-a", wallNanoseconds: 0)
        for id in UInt64(1)...6 { record.record(id: id, wallNanoseconds: Int64(id) * 1_000_000_000) }
        let evidence = try #require(record.evidence(bootID: "boot-a"))
        // 1 and 2 were overwritten by 5 and 6: the record covers from 3 s on.
        #expect(evidence.departed == [3, 4, 5, 6])
        #expect(evidence.coveredFromMilliseconds == 3_000)
        #expect(!evidence.neverLeft(4, stagedMilliseconds: 100_000))
        // Staged before the span (less the clock slack): it may have left unrecorded.
        #expect(!evidence.neverLeft(1, stagedMilliseconds: 2_000))
        #expect(!evidence.neverLeft(10, stagedMilliseconds: 3_000 + DepartureEvidence.slackMilliseconds - 1))
        #expect(evidence.neverLeft(10, stagedMilliseconds: 3_000 + DepartureEvidence.slackMilliseconds))
    }

    /// What a finished run left, read without opening the record for writing (the
    /// load-test harness): every entry, and the span a wrapped record still covers.
    @Test func aFinishedRunsRecordIsReadBackWhole() throws {
        let path = Self.path()
        defer { try? FileManager.default.removeItem(atPath: path) }
        #expect(try DepartureRecord.read(path: path) == nil, "no file")
        let record = try DepartureRecord(path: path, capacity: 4)
        try record.reset(bootID: "boot-a", wallNanoseconds: 0)
        record.record(id: 7, wallNanoseconds: 2_000)
        record.record(id: 7, wallNanoseconds: 3_000)  // sent again
        record.record(id: 9, wallNanoseconds: 4_000)
        let whole = try #require(try DepartureRecord.read(path: path))
        #expect(whole.entries.map(\.id) == [7, 7, 9])
        #expect(whole.entries.map(\.wallNanoseconds) == [2_000, 3_000, 4_000])
        #expect(whole.coveredFromNanoseconds == nil)
        record.record(id: 10, wallNanoseconds: 10_000)
        record.record(id: 11, wallNanoseconds: 11_000)  // wraps over the first entry
        let wrapped = try #require(try DepartureRecord.read(path: path))
        #expect(wrapped.entries.map(\.id).sorted() == [7, 9, 10, 11])
        #expect(wrapped.coveredFromNanoseconds == 3_000)

        try Data("not a departure record".utf8).write(to: URL(fileURLWithPath: path))
        #expect(try DepartureRecord.read(path: path) == nil)
    }

    @Test func theBootIDIsTheKernels() throws {
        let id = try #require(DepartureRecord.currentBootID())
        #expect(id.count == 36)
        #expect(DepartureRecord.currentBootID() == id)
    }
}
