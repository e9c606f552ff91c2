import SluiceCluster
import SluiceCore
import Testing

/// Which subscriptions a node publishes, mirrors and drops, from its journal and etcd.
@Suite struct SubscriptionSyncTests {
    func record(_ id: UInt64, url: String = "https://hooks.example/s", campaign: CampaignID? = nil, origin: CampaignOrigin? = nil, mirror: SubscriptionMirror? = nil) -> SubscriptionRecord {
        SubscriptionRecord(
            id: id, url: url, secret: "whsec_0123456789abcdef", campaign: campaign, states: [.delivered, .failed], events: [.status, .message],
            createdMilliseconds: 1, batchMax: 10, origin: origin, mirrorOf: mirror)
    }

    @Test("a node publishes its own subscriptions, unpublishes the ones it deleted, and leaves alone what etcd has right")
    func ownSubscriptionsArePublished() {
        let mine = [record(1), record(2, campaign: CampaignID(7))]
        let fresh = SubscriptionSync.plan(node: "a", local: mine, published: [])
        #expect(fresh == [.publish(id: 1, .init(mine[0])), .publish(id: 2, .init(mine[1]))])

        let inEtcd = [
            SubscriptionSync.Published(node: "a", id: 1, spec: .init(mine[0])),
            SubscriptionSync.Published(node: "a", id: 2, spec: .init(record(2, url: "https://old.example/"))),
            SubscriptionSync.Published(node: "a", id: 3, spec: .init(record(3))),
        ]
        #expect(SubscriptionSync.plan(node: "a", local: mine, published: inEtcd) == [.unpublish(id: 3), .publish(id: 2, .init(mine[1]))])
        // A value that cannot be read is written again.
        let unreadable = [SubscriptionSync.Published(node: "a", id: 1, spec: nil)]
        #expect(SubscriptionSync.plan(node: "a", local: [mine[0]], published: unreadable) == [.publish(id: 1, .init(mine[0]))])
    }

    @Test("another node's subscription is mirrored once, its campaign filter becoming the origin of the campaign here; a mirror whose subscription is gone or changed is dropped")
    func othersAreMirrored() {
        let theirs = record(5, campaign: CampaignID(7))
        let published = [SubscriptionSync.Published(node: "b", id: 5, spec: .init(theirs))]
        let mirror = SubscriptionMirror(node: "b", id: 5)
        #expect(SubscriptionSync.plan(node: "a", local: [], published: published) == [.mirror(mirror, .init(theirs))])

        let kept = record(9, origin: CampaignOrigin(node: "b", campaign: CampaignID(7)), mirror: mirror)
        #expect(SubscriptionSync.plan(node: "a", local: [kept], published: published).isEmpty)
        // The filter must be the origin, not a campaign of this node.
        let wrong = record(9, campaign: CampaignID(7), mirror: mirror)
        #expect(SubscriptionSync.plan(node: "a", local: [wrong], published: published) == [.drop(localID: 9), .mirror(mirror, .init(theirs))])
        // Deleted on b: dropped here, and never published as this node's.
        #expect(SubscriptionSync.plan(node: "a", local: [kept], published: []) == [.drop(localID: 9)])
        // Two mirrors of one subscription (a crash between create and the next round): one stays.
        let twin = record(10, origin: CampaignOrigin(node: "b", campaign: CampaignID(7)), mirror: mirror)
        #expect(SubscriptionSync.plan(node: "a", local: [kept, twin], published: published) == [.drop(localID: 10)])
        // A mirror of this node's own subscription (a journal copied from b to a) goes.
        let own = record(11, mirror: SubscriptionMirror(node: "a", id: 1))
        #expect(SubscriptionSync.plan(node: "a", local: [own], published: []) == [.drop(localID: 11)])
    }

    @Test("what etcd keeps reads back as it was written; keys and values that are not a subscription are not taken")
    func specsRoundTripThroughJSON() throws {
        let spec = SubscriptionSync.Spec(record(1, campaign: CampaignID(42)))
        #expect(SubscriptionSync.Spec(json: spec.json) == spec)
        var all = spec
        all.states = nil
        all.campaign = nil
        #expect(SubscriptionSync.Spec(json: all.json) == all)
        for bad in [#"{}"#, #"{"url":"u","secret":"s","batch":0,"events":["status"]}"#, #"{"url":"u","secret":"s","batch":1,"events":[]}"#,
                    #"{"url":"u","secret":"s","batch":1,"events":["status"],"states":["queued"]}"#,
                    #"{"url":"u","secret":"s","batch":1,"events":["status"],"campaign":"x"}"#] {
            #expect(SubscriptionSync.Spec(json: Array(bad.utf8)) == nil, "\(bad)")
        }
        #expect(SubscriptionSync.Published(key: "b/5", value: spec.json)?.id == 5)
        #expect(SubscriptionSync.Published(key: "b/x", value: spec.json) == nil)
        #expect(SubscriptionSync.Published(key: "b/5/6", value: spec.json) == nil)
    }
}
