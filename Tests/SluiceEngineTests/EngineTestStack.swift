import Foundation
import Logging
import SluiceCore
import SluiceEngine
import SluiceMock

/// The mock endpoint over TLS on 127.0.0.1 (with `faults`) and an engine configuration
/// pointed at it, with its journal in a temporary directory named from `prefix`; both
/// are gone when `body` returns or throws.
func withEngineStack(
    prefix: String, faults: FaultProfile = FaultProfile(), _ body: (MockEndpoint, EngineConfiguration) async throws -> Void
) async throws {
    let root = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString.prefix(8))"
    defer { try? FileManager.default.removeItem(atPath: root) }
    var mockConfiguration = MockConfiguration(certificateDirectory: root + "/mock")
    mockConfiguration.faults = faults
    let mock = MockEndpoint(configuration: mockConfiguration, logger: Logger(label: "test.mock"))
    let running = try await mock.start()
    var configuration = EngineConfiguration(dataDirectory: root)
    configuration.graphURL = running.baseURL
    configuration.transport.caFile = running.caFile
    do {
        try await body(mock, configuration)
    } catch {
        await mock.stop()
        throw error
    }
    await mock.stop()
}

/// `count` recipients from `first` up, each with one template parameter `n<i>`.
func recipients(_ count: Int, from first: Int = 966_500_000_000) -> [RecipientInput] {
    (0..<count).map { RecipientInput(to: String(first + $0), params: ["n\($0)"]) }
}
