import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import SluiceCore
import SluiceEngine
#if canImport(Glibc)
import Glibc
#endif

/// Uploads files of the media volume for the numbers that send them, as the dispatch loop
/// asks (`Dispatcher.mediaUploadRequests`): `POST /{phone-number-id}/media`, multipart
/// (`messaging_product`, `type`, `file`), with the number's token. Meta's answer `{"id"}`
/// is journaled with its expiry and the campaigns waiting for it go. Network errors,
/// 429 and 5xx are tried again with backoff; a refusal (4xx) or the last attempt fails
/// the upload, and the loop pauses the campaigns that needed it, with the reason.
public final class MediaUploader: Service, Sendable {
    let dispatcher: Dispatcher
    let configuration: MediaFetcherConfiguration
    let logger: Logger
    private let client: HTTPClient
    /// Attempts per upload (1, 2 s apart: a refused file is refused again).
    static let attemptsMax = 3
    /// Uploads at a time.
    static let concurrency = 2
    /// Meta's answer is small; anything longer is not it.
    static let answerBytesMax = 64 * 1024

    public init(dispatcher: Dispatcher, configuration: MediaFetcherConfiguration = .init(), logger: Logger = Logger(label: "sluice.media")) {
        self.dispatcher = dispatcher
        self.configuration = configuration
        self.logger = logger
        client = configuration.makeClient(redirects: .disallow, readTimeout: .seconds(60))
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown { await self.loop() }
        try await client.shutdown()
    }

    func loop() async {
        let slots = AsyncGate(permits: Self.concurrency)
        await withDiscardingTaskGroup { group in
            for await request in dispatcher.mediaUploadRequests {
                group.addTask { await slots.withGate { await self.upload(request) } }
            }
        }
    }

    /// Why an attempt failed; `permanent` ones are not tried again.
    struct Problem: Error {
        var reason: String
        var permanent: Bool
    }

    func upload(_ request: MediaUploadRequest) async {
        var attempt = 0
        while true {
            attempt += 1
            do {
                let upload = try await attemptUpload(request)
                try await dispatcher.recordMediaUpload(upload)
                logger.info("media \(request.media) uploaded for sender \(request.sender) as \(upload.metaID)")
                return
            } catch let problem as Problem {
                if Task.isCancelled { return }
                if problem.permanent || attempt >= Self.attemptsMax {
                    dispatcher.mediaUploadFailed(request, reason: problem.reason)
                    return
                }
                logger.warning("uploading media \(request.media) for sender \(request.sender) failed (attempt \(attempt)): \(problem.reason)")
            } catch {
                if Task.isCancelled { return }
                if attempt >= Self.attemptsMax {
                    dispatcher.mediaUploadFailed(request, reason: "\(error)")
                    return
                }
            }
            try? await Task.sleep(for: .milliseconds(configuration.backoffFirstMilliseconds << Int64(attempt - 1)))
        }
    }

