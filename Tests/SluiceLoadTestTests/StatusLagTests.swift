import Testing
@testable import SluiceLoadTest

/// Telling a resend the dispatcher should not have made (its status had been acknowledged
/// before) from one the settle window made (the status came after it).
@Suite struct StatusLagTests {
    func arrival(_ id: String, ms: Int64) -> EndpointArrival {
        EndpointArrival(timeNanoseconds: ms * 1_000_000, phoneNumberID: "1", to: "9665" + id, callback: id)
    }

    @Test func duplicatesAreSplitByWhenTheirStatusWasAcknowledged() {
        let arrivals = [
            arrival("1", ms: 0), arrival("2", ms: 10), arrival("3", ms: 20), arrival("4", ms: 30),
            arrival("2", ms: 5_000), arrival("3", ms: 5_000), arrival("4", ms: 5_000),
        ]
        let acknowledged = [
            arrival("1", ms: 100),
            arrival("2", ms: 4_000),  // settled before its resend: the dispatcher's fault
            arrival("3", ms: 9_000), arrival("3", ms: 8_000),  // only after: the window's
            // 4: never acknowledged
        ]
        let report = StatusLagReport(arrivals: arrivals, acknowledged: acknowledged)
        #expect(report.duplicatesSettledBeforeResend == 1)
        #expect(report.duplicatesSettledAfterResend == 2)
        #expect(report.acknowledged == 3)
        // Lags 100, 3 990 and 7 980 ms (the first acknowledgement counts).
        #expect(report.lagP50Milliseconds == 3_990 && report.lagMaxMilliseconds == 7_980 && report.lagP99Milliseconds == 7_980)
    }
}
