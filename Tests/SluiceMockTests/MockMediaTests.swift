import Foundation
import Logging
import SluiceCrypto
import Testing

@testable import SluiceMock

/// The mock's media endpoints as Meta's: a multipart upload (from curl, a client that is
/// not ours), a description for the number's token only, and a download url that needs the
/// token and cannot be made up or extended.
@Suite struct MockMediaTests {
    static let sender = "106540352242933"

    @Test func anUploadIsDescribedAndDownloadedOnlyWithTheNumbersToken() async throws {
        let directory = try makeTemporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        var logger = Logger(label: "SluiceMockTests")
        logger.logLevel = .warning
        let endpoint = MockEndpoint(configuration: MockConfiguration(certificateDirectory: directory.path), logger: logger)
        let running = try await endpoint.start()
        do {
            try await exercise(endpoint, running, directory)
        } catch {
            await endpoint.stop()
            throw error
        }
        await endpoint.stop()
    }

    func exercise(_ endpoint: MockEndpoint, _ running: MockEndpoint.Running, _ directory: URL) async throws {
        try endpoint.register(phoneNumberID: Self.sender, sender: MockSender(accessToken: "media-token"))
        try endpoint.register(phoneNumberID: "106540352242944", sender: MockSender(accessToken: "other-token"))
        let ca = try #require(running.caFile)
        let photo = directory.appendingPathComponent("photo.png")
        let bytes = (0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 13 &+ 1) }
        try Data(bytes).write(to: photo)
        let upload = running.baseURL + "/v21.0/\(Self.sender)/media"
        func form(_ token: String, file: URL = photo, type: String = "image/png") -> [String] {
            ["--cacert", ca, "-H", "Authorization: Bearer \(token)", "-F", "messaging_product=whatsapp", "-F", "type=\(type)",
             "-F", "file=@\(file.path);type=\(type)", upload]
        }

        let refused = try await Curl.run(form("other-token"), in: directory)
        #expect(refused.status == 401 && refused.errorCode == 190, "\(refused.body)")
        let uploaded = try await Curl.run(form("media-token"), in: directory)
        #expect(uploaded.status == 200, "\(uploaded.body) \(uploaded.stderr)")
        let id = try #require(uploaded.json["id"] as? String)
        #expect(id.allSatisfy(\.isNumber) && id.count == 16)
        #expect(endpoint.media.item(id)?.bytes == bytes, "the file part arrived whole")

        let big = directory.appendingPathComponent("big.png")
        try Data(count: (5 << 20) + 1).write(to: big)
        let tooBig = try await Curl.run(form("media-token", file: big), in: directory)
        #expect(tooBig.status == 400 && tooBig.errorCode == 131_009, "\(tooBig.body)")

        let node = running.baseURL + "/v21.0/\(id)"
        #expect(try await Curl.run(["--cacert", ca, "-H", "Authorization: Bearer other-token", node], in: directory).errorCode == 190)
        let wrongNumber = try await Curl.run(["--cacert", ca, "-H", "Authorization: Bearer media-token", node + "?phone_number_id=1"], in: directory)
        #expect(wrongNumber.status == 400 && wrongNumber.errorCode == 100)
        let described = try await Curl.run(["--cacert", ca, "-H", "Authorization: Bearer media-token", node + "?phone_number_id=\(Self.sender)"], in: directory)
        #expect(described.status == 200, "\(described.body)")
        #expect(described.json["sha256"] as? String == Digest.sha256(bytes).map { String(format: "%02x", $0) }.joined())
        #expect(described.json["file_size"] as? String == "200000" && described.json["mime_type"] as? String == "image/png")
        #expect(described.json["id"] as? String == id && described.json["messaging_product"] as? String == "whatsapp")
        let url = try #require(described.json["url"] as? String)
        #expect(url.hasPrefix(running.baseURL + "/mock-media/\(id)?expires="))

        let saved = directory.appendingPathComponent("saved")
        let downloaded = try await Curl.run(["--cacert", ca, "-H", "Authorization: Bearer media-token", "-o", saved.path, url], in: directory)
        #expect(downloaded.status == 200)
        #expect(try Data(contentsOf: saved) == Data(bytes))
        #expect(try await Curl.run(["--cacert", ca, url], in: directory).status == 401, "the url needs the token")
        #expect(try await Curl.run(["--cacert", ca, "-H", "Authorization: Bearer other-token", url], in: directory).status == 401)
        // A later expiry under the old signature is a made-up url.
        let extended = url.replacingOccurrences(of: "expires=", with: "expires=9")
        #expect(try await Curl.run(["--cacert", ca, "-H", "Authorization: Bearer media-token", extended], in: directory).status == 404)

        let now = WallClock.nowNanoseconds()
        #expect(!endpoint.media.isValid(id, expires: now - 1, signature: endpoint.media.signature(id, expires: now - 1), now: now), "expired")
        #expect(endpoint.media.isValid(id, expires: now + 1, signature: endpoint.media.signature(id, expires: now + 1), now: now))
    }

    @Test func multipartPartsAreSplitAtTheBoundaryOnly() {
        let body = Array("--b0undary\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n--b0undary\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\nContent-Type: application/pdf\r\n\r\nx\r\n--b0und\r\ny\r\n--b0undary--\r\n".utf8)
        #expect(Multipart.boundary(contentType: "multipart/form-data; boundary=\"b0undary\"") == "b0undary")
        #expect(Multipart.boundary(contentType: "application/json") == nil)
        let parts = Multipart.parts(body, boundary: "b0undary")
        #expect(parts.map(\.name) == ["messaging_product", "file"])
        #expect(parts.last?.filename == "a.bin" && parts.last?.contentType == "application/pdf")
        #expect(parts.last.map { String(decoding: $0.body, as: UTF8.self) } == "x\r\n--b0und\r\ny", "a near-boundary inside the file is content")
        #expect(Multipart.parts(Array("no boundary here".utf8), boundary: "b0undary").isEmpty)
    }
}
