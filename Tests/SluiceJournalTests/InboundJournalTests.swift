import Foundation
import SluiceCore
import Testing
@testable import SluiceJournal

/// Incoming messages: journaled once per wamid, and an outbox entry per subscriber that
/// asks for them, under the contact's key.
@Suite struct InboundJournalTests {
    static func message(_ wamid: String, from: String?, sender: String = "1065", text: String = "hi", at: Int64 = now) -> InboundMessage {
        InboundMessage(
            wamid: wamid, senderPhoneNumberID: sender, from: from, fromUserID: from == nil ? "US.13491208655302741918" : nil,
            contactName: from == nil ? nil : "Amal", timestamp: "1749979800", type: "text",
            object: Array(#"{"from":"\#(from ?? "")","id":"\#(wamid)","text":{"body":"\#(text)"},"type":"text"}"#.utf8), receivedMilliseconds: at)
    }

    func subscribe(_ journal: Journal, _ events: Set<SubscriberEventKind>) async throws -> SubscriptionRecord {
        let receipt = try await journal.apply([.createSubscription(SubscriptionRecord(url: "http://127.0.0.1:1/hook", secret: "s3cret-s3cret-s3cret", events: events, createdMilliseconds: now))])
        guard case .subscription(let record) = receipt.results[0] else { fatalError("no subscription in \(receipt)") }
        return record
    }

    @Test func eachWamidIsJournaledOnceAndReachesTheSubscribersThatAskInOrderPerContact() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        var configuration = configuration()
        configuration.encryption = .keyFile(dir.path + ".key")
        defer { try? FileManager.default.removeItem(atPath: dir.path + ".key") }
        let journal = try Journal(directory: dir.path, configuration: configuration)
        defer { journal.close() }
        let statusOnly = try await subscribe(journal, [.status])
        let messages = try await subscribe(journal, [.status, .message])
        #expect(try journal.subscription(messages.id)?.events == [.status, .message])
        #expect(try journal.subscription(statusOnly.id)?.events == [.status])

        let r = try await journal.apply([.recordInbound([
            Self.message("wamid.1", from: "966500000001", text: "first"),
            Self.message("wamid.2", from: "966500000002"),
            Self.message("wamid.3", from: "966500000001", text: "second"),
            Self.message("wamid.4", from: nil),
        ])])
        #expect(r.results == [.inbound(recorded: 4, duplicates: 0)])
        // Meta redelivers: the same wamids change nothing.
        let again = try await journal.apply([.recordInbound([Self.message("wamid.1", from: "966500000001"), Self.message("wamid.5", from: "966500000003")])])
        #expect(again.results == [.inbound(recorded: 1, duplicates: 1)])

        #expect(try journal.outboxHeads(subscription: statusOnly.id, dueMilliseconds: .max, limit: 100).entries.isEmpty)
        #expect(try journal.subscription(messages.id)?.counters.pending == 5)
        // One head per contact: the first of 966500000001's two waits for its settlement.
        var heads = try journal.outboxHeads(subscription: messages.id, dueMilliseconds: .max, limit: 100).entries
        #expect(Set(heads.compactMap { $0.event.inbound?.message.wamid }) == ["wamid.1", "wamid.2", "wamid.4", "wamid.5"])
        let first = try #require(heads.first { $0.event.inbound?.message.wamid == "wamid.1" })
        let inbound = try #require(first.event.inbound)
        #expect(inbound.message == Self.message("wamid.1", from: "966500000001", text: "first"), "sealed and opened whole")
        #expect(first.event.orderKey == inbound.message.orderKey)
        #expect(first.event.orderKey.rawValue >= 1 << 63)
        let anonymous = try #require(heads.first { $0.event.inbound?.message.wamid == "wamid.4" }?.event.inbound?.message)
        #expect(anonymous.from == nil && anonymous.fromUserID == "US.13491208655302741918")

        _ = try await journal.apply([.settleOutbox([.delivered(first)])])
        heads = try journal.outboxHeads(subscription: messages.id, dueMilliseconds: .max, limit: 100).entries
        let waiting: [String] = heads.compactMap { $0.event.inbound?.message.wamid }
        #expect(waiting.contains("wamid.3"))
        // A failed attempt is patched in place like a status event's.
        let third = try #require(heads.first { $0.event.inbound?.message.wamid == "wamid.3" })
        _ = try await journal.apply([.settleOutbox([
            .failed(third, attempts: 1, nextAttemptMilliseconds: now + 5_000),
        ])])
        let retried = try #require(try journal.outboxHeads(subscription: messages.id, dueMilliseconds: .max, limit: 100).entries.first { $0.event.eventID == third.event.eventID })
        #expect(retried.attempts == 1 && retried.nextAttemptMilliseconds == now + 5_000 && retried.event == third.event)
        #expect(try journal.subscription(messages.id)?.counters.pending == 4)
    }

    @Test func retentionRemovesIncomingMessagesReceivedBeforeTheCutoffAPageAtATime() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        let day: Int64 = 86_400_000
        _ = try await journal.apply([.recordInbound([
            Self.message("wamid.a", from: "1", at: now - 10 * day), Self.message("wamid.b", from: "2", at: now - 9 * day),
            Self.message("wamid.c", from: "3", at: now - 1 * day), Self.message("wamid.d", from: "4", at: now - 8 * day),
        ])])
        var removed = 0
        var after: String?
        var passes = 0
        repeat {
            let r = try await journal.apply([.removeInbound(receivedBefore: now - 7 * day, after: after, max: 2)])
            guard case let .inboundRemoved(records, resume) = r.results[0] else { Issue.record("\(r.results)"); return }
            removed += records
            after = resume
            passes += 1
        } while after != nil && passes < 10
        #expect(removed == 3 && passes == 3, "4 records scanned 2 at a time, then an empty page ends the scan")
        // What was kept is still a duplicate; what went would be journaled again.
        let again = try await journal.apply([.recordInbound([Self.message("wamid.c", from: "3"), Self.message("wamid.a", from: "1")])])
        #expect(again.results == [.inbound(recorded: 1, duplicates: 1)])
    }

