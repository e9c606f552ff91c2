import Foundation
import Testing

/// `sluice serve --tls-cert --tls-key`: the API answers over TLS with that certificate,
/// and bad TLS settings stop the start with a message naming the flag.
@Suite(.serialized) struct ServeTLSEndToEndTests {
    @Test func theAPIIsServedOverTLS() async throws {
        // The mock writes a self-signed certificate for 127.0.0.1 into its cert dir.
        let stack = try await DispatchEndToEndTests().startMock("serve-tls")
        let cert = stack.root + "/mock/mock-cert.pem"
        let key = stack.root + "/mock/mock-key.pem"
        let (serve, api) = try await stack.serve(["--tls-cert", cert, "--tls-key", key])
        #expect(api.hasPrefix("https://127.0.0.1:"))

        let health = try await Self.curl(["--cacert", cert, api + "/healthz"])
        #expect(health.status == 0 && health.output.contains("ok"), "\(health)")
        let key401 = try await Self.curl(["--cacert", cert, "-o", "/dev/null", "-w", "%{http_code}", api + "/v1/campaigns/1"])
        #expect(key401.output == "401")
        // Without trusting the certificate the client refuses (curl 60: peer certificate).
        let untrusted = try await Self.curl([api + "/healthz"])
        #expect(untrusted.status == 60)
        // Plain HTTP to the TLS port gets no HTTP answer.
        let plain = try await Self.curl(["-o", "/dev/null", "-w", "%{http_code}", api.replacingOccurrences(of: "https://", with: "http://") + "/healthz"])
        #expect(plain.output != "200")

        #expect(await serve.stop() == 0)
        await stack.mock.stop()
        try? FileManager.default.removeItem(atPath: stack.root)
    }

    @Test func aKeyWithoutItsCertificateIsRefusedAtStart() async throws {
        let root = try temporaryDirectory("serve-tls-bad")
        let key = root + "/key.pem"
        try "not a key".write(toFile: key, atomically: true, encoding: .utf8)
        let half = try ChildProcess(arguments: ["serve", "--data-dir", root + "/data", "--listen", "127.0.0.1:0", "--tls-key", key], logPath: root + "/half.log")
        let halfStatus = await half.waitForExit()
        await half.stop()
        #expect(halfStatus != nil && halfStatus != 0)
        #expect(half.stderrTail().contains("tls-cert and tls-key go together"))

        try "not a certificate".write(toFile: root + "/cert.pem", atomically: true, encoding: .utf8)
        let bad = try ChildProcess(
            arguments: ["serve", "--data-dir", root + "/data", "--listen", "127.0.0.1:0", "--tls-cert", root + "/cert.pem", "--tls-key", key],
            logPath: root + "/bad.log")
        let badStatus = await bad.waitForExit()
        await bad.stop()
        #expect(badStatus != nil && badStatus != 0)
        #expect(bad.stderrTail().contains("tls-cert"), "\(bad.stderrTail())")
        try? FileManager.default.removeItem(atPath: root)
    }

    static func curl(_ arguments: [String]) async throws -> (status: Int32, output: String) {
        try await runToEnd("/usr/bin/curl", ["-sS", "--max-time", "20"] + arguments)
    }
}
