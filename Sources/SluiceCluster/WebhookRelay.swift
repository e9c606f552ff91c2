import AsyncHTTPClient
import Foundation
import NIOCore

/// What a node needs to pass a webhook on: who it is, the cluster's secret, where each
/// live node is reached, and who holds each number. A snapshot of the agent's last round.
public struct ClusterDirectory: Sendable, Equatable {
    public var nodeID: String
    public var token: String
    /// node id → API base URL, for the nodes alive in etcd.
    public var urls: [String: String]
    /// phone_number_id → node id.
    public var holders: [String: String]

    public init(nodeID: String, token: String, urls: [String: String], holders: [String: String]) {
        self.nodeID = nodeID
        self.token = token
        self.urls = urls
        self.holders = holders
    }
}

/// Where a webhook route finds the directory; nil until this node has joined.
public protocol ClusterDirectorySource: Sendable {
    func directory() async -> ClusterDirectory?
}

/// Passes a WhatsApp webhook that reached this node on to the node it concerns: the
/// original body with its `X-Hub-Signature-256`, so the other node checks it as WhatsApp
/// sent it, plus the cluster's secret and which of its parts that node takes
/// (`Sluice-Numbers`: the numbers whose messages and account changes it records; statuses
/// it takes by the node named in their callback data). A passed-on webhook is never
/// passed on again.
public struct WebhookRelay: Sendable {
    public static let forwardedFromHeader = "Sluice-Forwarded-From"
    public static let numbersHeader = "Sluice-Numbers"
    /// Set on a whole body handed to a number's holder because this node does not have
    /// the number: the holder routes it, but never hands it on again.
    public static let relayedByHeader = "Sluice-Relayed-By"

    public struct Answer: Sendable {
        public var status: Int
        public var body: [UInt8]
    }

    public struct Unreachable: Error, CustomStringConvertible {
        public var node: String
        public var reason: String
        public var description: String { "node \(node): \(reason)" }
    }

    let http: HTTPClient
    /// Well within the time WhatsApp waits for an answer.
    var timeout: TimeAmount

    public init(http: HTTPClient = .shared, timeout: TimeAmount = .seconds(3)) {
        self.http = http
        self.timeout = timeout
    }

    /// Gives `node` its part of the webhook and returns its answer; throws `Unreachable`
    /// when the node is not known alive or does not answer.
    public func forward(
        body: [UInt8], signature: String?, to node: String, numbers: Set<String>, directory: ClusterDirectory
    ) async throws -> Answer {
        var request = try request(body: body, signature: signature, to: node, directory: directory)
        request.headers.add(name: "Authorization", value: "Bearer " + directory.token)
        request.headers.add(name: Self.forwardedFromHeader, value: directory.nodeID)
        request.headers.add(name: Self.numbersHeader, value: numbers.sorted().joined(separator: ","))
        return try await execute(request, node: node)
    }

    /// Hands the whole webhook to `node` (the holder of a number this node lacks), which
    /// routes it as if WhatsApp had sent it there.
    public func relay(body: [UInt8], signature: String?, to node: String, directory: ClusterDirectory) async throws -> Answer {
        var request = try request(body: body, signature: signature, to: node, directory: directory)
        request.headers.add(name: Self.relayedByHeader, value: directory.nodeID)
        return try await execute(request, node: node)
    }

    private func request(body: [UInt8], signature: String?, to node: String, directory: ClusterDirectory) throws -> HTTPClientRequest {
        guard let base = directory.urls[node] else { throw Unreachable(node: node, reason: "not alive in the cluster (no lease) or no address published") }
        var request = HTTPClientRequest(url: (base.hasSuffix("/") ? String(base.dropLast()) : base) + "/webhooks/whatsapp")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let signature { request.headers.add(name: "X-Hub-Signature-256", value: signature) }
        request.body = .bytes(ByteBuffer(bytes: body))
        return request
    }

    private func execute(_ request: HTTPClientRequest, node: String) async throws -> Answer {
        do {
            let response = try await http.execute(request, timeout: timeout)
            let answer = try await response.body.collect(upTo: 1 << 20)
            return Answer(status: Int(response.status.code), body: Array(answer.readableBytesView))
        } catch {
            throw Unreachable(node: node, reason: "\(error)")
        }
    }
}
