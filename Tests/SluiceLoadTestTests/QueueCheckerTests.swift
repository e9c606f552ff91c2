import Foundation
import Testing
@testable import SluiceLoadTest

/// The chaos run's queue checker on hand-made records.
struct QueueCheckerTests {
    func submission(_ index: Int, first: Int64, count: Int, outcome: SubmissionOutcome, delivery: String? = nil) -> ChaosSubmission {
        var s = ChaosSubmission(index: index, phoneNumberID: "1065800000", format: "json", keyed: false, delivery: delivery, firstRecipient: first, count: count)
        s.outcome = outcome
        if outcome == .acknowledged {
            s.campaignID = String(index + 1)
            s.accepted = count
        }
        return s
    }

    func arrivals(_ s: ChaosSubmission, _ positions: [Int], callbackPrefix: String = "m") -> [EndpointArrival] {
        positions.map {
            EndpointArrival(timeNanoseconds: origin, phoneNumberID: s.phoneNumberID, to: String(s.firstRecipient + Int64($0)), callback: "\(callbackPrefix)\(s.firstRecipient + Int64($0))")
        }
    }

    @Test func everyAcknowledgedMessageOnceIsAPass() {
        let a = submission(0, first: 100, count: 5, outcome: .acknowledged)
        let r = QueueChecker.check(submissions: [a], arrivals: arrivals(a, Array(0..<5)), finalCounts: [:], duplicateBound: 0)
        #expect(r.passed)
        #expect(r.acknowledged == 5 && r.lost == 0 && r.unexpected == 0 && r.duplicates == 0)
    }

    @Test func lostUnexpectedAndDuplicatesAreCounted() {
        let a = submission(0, first: 100, count: 5, outcome: .acknowledged)
        let failed = submission(1, first: 105, count: 3, outcome: .failed)
        var record = arrivals(a, [0, 1, 1, 2, 2, 2]) + arrivals(failed, [0])
        record.append(EndpointArrival(timeNanoseconds: origin, phoneNumberID: "1065800000", to: "999", callback: "x"))
        let r = QueueChecker.check(submissions: [a, failed], arrivals: record, finalCounts: [:], duplicateBound: 3)
        #expect(r.lost == 2)
        #expect(r.unexpected == 2, "one of a failed submission, one never submitted")
        #expect(r.duplicates == 3 && r.duplicatedMessages == 2)
        #expect(!r.passed)
    }

    @Test func duplicatesBeyondTheBoundFail() {
        let a = submission(0, first: 100, count: 3, outcome: .acknowledged)
        let r = QueueChecker.check(submissions: [a], arrivals: arrivals(a, [0, 0, 1, 1, 2]), finalCounts: [:], duplicateBound: 1)
        #expect(r.duplicates == 2 && !r.passed)
        let within = QueueChecker.check(submissions: [a], arrivals: arrivals(a, [0, 0, 1, 1, 2]), finalCounts: [:], duplicateBound: 2)
        #expect(within.passed)
    }

    @Test func indeterminateSubmissionsArriveWholeOrNotAtAll() {
        let whole = submission(0, first: 100, count: 3, outcome: .indeterminate)
        let none = submission(1, first: 103, count: 3, outcome: .indeterminate)
        let part = submission(2, first: 106, count: 3, outcome: .indeterminate)
        let record = arrivals(whole, [0, 1, 2]) + arrivals(part, [1])
        let r = QueueChecker.check(submissions: [whole, none, part], arrivals: record, finalCounts: [:], duplicateBound: 0)
        #expect(r.indeterminateApplied == 1 && r.indeterminateNotApplied == 1 && r.indeterminatePartial == 1)
        #expect(r.indeterminateMessagesArrived == 4 && r.acknowledged == 0 && r.lost == 0 && r.unexpected == 0)
        #expect(!r.passed)
    }

    @Test func aRecipientUnderTwoMessageIDsIsADoubleIntake() {
        let a = submission(0, first: 100, count: 2, outcome: .acknowledged)
        let record = arrivals(a, [0, 1]) + arrivals(a, [1], callbackPrefix: "other")
        let r = QueueChecker.check(submissions: [a], arrivals: record, finalCounts: [:], duplicateBound: 5)
        #expect(r.doubleIntake == 1 && !r.passed)
    }

    @Test func atMostOnceMayLoseOnlyWhatEndedUnknownAndNeverRepeats() {
        let a = submission(0, first: 100, count: 4, outcome: .acknowledged, delivery: "at_most_once")
        let counts = ["1": CampaignFinalCounts(state: "done", failed: 0, inDoubt: 0, unknown: 1)]
        let oneLost = QueueChecker.check(submissions: [a], arrivals: arrivals(a, [0, 1, 2]), finalCounts: counts, duplicateBound: 0)
        #expect(oneLost.lost == 1 && oneLost.lostAllowed == 1 && oneLost.passed)
        let twoLost = QueueChecker.check(submissions: [a], arrivals: arrivals(a, [0, 1]), finalCounts: counts, duplicateBound: 0)
        #expect(twoLost.lostViolations == 1 && !twoLost.passed)
        let repeated = QueueChecker.check(submissions: [a], arrivals: arrivals(a, [0, 1, 2, 3, 3]), finalCounts: counts, duplicateBound: 10)
        #expect(repeated.atMostOnceDuplicates == 1 && !repeated.passed)
    }

    @Test func campaignBodiesCarryTheDeliveryField() {
        var s = submission(3, first: 500, count: 2, outcome: .acknowledged, delivery: "at_most_once")
        let json = String(decoding: ChaosSubmitter.body(s), as: UTF8.self)
        #expect(json.hasPrefix(#"{"sender":"1065800000","message":{"type":"text","text":{"body":"Chaos {{1}}"}},"delivery":"at_most_once","recipients":[{"to":"500""#))
        s.format = "ndjson"
        s.delivery = nil
        let lines = String(decoding: ChaosSubmitter.body(s), as: UTF8.self).split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[0] == #"{"sender":"1065800000","message":{"type":"text","text":{"body":"Chaos {{1}}"}}}"#)
        #expect(lines[2] == #"{"to":"501","params":["c3n1"]}"#)
    }

    @Test func recoveryCountsAreReadFromTheServeLog() throws {
        let path = NSTemporaryDirectory() + "chaos-recovery-\(UInt32.random(in: 0...UInt32.max)).log"
        try ("2026-12-01T19:00:00+0000 notice sluice: [SluiceEngine] recovery: 480 message(s) were staged at the last stop but had not left (departure record): queued again\n"
            + "2026-12-01T19:00:00+0000 warning sluice: [SluiceEngine] recovery: 137 message(s) had begun to leave at the last stop; they are in_doubt and wait 2 s for a status before any resend\n")
            .write(toFile: path, atomically: true, encoding: .utf8)
        #expect(ChaosRunner.recoveredInDoubt(logPath: path) == 137)
        #expect(ChaosRunner.recoveredInDoubt(logPath: path + ".missing") == 0)
        try? FileManager.default.removeItem(atPath: path)
    }
}
