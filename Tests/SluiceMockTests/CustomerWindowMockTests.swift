import Foundation
import SluiceTestSupport
import Testing

@testable import SluiceMock

/// The customer service window at the mock (`--customer-window`): a free-form send to a
/// contact with no incoming message in 24 h is refused 131047, a template never is.
@Suite("Customer window at the mock", .timeLimit(.minutes(1)))
struct CustomerWindowMockTests {
    static let sender = "106540352242922"
    static let other = "106540352242923"
    static let details = "Message failed to send because more than 24 hours have passed since the customer last replied to this number."

    static func text(to: String) -> String {
        #"{"messaging_product":"whatsapp","to":"\#(to)","type":"text","text":{"body":"hi"}}"#
    }

    static func image(to: String) -> String {
        #"{"messaging_product":"whatsapp","to":"\#(to)","type":"image","image":{"link":"https://example.com/a.jpg"}}"#
    }

    func send(_ running: MockEndpoint.Running, _ body: String, sender: String = Self.sender, in directory: URL) async throws -> CurlResult {
        try await Curl.run(Curl.sendArguments(url: running.baseURL + "/v21.0/\(sender)/messages", body: body), in: directory)
    }

    func declare(_ running: MockEndpoint.Running, _ waID: String, sender: String = Self.sender, query: String = "", in directory: URL) async throws -> CurlResult {
        try await Curl.run(["-X", "POST", running.baseURL + "/__mock/contacts/\(sender)/\(waID)/inbound" + query], in: directory)
    }

    @Test func freeFormOutsideTheWindowIsRefused131047() async throws {
        try await withConfiguredEndpoint({ $0.customerWindow = true }) { endpoint, running, directory in
            let refused = try await send(running, Self.text(to: "15551230001"), in: directory)
            #expect(refused.status == 400, "\(refused.body)")
            #expect(refused.errorCode == 131_047)
            #expect(refused.errorMessage == "(#131047) Re-engagement message")
            #expect(refused.errorDetails == Self.details)
            #expect((refused.json["error"] as? [String: Any])?["fbtrace_id"] is String)
            let media = try await send(running, Self.image(to: "+15551230001"), in: directory)
            #expect(media.status == 400 && media.errorCode == 131_047, "every non-template type: \(media.body)")
            // Registered numbers are judged the same way.
            try endpoint.register(phoneNumberID: Self.other, sender: MockSender(tierMessagesPerSecond: 80))
            let registered = try await send(running, Self.text(to: "15551230001"), sender: Self.other, in: directory)
            #expect(registered.errorCode == 131_047, "\(registered.body)")

            let stats = endpoint.stats()
            #expect(stats.arrivals == 0)
            #expect(stats.errors == [131_047: 3])
            #expect(stats.errorsPerSender == [Self.sender: [131_047: 2], Self.other: [131_047: 1]])
        }
    }

    @Test func declaredInboundOpensTheWindowForThatNumberAndContact() async throws {
        try await withConfiguredEndpoint({ $0.customerWindow = true }) { endpoint, running, directory in
            let declared = try await declare(running, "+15551230002", in: directory)
            #expect(declared.status == 204, "\(declared.body)")
            // With or without '+', one contact.
            #expect(try await send(running, Self.text(to: "15551230002"), in: directory).status == 200)
            #expect(try await send(running, Self.image(to: "+15551230002"), in: directory).status == 200)
            // Another contact, and the same contact on another number, stay closed.
            #expect(try await send(running, Self.text(to: "15551230003"), in: directory).errorCode == 131_047)
            #expect(try await send(running, Self.text(to: "15551230002"), sender: Self.other, in: directory).errorCode == 131_047)

            // A message 24 h and a second ago opened a window that has closed; one just inside has not.
            #expect(try await declare(running, "15551230004", query: "?seconds_ago=86401", in: directory).status == 204)
            #expect(try await send(running, Self.text(to: "15551230004"), in: directory).errorCode == 131_047)
            #expect(try await declare(running, "15551230004", query: "?seconds_ago=86340", in: directory).status == 204)
            #expect(try await send(running, Self.text(to: "15551230004"), in: directory).status == 200)

            let badContact = try await declare(running, "abc", in: directory)
            #expect(badContact.status == 400 && badContact.errorMessage.contains("wa_id"), "\(badContact.body)")
            let badAge = try await declare(running, "15551230005", query: "?seconds_ago=-1", in: directory)
            #expect(badAge.status == 400 && badAge.errorMessage.contains("seconds_ago"), "\(badAge.body)")
            let badNumber = try await declare(running, "15551230005", sender: "12ab", in: directory)
            #expect(badNumber.status == 400, "\(badNumber.body)")

            #expect(endpoint.stats().arrivals == 3)
            #expect(endpoint.stats().errors == [131_047: 3])
        }
    }

    @Test func templatesAreNeverRefused() async throws {
        try await withConfiguredEndpoint({ $0.customerWindow = true }) { endpoint, running, directory in
            let template = try await send(running, templateBody(name: "order_update", parameters: 1, to: "15551230006"), in: directory)
            #expect(template.status == 200, "\(template.body)")
            #expect(try await send(running, sendBody(to: "+15551230007"), in: directory).status == 200)
            #expect(endpoint.stats().arrivals == 2)
            #expect(endpoint.stats().errors.isEmpty)
        }
    }

    @Test func offByDefault() async throws {
        #expect(MockConfiguration(certificateDirectory: "/nonexistent").customerWindow == false)
        try await withConfiguredEndpoint({ _ in }) { endpoint, running, directory in
            let free = try await send(running, Self.text(to: "15551230008"), in: directory)
            #expect(free.status == 200, "\(free.body)")
            // Declaring is refused rather than kept for nothing.
            let declared = try await declare(running, "15551230008", in: directory)
            #expect(declared.status == 409 && declared.body.contains("--customer-window"), "\(declared.body)")
            #expect(endpoint.stats().errors.isEmpty)
        }
    }

    /// The mock's own customers writing in open their windows when first posted.
    @Test func incomingMessagesOpenTheWindow() async throws {
        let receiver = WebhookReceiver()
        try await receiver.run { url in
            try await withConfiguredEndpoint({ configuration in
                configuration.customerWindow = true
                configuration.senders[Self.sender] = MockSender()
                var webhook = WebhookConfiguration(url: url, appSecret: "mock-app-secret")
                webhook.inboundMessagesPerSecond = 20
                configuration.webhook = webhook
            }) { endpoint, running, directory in
                try await eventually("an incoming message acknowledged", within: 30) {
                    !(endpoint.inbound?.acknowledged(offset: 0, limit: 1).isEmpty ?? true)
                }
                let contact = try #require(endpoint.inbound?.acknowledged(offset: 0, limit: 1).first?.from)
                let reply = try await send(running, Self.text(to: contact), in: directory)
                #expect(reply.status == 200, "a reply to \(contact), who wrote: \(reply.body)")
                // The simulated customers are 9715…; this one never wrote.
                #expect(try await send(running, Self.text(to: "15551230009"), in: directory).errorCode == 131_047)
            }
        }
    }
}
