import AsyncHTTPClient
import NIOCore

/// Calls from one node to the others' `/cluster/…` routes, with the cluster's secret: what
/// a campaign given to this node became on the nodes it was handed to.
public struct PeerCalls: Sendable {
    let http: HTTPClient
    /// An operator's request waits for the slowest node: short.
    var timeout: TimeAmount

    public init(http: HTTPClient = .shared, timeout: TimeAmount = .seconds(3)) {
        self.http = http
        self.timeout = timeout
    }

    /// `GET path` (`POST`, with `post`) on every other live node at once; each node's
    /// answer, or why it gave none.
    public func everyOtherNode(
        post: Bool = false, _ path: String, directory: ClusterDirectory
    ) async -> [String: Result<WebhookRelay.Answer, WebhookRelay.Unreachable>] {
        await withTaskGroup(of: (String, Result<WebhookRelay.Answer, WebhookRelay.Unreachable>).self) { group in
            for node in directory.urls.keys where node != directory.nodeID {
                group.addTask {
                    do throws(WebhookRelay.Unreachable) {
                        return (node, .success(try await call(node, post: post, path, directory: directory)))
                    } catch { return (node, .failure(error)) }
                }
            }
            var answers: [String: Result<WebhookRelay.Answer, WebhookRelay.Unreachable>] = [:]
            for await (node, answer) in group { answers[node] = answer }
            return answers
        }
    }

    /// `GET path` on `node`, its body left to stream (within `timeout`, body included).
    public func open(_ node: String, _ path: String, directory: ClusterDirectory) async throws(WebhookRelay.Unreachable) -> HTTPClientResponse {
        let request = try request(node, path, directory: directory)
        do { return try await http.execute(request, timeout: timeout) } catch {
            throw WebhookRelay.Unreachable(node: node, reason: "\(error)")
        }
    }

    /// `GET path` (`POST`, with `post`) on `node`: its answer, whatever its status.
    public func call(
        _ node: String, post: Bool = false, _ path: String, body: [UInt8]? = nil, headers: [String: String] = [:], directory: ClusterDirectory
    ) async throws(WebhookRelay.Unreachable) -> WebhookRelay.Answer {
        var request = try request(node, path, directory: directory)
        request.method = post ? .POST : .GET
        for (name, value) in headers.sorted(by: { $0.key < $1.key }) { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(request, timeout: timeout)
            let body = try await response.body.collect(upTo: 16 << 20)
            return WebhookRelay.Answer(status: Int(response.status.code), body: Array(body.readableBytesView))
        } catch {
            throw WebhookRelay.Unreachable(node: node, reason: "\(error)")
        }
    }

    /// A request to `node`'s `path`, with the cluster's secret.
    private func request(_ node: String, _ path: String, directory: ClusterDirectory) throws(WebhookRelay.Unreachable) -> HTTPClientRequest {
        guard let base = directory.urls[node] else {
            throw WebhookRelay.Unreachable(node: node, reason: "not alive in the cluster (no lease) or no address published")
        }
        var request = HTTPClientRequest(url: (base.hasSuffix("/") ? String(base.dropLast()) : base) + path)
        request.headers.add(name: "Authorization", value: "Bearer " + directory.token)
        return request
    }
}