    @Test func anOversizedWamidOrObjectIsRefusedAndChangesNothing() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let journal = try Journal(directory: dir.path, configuration: configuration())
        defer { journal.close() }
        var long = Self.message(String(repeating: "w", count: 481), from: "1")
        await #expect(throws: JournalError.self) { try await journal.apply([.recordInbound([Self.message("wamid.ok", from: "1"), long])]) }
        long = Self.message("wamid.big", from: "1")
        long.object = Array(repeating: UInt8(ascii: " "), count: Journal.inboundObjectBytesMax + 1)
        await #expect(throws: JournalError.self) { try await journal.apply([.recordInbound([long])]) }
        // The good one of the refused batch was not kept: it is new now.
        let r = try await journal.apply([.recordInbound([Self.message("wamid.ok", from: "1")])])
        #expect(r.results == [.inbound(recorded: 1, duplicates: 0)])
    }

    @Test func subscriptionEventKindsRoundTripAndStatusOnlyKeepsTheOldLayout() throws {
        let cipher = RecordCipher(key: nil)
        for events: Set<SubscriberEventKind> in [[.status], [.message], [.status, .message, .account]] {
            let record = SubscriptionRecord(id: 3, url: "http://h/", secret: "s3cret-s3cret-s3cret", events: events, createdMilliseconds: now)
            var bytes = [UInt8](repeating: 0, count: SubscriptionCodec.size(record, cipher))
            bytes.withUnsafeMutableBytes { SubscriptionCodec.write(record, cipher, to: $0.baseAddress!) }
            #expect(try bytes.withUnsafeBytes { try SubscriptionCodec.read(id: 3, $0, cipher) } == record)
            if events == [.status] { #expect(bytes[1] == 0, "a status-only subscriber is written as before kinds existed") }
        }
    }

    @Test func theContactKeyIsStableAndSeparatesContactsAndNumbers() {
        let a = Self.message("w1", from: "966500000001")
        var b = Self.message("w2", from: "966500000001")
        #expect(a.orderKey == b.orderKey)
        b.senderPhoneNumberID = "1066"
        #expect(a.orderKey != b.orderKey)
        #expect(a.orderKey != Self.message("w3", from: "966500000002").orderKey)
        // Fixed across restarts: FNV-1a of "2" and "1" (each closed by 0xff), computed
        // independently, with the high bit set; not the process-seeded Hasher.
        #expect(Self.message("w", from: "1", sender: "2").orderKey == MessageID(0xc2ad_700e_fc16_3346))
        // Without wa_id or user id the contact is unknown: each message stands alone.
        var x = Self.message("x", from: nil)
        var y = Self.message("y", from: nil)
        x.fromUserID = nil
        y.fromUserID = nil
        #expect(x.orderKey != y.orderKey)
    }
}
