import Foundation
import SluiceCrypto

/// The bootstrap admin key: presented as `Authorization: Bearer <key>`, it holds every
/// scope, so that the first API keys can be created with it (and scripts, the load test
/// and the demo can use it directly).
///
/// It comes from `SLUICE_ADMIN_KEY` when set; otherwise a random key is created once in
/// `<data-dir>/admin.key` (mode 0600) for the operator to read. The server keeps only its
/// SHA-256 and compares digests in constant time.
public struct AdminCredential: Sendable {
    public static let environmentVariable = "SLUICE_ADMIN_KEY"
    public static let fileName = "admin.key"
    public static let keyBytesMin = 16

    private let digest: [UInt8]
    /// Where the key was read from, for the start-up log (never the key itself).
    public let source: String

    public init(key: String, source: String) {
        digest = Digest.sha256(Array(key.utf8))
        self.source = source
    }

    public func accepts(authorizationHeader: String?) -> Bool {
        guard let token = APIKeyStore.bearerToken(authorizationHeader) else { return false }
        return accepts(token: token)
    }

    /// Whether `token` is this key (compared as SHA-256 digests, in constant time).
    public func accepts(token: some StringProtocol) -> Bool {
        Digest.constantTimeEqual(Digest.sha256(Array(token.utf8)), digest)
    }

    public enum LoadError: Error, CustomStringConvertible {
        case tooShort(String)
        case unreadable(String, String)
        public var description: String {
            switch self {
            case .tooShort(let source): "the admin key from \(source) is shorter than \(keyBytesMin) characters"
            case .unreadable(let path, let why): "cannot read or create the admin key at \(path): \(why)"
            }
        }
    }

    /// Loads the key from the environment or the data directory, creating it on first start.
    public static func load(dataDirectory: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws -> AdminCredential {
        if let key = environment[environmentVariable], !key.isEmpty {
            guard key.utf8.count >= keyBytesMin else { throw LoadError.tooShort("$\(environmentVariable)") }
            return AdminCredential(key: key, source: "$\(environmentVariable)")
        }
        let path = dataDirectory + "/" + fileName
        let fm = FileManager.default
        do {
            if fm.fileExists(atPath: path) {
                let key = try String(contentsOfFile: path, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
                guard key.utf8.count >= keyBytesMin else { throw LoadError.tooShort(path) }
                return AdminCredential(key: key, source: path)
            }
            try fm.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
            let key = "sk_" + SecureRandom.hexToken(byteCount: 24)
            // Created 0600 from the start: never readable by others, not even briefly.
            guard fm.createFile(atPath: path, contents: Data((key + "\n").utf8), attributes: [.posixPermissions: 0o600]) else {
                throw LoadError.unreadable(path, "create failed")
            }
            return AdminCredential(key: key, source: path + " (created)")
        } catch let error as LoadError {
            throw error
        } catch {
            throw LoadError.unreadable(path, "\(error)")
        }
    }
}