    func attemptUpload(_ request: MediaUploadRequest) async throws -> MediaUpload {
        guard let sender = try dispatcher.sender(id: request.sender) else {
            throw Problem(reason: "the sender is no longer registered", permanent: true)
        }
        guard let record = try dispatcher.media(id: request.media), record.isUpload, record.state == .stored,
            dispatcher.mediaVolume.contains(sha256: record.sha256)
        else {
            throw Problem(reason: "media \(request.media) is no longer kept", permanent: true)
        }
        let boundary = "sluice-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let body = MultipartFileBody(
            boundary: boundary, mimeType: record.mimeType, fileName: record.id,
            path: dispatcher.mediaVolume.path(sha256: record.sha256), size: record.size)
        var http = HTTPClientRequest(url: dispatcher.configuration.mediaUploadURL(phoneNumberID: sender.phoneNumberID))
        http.method = .POST
        http.headers.add(name: "Authorization", value: "Bearer \(sender.accessToken)")
        http.headers.add(name: "Content-Type", value: "multipart/form-data; boundary=\(boundary)")
        http.body = .stream(body, length: .known(body.length))
        let started = dispatcher.clock.wallMilliseconds()
        let response: HTTPClientResponse
        let answer: ByteBuffer
        do {
            response = try await client.execute(http, timeout: .milliseconds(configuration.downloadTimeoutMilliseconds))
            answer = try await response.body.collect(upTo: Self.answerBytesMax)
        } catch {
            throw Problem(reason: "the upload did not complete: \(error)", permanent: false)
        }
        let object = try? JSONSerialization.jsonObject(with: Data(answer.readableBytesView)) as? [String: Any]
        guard response.status == .ok else {
            let status = response.status.code
            var reason = "WhatsApp answered HTTP \(status)"
            if let error = object?["error"] as? [String: Any] {
                if let code = error["code"] { reason += ", error \(code)" }
                if let message = error["message"] as? String { reason += ": \(message.prefix(300))" }
            }
            throw Problem(reason: reason, permanent: status != 429 && status < 500)
        }
        guard let metaID = object?["id"] as? String, !metaID.isEmpty, metaID.utf8.count <= 200 else {
            throw Problem(reason: "WhatsApp's answer to the upload has no media id", permanent: false)
        }
        return MediaUpload(
            media: record.id, sender: sender.id, metaID: metaID, uploadedMilliseconds: started,
            expiresMilliseconds: started + dispatcher.configuration.mediaUploadLifetimeMilliseconds)
    }
}

/// A multipart form of `messaging_product`, `type` and the file, streamed from the media
/// volume in 64 KiB chunks so that a 100 MB document is never held whole.
struct MultipartFileBody: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let head: [UInt8]
    let tail: [UInt8]
    let path: String
    let size: Int64

    init(boundary: String, mimeType: String, fileName: String, path: String, size: Int64) {
        var head = "--\(boundary)\r\nContent-Disposition: form-data; name=\"messaging_product\"\r\n\r\nwhatsapp\r\n"
        head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"type\"\r\n\r\n\(mimeType)\r\n"
        head += "--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(fileName)\"\r\nContent-Type: \(mimeType)\r\n\r\n"
        self.head = Array(head.utf8)
        self.tail = Array("\r\n--\(boundary)--\r\n".utf8)
        self.path = path
        self.size = size
    }

    var length: Int64 { Int64(head.count) + size + Int64(tail.count) }

    func makeAsyncIterator() -> Iterator { Iterator(body: self) }

    final class Iterator: AsyncIteratorProtocol {
        static let chunkBytes = 64 * 1024
        let body: MultipartFileBody
        var stage = 0
        var fd: Int32 = -1
        var sent: Int64 = 0

        init(body: MultipartFileBody) { self.body = body }

        deinit { if fd >= 0 { close(fd) } }

        func next() async throws -> ByteBuffer? {
            switch stage {
            case 0:
                stage = 1
                fd = open(body.path, O_RDONLY | O_CLOEXEC)
                guard fd >= 0 else { throw MediaUploadError(description: "cannot open \(body.path): \(String(cString: strerror(errno)))") }
                return ByteBuffer(bytes: body.head)
            case 1:
                var buffer = ByteBufferAllocator().buffer(capacity: Self.chunkBytes)
                let n = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: Self.chunkBytes) { raw in
                    var got = 0
                    repeat { got = read(fd, raw.baseAddress!, Self.chunkBytes) } while got < 0 && errno == EINTR
                    return Swift.max(got, 0)
                }
                if n > 0 {
                    sent += Int64(n)
                    guard sent <= body.size else { throw MediaUploadError(description: "\(body.path) grew while it was uploaded") }
                    return buffer
                }
                guard sent == body.size else { throw MediaUploadError(description: "\(body.path) has \(sent) of \(body.size) bytes") }
                close(fd)
                fd = -1
                stage = 2
                return ByteBuffer(bytes: body.tail)
            default:
                return nil
            }
        }
    }
}
