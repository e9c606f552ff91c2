import Foundation
import SluiceServer
import Testing

/// `scripts/openapi-check`: schemathesis against a live `sluice serve` with the OpenAPI
/// document the server itself serves. Skipped where schemathesis is not installed
/// (`scripts/bootstrap` puts it in `.venv-ci/`), except under CI, where it must run.
@Suite struct OpenAPIEndToEndTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    /// What the script looks for, in its order.
    static var schemathesisInstalled: Bool {
        let environment = ProcessInfo.processInfo.environment
        var candidates = [root + "/.venv-ci/bin/schemathesis"]
        if let given = environment["SCHEMATHESIS"] { candidates.insert(given, at: 0) }
        for directory in (environment["PATH"] ?? "").split(separator: ":") { candidates.append("\(directory)/schemathesis") }
        return candidates.contains { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var runs: Bool { schemathesisInstalled || ProcessInfo.processInfo.environment["CI"] == "true" }

    @Test(.enabled(if: runs, "schemathesis is not installed (scripts/bootstrap installs it in .venv-ci/)"), .timeLimit(.minutes(4)))
    func theRunningServerAnswersAsItsOpenAPIDocumentSays() async throws {
        let result = try await runToEnd("/bin/bash", [Self.root + "/scripts/openapi-check"], environment: ["BIN": try SluiceBinary.path()], mergeErrors: true)
        #expect(result.status == 0, "scripts/openapi-check exited \(result.status):\n\(result.output.suffix(6000))")
        // The run covered every operation the served document names, but GET /openapi.yaml
        // itself (which schemathesis leaves out).
        let operations = OpenAPIDocument.yaml.components(separatedBy: "operationId:").count - 1
        #expect(operations > 1)
        #expect(result.output.contains("Tested: \(operations - 1)"), "\(operations) operations documented:\n\(result.output.suffix(2000))")
    }
}
