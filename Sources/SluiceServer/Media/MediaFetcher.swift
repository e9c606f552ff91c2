import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOSSL
import ServiceLifecycle
import SluiceCore
import SluiceCrypto
import SluiceEngine

/// How `MediaFetcher` downloads and when it gives up.
public struct MediaFetcherConfiguration: Sendable {
    /// Downloads at a time.
    public var concurrency = 4
    /// Attempts before a download is given up and reported failed (1, 2, 4, 8, 16 s apart:
    /// about half a minute, while the contact's later events wait).
    public var attemptsMax: UInt32 = 6
    public var backoffFirstMilliseconds: Int64 = 1_000
    public var backoffMaxMilliseconds: Int64 = 30_000
    /// The media node's answer (`GET /{media-id}`).
    public var metadataTimeoutMilliseconds: Int64 = 10_000
    /// The whole download (100 MB at 1 MB/s with room to spare).
    public var downloadTimeoutMilliseconds: Int64 = 300_000
    /// Pause between looks at the journal when nothing is due.
    public var pollIntervalMilliseconds: Int64 = 200
    /// PEM CA bundle for the Graph API (a private CA, the mock); nil: the system's.
    public var caFile: String?

    public init() {}

    /// A client for the Graph API's media endpoints, trusting `caFile` when given.
    func makeClient(redirects: HTTPClient.Configuration.RedirectConfiguration, readTimeout: TimeAmount) -> HTTPClient {
        var tls = TLSConfiguration.makeClientConfiguration()
        if let ca = caFile { tls.trustRoots = .file(ca) }
        var http = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: redirects, timeout: .init(connect: .seconds(10), read: readTimeout))
        http.httpVersion = .automatic
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: http)
    }
}

/// Downloads the media of incoming messages into the media volume: for each pending
/// record, `GET /{media-id}` with the number's token gives a short-lived url, size, type
/// and SHA-256; the file is refused if it is larger than Meta's limit for its kind or its
/// bytes are not what Meta described, and otherwise stored and journaled. Failures are
/// retried with exponential, jittered backoff; after `attemptsMax` the record is `failed`
/// with the reason, and the message's event carries it.
public final class MediaFetcher: Service, Sendable {
    let dispatcher: Dispatcher
    let configuration: MediaFetcherConfiguration
    let logger: Logger
    private let client: HTTPClient
    /// Media ids being downloaded now.
    private let active = Locked<Set<String>>([])

    public init(dispatcher: Dispatcher, configuration: MediaFetcherConfiguration = .init(), logger: Logger = Logger(label: "sluice.media")) {
        self.dispatcher = dispatcher
        self.configuration = configuration
        self.logger = logger
        client = configuration.makeClient(redirects: .follow(max: 3, allowCycles: false), readTimeout: .seconds(30))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
        try await client.shutdown()
    }

