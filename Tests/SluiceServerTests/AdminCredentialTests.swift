import Foundation
import SluiceServer
import Testing

@Suite struct AdminCredentialTests {
    @Test func firstStartCreatesAPrivateKeyFileAndReusesIt() throws {
        let dir = NSTemporaryDirectory() + "sluice-key-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let first = try AdminCredential.load(dataDirectory: dir, environment: [:])
        let path = dir + "/" + AdminCredential.fileName
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
        let key = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        #expect(key.count >= AdminCredential.keyBytesMin)
        #expect(first.accepts(authorizationHeader: "Bearer \(key)"))
        #expect(!first.accepts(authorizationHeader: "Bearer \(key)x"))
        #expect(!first.accepts(authorizationHeader: key))
        #expect(!first.accepts(authorizationHeader: nil))
        let second = try AdminCredential.load(dataDirectory: dir, environment: [:])
        #expect(second.accepts(authorizationHeader: "Bearer \(key)"), "the same key after a restart")
    }

    @Test func environmentKeyWinsAndMustBeLongEnough() throws {
        let dir = NSTemporaryDirectory() + "sluice-key-\(UUID().uuidString.prefix(8))"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let credential = try AdminCredential.load(dataDirectory: dir, environment: [AdminCredential.environmentVariable: "from-the-environment-123"])
        #expect(credential.accepts(authorizationHeader: "Bearer from-the-environment-123"))
        #expect(!FileManager.default.fileExists(atPath: dir + "/" + AdminCredential.fileName))
        #expect(throws: AdminCredential.LoadError.self) {
            try AdminCredential.load(dataDirectory: dir, environment: [AdminCredential.environmentVariable: "short"])
        }
    }
}
