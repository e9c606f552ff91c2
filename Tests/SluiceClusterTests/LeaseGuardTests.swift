import SluiceCore
import Testing

@testable import SluiceCluster

@Suite struct LeaseGuardTests {
    static func at(_ seconds: Double) -> Instant { .seconds(seconds) }

    @Test("sending may go on until the TTL less the margin after the renewal was sent, not after it was answered")
    func theDeadlineCountsFromTheSend() {
        var lease = LeaseGuard(marginMilliseconds: 4_000)
        #expect(!lease.isAlive(at: Self.at(0)), "no lease yet: nothing is sent")
        // Sent at 1 s, answered (slowly) at 3 s with 10 s left.
        lease.renewed(sentAt: Self.at(1), ttlSeconds: 10)
        #expect(lease.isAlive(at: Self.at(6.999)))
        #expect(!lease.isAlive(at: Self.at(7)), "1 s + 10 s − 4 s")
    }

    @Test("a late answer to an older renewal never shortens the deadline; a lapsed lease ends it at once")
    func renewalsOnlyExtend() {
        var lease = LeaseGuard(marginMilliseconds: 4_000)
        lease.renewed(sentAt: Self.at(5), ttlSeconds: 10)
        lease.renewed(sentAt: Self.at(2), ttlSeconds: 10)
        #expect(lease.validUntil == Self.at(11))
        lease.renewed(sentAt: Self.at(6), ttlSeconds: 0)
        #expect(!lease.isAlive(at: Self.at(6)))
    }

    @Test func nodeIDsAreSafeInKeysAndURLs() {
        #expect(ClusterConfiguration.isNodeID("node-a.eu_1"))
        for bad in ["", "a/b", "a b", String(repeating: "x", count: 65), "ü"] { #expect(!ClusterConfiguration.isNodeID(bad), "\(bad)") }
    }

    @Test("the gateway's entries: base64 keys and values, 64-bit numbers as strings")
    func gatewayEntriesParse() throws {
        let answer: [String: Any] = [
            "kvs": [["key": "L3NsdWljZS9vd25lcnMvMQ==", "create_revision": "2", "mod_revision": "3", "lease": "7587899415817187077", "value": "bm9kZS1h"]],
        ]
        let entries = try EtcdClient.keyValues(answer)
        #expect(entries == [EtcdClient.KeyValue(key: "/sluice/owners/1", value: Array("node-a".utf8), createRevision: 2, modRevision: 3, lease: 7_587_899_415_817_187_077)])
        #expect(throws: EtcdError.self) { try EtcdClient.keyValues(["kvs": [["key": "%%%"]]]) }
    }
}
