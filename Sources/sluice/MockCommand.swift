import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SluiceMock
import SluiceServer

struct MockCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mock",
        abstract: "Serve a WhatsApp Cloud API stand-in (TLS, HTTP/2 and HTTP/1.1) on loopback, recording every arrival."
    )

    @Option(help: "HOST:PORT to listen on (default 127.0.0.1:0, a free port).")
    var listen = "127.0.0.1:0"
    @Option(name: .customLong("cert-dir"), help: "Where the self-signed certificate is kept (mock-cert.pem is the CA file for --ca-file).")
    var certDir = "./sluice-mock"
    @Option(help: "Append every accepted arrival to this NDJSON file.")
    var record: String?
    @Option(name: .customLong("latency-ms"), help: "Fixed delay before each answer, in milliseconds.")
    var latencyMs = 0
    @Flag(help: "Serve plain HTTP/1.1 instead of TLS.")
    var plain = false

    func run() async throws {
        let address = try ListenAddress(parsing: listen)
        guard (0...60_000).contains(latencyMs) else { throw ValidationError("latency-ms must be between 0 and 60000") }
        LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
        var configuration = MockConfiguration(certificateDirectory: certDir)
        configuration.host = address.host
        configuration.port = address.port
        configuration.tls = !plain
        configuration.recordFile = record
        configuration.latencyMilliseconds = latencyMs
        let logger = Logger(label: "sluice.mock")
        let mock = MockEndpoint(configuration: configuration, logger: logger)
        let running = try await mock.start()
        var line = "mock listening on \(running.baseURL)"
        if let ca = running.caFile { line += " (CA file: \(ca))" }
        // Scripts and tests read this line to find the port.
        say(line)
        let group = ServiceGroup(services: [StopOnShutdown(mock: mock)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        try await group.run()
    }
}

/// Stops the mock (flushing its record file) when the process is asked to stop.
private struct StopOnShutdown: Service {
    let mock: MockEndpoint
    func run() async throws {
        try? await gracefulShutdown()
        await mock.stop()
    }
}
