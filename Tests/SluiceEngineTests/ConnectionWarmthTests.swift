import Foundation
import Logging
import SluiceCore
@testable import SluiceEngine
import SluiceMock
import Testing

/// Warm start: the connections a sender's in-flight bound fills are opened before its
/// first message, at registration, at start and when its tier rises.
@Suite(.serialized) struct ConnectionWarmthTests {
    @Test func opensWhatTheBoundFillsOnceAndOnlyTheGrowthLater() {
        var warmth = ConnectionWarmth(requestsPerConnection: 100, connectionsMax: 20)
        let a = SenderID(1), b = SenderID(2)
        #expect(warmth.toOpen(sender: a, inFlightLimit: 120) == 2)
        #expect(warmth.toOpen(sender: a, inFlightLimit: 120) == 0)
        #expect(warmth.toOpen(sender: a, inFlightLimit: 80) == 0, "a lower bound closes nothing")
        #expect(warmth.toOpen(sender: a, inFlightLimit: 1_000) == 8, "a tier rise opens the growth only")
        // The cap holds over all senders: b gets the 10 left of 20, not the 15 it wants.
        #expect(warmth.toOpen(sender: b, inFlightLimit: 1_500) == 10)
        #expect(warmth.total == 20)
        // A deleted sender's share is free again for the others.
        warmth.forget(a)
        #expect(warmth.total == 10)
        #expect(warmth.toOpen(sender: b, inFlightLimit: 1_500) == 5)
    }

    @Test func overHTTP1EveryRequestNeedsItsConnection() {
        var warmth = ConnectionWarmth(requestsPerConnection: 1, connectionsMax: 1_024)
        #expect(warmth.toOpen(sender: SenderID(1), inFlightLimit: 16) == 16)
        var off = ConnectionWarmth(requestsPerConnection: 100, connectionsMax: 0)
        #expect(off.toOpen(sender: SenderID(1), inFlightLimit: 1_500) == 0)
    }

    static func reads(_ mock: MockEndpoint, _ id: String) -> Int { mock.stats().phoneNumberReads[id] ?? 0 }

    /// Waits until the mock has answered `count` reads of `id`'s node (or 10 s); returns the reads.
    static func awaitReads(_ mock: MockEndpoint, _ id: String, _ count: Int) async throws -> Int {
        let deadline = Date().addingTimeInterval(10)
        while reads(mock, id) < count && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        return reads(mock, id)
    }

    /// The sender's in-flight bound as the dispatcher publishes it (snapshots refresh a few times a second).
    static func inFlightLimit(_ dispatcher: Dispatcher, _ id: String, tier: Double) async throws -> Int {
        let deadline = Date().addingTimeInterval(10)
        while Date() < deadline {
            if let s = dispatcher.senderSnapshots().first(where: { $0.phoneNumberID == id }), s.tierMessagesPerSecond == tier, s.inFlightLimit > 0 {
                return s.inFlightLimit
            }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("no in-flight bound published for \(id) at tier \(tier)")
        return 0
    }

    @Test func theDispatcherOpensConnectionsBeforeTheFirstMessage() async throws {
        try await withEngineStack(prefix: "sluice-warm") { mock, configuration in
            let id = "1065000001"
            let dispatcher = try Dispatcher(configuration: configuration)
            try await dispatcher.putSender(phoneNumberID: id, tierMessagesPerSecond: 80, accessToken: "t")
            let low = try await Self.inFlightLimit(dispatcher, id, tier: 80)
            let opened = try await Self.awaitReads(mock, id, (low + 99) / 100)
            #expect(opened == (low + 99) / 100, "bound \(low): one connection per 100 requests")

            // A tier rise opens what the larger bound needs beyond what is open.
            try await dispatcher.putSender(phoneNumberID: id, tierMessagesPerSecond: 1_000, accessToken: "t")
            let high = try await Self.inFlightLimit(dispatcher, id, tier: 1_000)
            #expect(high > low)
            let raised = try await Self.awaitReads(mock, id, (high + 99) / 100)
            #expect(raised == (high + 99) / 100)
            #expect(mock.recorder.count == 0, "no message was sent")
            await dispatcher.shutdown()

            // At start, registered senders are warmed again (the old connections closed with the process).
            let restarted = try Dispatcher(configuration: configuration)
            let again = try await Self.awaitReads(mock, id, raised + (high + 99) / 100)
            #expect(again == raised + (high + 99) / 100)
            await restarted.shutdown()
        }
    }

    @Test func withoutWarmStartNothingIsOpenedAhead() async throws {
        try await withEngineStack(prefix: "sluice-warm-off") { mock, configuration in
            var configuration = configuration
            configuration.warmStart = false
            let dispatcher = try Dispatcher(configuration: configuration)
            try await dispatcher.putSender(phoneNumberID: "1065000002", tierMessagesPerSecond: 250, accessToken: "t")
            _ = try await Self.inFlightLimit(dispatcher, "1065000002", tier: 250)
            try await Task.sleep(for: .milliseconds(500))
            #expect(Self.reads(mock, "1065000002") == 0)
            await dispatcher.shutdown()
        }
    }
}
