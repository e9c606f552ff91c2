import Foundation

/// The ceiling run's reference: h2load against the same mock, before the dispatcher starts.
extension LoadTestRunner {
    /// `--connections`, or the default for the reference's protocol.
    var referenceConnections: Int {
        options.connections ?? (options.httpVersion == "1.1" ? Self.referenceConnectionsHTTP1 : Self.referenceConnectionsHTTP2)
    }

    /// Registers the reference number on the mock without a tier and runs h2load with as
    /// many requests as the plan's messages, over as many connections as the dispatcher gets.
    func runReference(mockHTTP: LoopbackHTTP, mockURL: String, bodies: String) async throws -> ReferenceResult {
        let id = LoadTestPlan.referencePhoneNumberID
        let token = "loadtest-reference-token"
        let senderFile = bodies + "/reference-sender.json"
        try Data(#"{"access_token":"\#(token)"}"#.utf8).write(to: URL(fileURLWithPath: senderFile))
        let m = try mockHTTP.request("PUT", "\(mockURL)/__mock/senders/\(id)", bodyFile: senderFile)
        guard m.status == 200 else { throw LoadTestError.http("PUT /__mock/senders/\(id): \(m.status) \(m.text)") }
        let bodyFile = options.workDirectory + "/reference-body.json"
        try Self.referenceBody().write(to: URL(fileURLWithPath: bodyFile))
        let client = ReferenceClient(
            executable: options.referenceClient, url: "\(mockURL)/\(Self.graphVersion)/\(id)/messages", bodyFile: bodyFile,
            bearer: token, requests: options.plan.messageCount, connections: referenceConnections,
            http2: options.httpVersion != "1.1", outputPath: options.workDirectory + "/h2load.log")
        logger.info("reference client: h2load \(client.arguments.joined(separator: " "))")
        return try await client.run()
    }

    /// The Cloud API version `serve` sends with by default (its `--graph-version`).
    static let graphVersion = "v21.0"

    /// A template send of the template registered on the mock, about the size of the dispatcher's.
    static func referenceBody() -> Data {
        Data((#"{"messaging_product":"whatsapp","to":"\#(referenceRecipient)","type":"template","template":{"name":"\#(ceilingTemplateName)","#
            + #""language":{"code":"en_US"},"components":[{"type":"body","parameters":[{"type":"text","text":"n0"}]}]},"#
            + #""biz_opaque_callback_data":"reference"}"#).utf8)
    }
}
