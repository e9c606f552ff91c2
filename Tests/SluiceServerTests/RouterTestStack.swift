import Foundation
import Hummingbird
import HummingbirdTesting
import SluiceEngine
import SluiceServer

/// The API router over a real dispatcher and journal (in a temporary directory named from
/// `prefix`, removed afterwards) whose endpoint is a closed port: sends fail and retry, so
/// what was tried stays `in_flight` or `retry_at`. The admin key is `key`.
func withClosedEndpointAPI(
    prefix: String, key: String, webhookVerifyToken: String? = nil,
    _ body: @escaping @Sendable (any TestClientProtocol, Dispatcher) async throws -> Void
) async throws {
    let dir = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: dir) }
    var configuration = EngineConfiguration(dataDirectory: dir)
    configuration.graphURL = "http://127.0.0.1:9"
    configuration.journal.durable = false
    let dispatcher = try Dispatcher(configuration: configuration)
    let router = try APIRoutes.router(dispatcher: dispatcher, credential: AdminCredential(key: key, source: "test"), webhookVerifyToken: webhookVerifyToken)
    do {
        try await Application(router: router).test(.router) { client in try await body(client, dispatcher) }
    } catch {
        await dispatcher.shutdown()
        throw error
    }
    await dispatcher.shutdown()
}
