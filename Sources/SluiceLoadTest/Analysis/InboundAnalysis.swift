import Foundation
import Histogram
import SluiceCore

/// One incoming message the started mock posted to the dispatcher, with when the
/// harness's subscriber received it as a `message` event (nil: never).
public struct InboundTrip: Sendable, Equatable {
    public var phoneNumberID: String
    public var wamid: String
    /// When the mock first posted it: when it took its place in the number's throughput window.
    public var postedNanoseconds: Int64
    /// When the mock had the dispatcher's 2xx.
    public var acknowledgedNanoseconds: Int64
    public var receivedNanoseconds: Int64?

    public init(phoneNumberID: String, wamid: String, postedNanoseconds: Int64, acknowledgedNanoseconds: Int64, receivedNanoseconds: Int64?) {
        self.phoneNumberID = phoneNumberID
        self.wamid = wamid
        self.postedNanoseconds = postedNanoseconds
        self.acknowledgedNanoseconds = acknowledgedNanoseconds
        self.receivedNanoseconds = receivedNanoseconds
    }
}

/// Customers writing in during a run (`loadtest --inbound RATE`): how fast their messages
/// reached the subscriber, and whether each one the dispatcher acknowledged did.
public struct InboundReport: Sendable, Equatable, Codable {
    /// Incoming messages a second the mock posted to each number.
    public var messagesPerSecondPerNumber: Double
    /// Messages the dispatcher acknowledged (2xx) before measuring stopped.
    public var acknowledged: Int
    /// Of those, the ones the subscriber received as a `message` event.
    public var delivered: Int
    /// Acknowledged and never received.
    public var undelivered: Int
    /// Posted by the mock → received by the subscriber.
    public var postedToSubscriber: LatencySummary

    enum CodingKeys: String, CodingKey {
        case messagesPerSecondPerNumber = "mps_per_number"
        case acknowledged, delivered, undelivered
        case postedToSubscriber = "posted_to_subscriber"
    }
}

/// Judges the receive side of a run. Pure: no clock, no I/O.
public enum InboundAnalysis {
    /// Latency over the trips acknowledged until `endNanoseconds`; every one of them must
    /// have reached the subscriber.
    /// `badSignatures`: events the subscriber refused for a signature that did not verify.
    public static func analyze(rate: Double, trips: [InboundTrip], endNanoseconds: Int64, badSignatures: Int = 0) -> (report: InboundReport, failures: [String]) {
        var histogram = LatencyAnalysis.emptyHistogram()
        var acknowledged = 0
        var undelivered: [String] = []
        for trip in trips where trip.acknowledgedNanoseconds <= endNanoseconds {
            acknowledged += 1
            guard let received = trip.receivedNanoseconds else {
                undelivered.append(trip.wamid)
                continue
            }
            histogram.record(LatencyAnalysis.microseconds(received - trip.postedNanoseconds))
        }
        var failures: [String] = []
        if !undelivered.isEmpty {
            failures.append("\(undelivered.count) of \(acknowledged) incoming messages the dispatcher acknowledged never reached the subscriber (first: \(undelivered.prefix(3).joined(separator: ", ")))")
        }
        if badSignatures > 0 { failures.append("\(badSignatures) subscriber event(s) with a signature that does not verify") }
        if acknowledged == 0 { failures.append("no incoming message was acknowledged: nothing shows the receive side") }
        let report = InboundReport(
            messagesPerSecondPerNumber: rate, acknowledged: acknowledged, delivered: acknowledged - undelivered.count,
            undelivered: undelivered.count, postedToSubscriber: LatencySummary(histogram))
        return (report, failures)
    }

    /// Incoming messages to one number, by when the mock posted them, sorted.
    public static func times(_ trips: [InboundTrip], phoneNumberID: String) -> [Int64] {
        trips.filter { $0.phoneNumberID == phoneNumberID }.map(\.postedNanoseconds).sorted()
    }
}