    func loop() async {
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let free = configuration.concurrency - active.withLock { $0.count }
                var wait = configuration.pollIntervalMilliseconds
                if free > 0 {
                    do {
                        let (due, next) = try dispatcher.dueMedia(limit: configuration.concurrency * 2)
                        for record in due.prefix(free) where active.withLock({ $0.insert(record.id).inserted }) {
                            group.addTask {
                                await self.attempt(record)
                                self.active.withLock { _ = $0.remove(record.id) }
                            }
                        }
                        if let next { wait = min(wait, max(10, next - dispatcher.clock.wallMilliseconds())) }
                    } catch {
                        logger.error("reading pending media failed: \(error)")
                    }
                }
                try? await Task.sleep(for: .milliseconds(wait))
            }
        }
    }

    /// Why an attempt failed; `permanent` ones are not tried again.
    struct Problem: Error {
        var reason: String
        var permanent: Bool
    }

    /// One download of `record`, journaled whatever its outcome.
    func attempt(_ record: MediaRecord) async {
        let attempts = record.attempts + 1
        do {
            try await download(record)
            logger.debug("media \(record.id) stored")
            return
        } catch let problem as Problem {
            await settleFailure(record, attempts: attempts, problem)
        } catch {
            await settleFailure(record, attempts: attempts, Problem(reason: "\(error)", permanent: false))
        }
    }

    private func settleFailure(_ record: MediaRecord, attempts: UInt32, _ problem: Problem) async {
        // Cut short by shutdown: still pending, tried again after the restart.
        if Task.isCancelled { return }
        let now = dispatcher.clock.wallMilliseconds()
        let settlement: MediaSettlement
        if problem.permanent || attempts >= configuration.attemptsMax {
            logger.warning("media \(record.id) of \(record.senderPhoneNumberID) not stored after \(attempts) attempt(s): \(problem.reason)")
            settlement = .failed(id: record.id, attempts: attempts, error: problem.reason, atMilliseconds: now)
        } else {
            let envelope = min(configuration.backoffMaxMilliseconds, configuration.backoffFirstMilliseconds << Int64(min(attempts - 1, 20)))
            let delay = envelope / 2 + Int64.random(in: 0...(envelope / 2))
            settlement = .retry(id: record.id, attempts: attempts, nextAttemptMilliseconds: now + delay, error: problem.reason)
        }
        do {
            try await dispatcher.settleMedia([settlement])
        } catch {
            logger.error("journaling the download of media \(record.id) failed: \(error)")
        }
    }

    /// Meta's description of a media file (`GET /{media-id}`).
    struct Description {
        var url: String
        var mimeType: String?
        /// Lowercase hex.
        var sha256: String?
        var size: Int64?
    }

    func download(_ record: MediaRecord) async throws {
        guard let sender = try dispatcher.sender(phoneNumberID: record.senderPhoneNumberID) else {
            throw Problem(reason: "sender \(record.senderPhoneNumberID) is no longer registered: no token to fetch the media with", permanent: true)
        }
        let limit = record.kind.bytesMax
        let description = try await describe(record, token: sender.accessToken)
        if let size = description.size, size > limit {
            throw Problem(reason: "Meta describes \(size) bytes, more than the \(limit)-byte limit for \(record.kind.rawValue); not downloaded", permanent: true)
        }
        var request = HTTPClientRequest(url: description.url)
        request.headers.add(name: "Authorization", value: "Bearer \(sender.accessToken)")
        request.headers.add(name: "User-Agent", value: "sluice")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .milliseconds(configuration.downloadTimeoutMilliseconds))
        } catch {
            throw Problem(reason: "downloading from the media url failed: \(error)", permanent: false)
        }
        guard response.status.code == 200 else {
            _ = try? await response.body.collect(upTo: 4_096)
            // A url expires after minutes: the next attempt asks for a new one.
            throw Problem(reason: "the media url answered HTTP \(response.status.code)", permanent: false)
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length > limit {
            throw Problem(reason: "the download is \(length) bytes, more than the \(limit)-byte limit for \(record.kind.rawValue); refused", permanent: true)
        }
        let file = try dispatcher.mediaVolume.create()
        do {
            for try await chunk in response.body {
                guard file.size + Int64(chunk.readableBytes) <= limit else {
                    throw Problem(reason: "the download passed the \(limit)-byte limit for \(record.kind.rawValue); refused", permanent: true)
                }
                try chunk.withUnsafeReadableBytes { try file.write($0) }
            }
        } catch let problem as Problem {
            file.discard()
            throw problem
        } catch {
            file.discard()
            throw Problem(reason: "the download broke off after \(file.size) bytes: \(error)", permanent: false)
        }
        let digest = file.finishDigest()
        if let size = description.size, size != file.size {
            file.discard()
            throw Problem(reason: "the download is \(file.size) bytes where Meta described \(size); refused", permanent: true)
        }
        if let expected = description.sha256, expected != digest {
            file.discard()
            throw Problem(reason: "the download's SHA-256 is \(digest) where Meta described \(expected); refused", permanent: true)
        }
        let mime = description.mimeType ?? (record.mimeType.isEmpty ? "application/octet-stream" : record.mimeType)
        do {
            try await dispatcher.storeMedia(file, id: record.id, sha256: digest, mimeType: mime)
        } catch {
            file.discard()
            throw Problem(reason: "storing the download failed: \(error)", permanent: false)
        }
    }

    func describe(_ record: MediaRecord, token: String) async throws -> Description {
        var request = HTTPClientRequest(
            url: dispatcher.configuration.mediaURL(mediaID: record.id) + "?phone_number_id=" + record.senderPhoneNumberID)
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.headers.add(name: "User-Agent", value: "sluice")
        let body: ByteBuffer
        let status: UInt
        do {
            let response = try await client.execute(request, timeout: .milliseconds(configuration.metadataTimeoutMilliseconds))
            status = response.status.code
            body = try await response.body.collect(upTo: 64 * 1024)
        } catch {
            throw Problem(reason: "asking Meta for the media failed: \(error)", permanent: false)
        }
        return try Self.description(status: status, body: Array(body.readableBytesView), allowsHTTP: dispatcher.configuration.graphURL.lowercased().hasPrefix("http:"))
    }

    /// Meta's answer to `GET /{media-id}`, judged: the download url (https, or http only
    /// when the Graph API itself is reached over http), a MIME type safe to serve, a
    /// SHA-256 as lowercase hex, a size that is not negative. Pure: fuzzed as
    /// `FuzzMediaDescription`.
    static func description(status: UInt, body: [UInt8], allowsHTTP: Bool) throws(Problem) -> Description {
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        guard status == 200 else {
            let error = object?["error"] as? [String: Any]
            let code = (error?["code"] as? NSNumber)?.intValue
            let text = (error?["message"] as? String).map { ": \($0)" } ?? ""
            // 400 and 404: the id is unknown or expired (Meta keeps them 7 days) — asking
            // again will not help. Token, rate and server errors may pass.
            throw Problem(
                reason: "Meta answered HTTP \(status)\(code.map { " (code \($0))" } ?? "")\(text)",
                permanent: status == 400 || status == 404)
        }
        guard let object, let url = object["url"] as? String, let parsed = URL(string: url), let scheme = parsed.scheme?.lowercased(),
            parsed.host?.isEmpty == false, scheme == "https" || (scheme == "http" && allowsHTTP)
        else {
            throw Problem(reason: "Meta's description of the media has no usable url", permanent: false)
        }
        var size: Int64?
        if let value = object["file_size"] {
            // A number, or its digits as a string; a fraction or a negative size is nobody's file.
            if let number = value as? NSNumber, let exact = Int64(exactly: number.doubleValue), exact >= 0, !(value is Bool) {
                size = exact
            } else if let text = value as? String, let parsedSize = Int64(text), parsedSize >= 0 {
                size = parsedSize
            } else {
                throw Problem(reason: "Meta's description of the media has a file_size that is not a size", permanent: false)
            }
        }
        let mime = (object["mime_type"] as? String).flatMap { MIMEType.isValid($0) ? $0 : nil }
        return Description(url: url, mimeType: mime, sha256: (object["sha256"] as? String).flatMap(Self.hexSHA256), size: size)
    }

    /// A SHA-256 as lowercase hex, from hex or base64 (webhooks give base64).
    static func hexSHA256(_ text: String) -> String? {
        if text.utf8.count == 64, text.utf8.allSatisfy({ $0.isHexDigit }) { return text.lowercased() }
        guard let data = Data(base64Encoded: text), data.count == 32 else { return nil }
        return Hex.encode(data)
    }
}

extension UInt8 {
    fileprivate var isHexDigit: Bool { (48...57).contains(self) || (65...70).contains(self) || (97...102).contains(self) }
}
