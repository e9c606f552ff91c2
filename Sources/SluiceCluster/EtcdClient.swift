import AsyncHTTPClient
import Foundation
import NIOCore

/// etcd v3 through its HTTP/JSON gateway (`/v3/…`; keys and values base64, 64-bit
/// numbers as strings): the few calls cluster membership and ownership need. Each call
/// tries the endpoints in turn and fails with `EtcdError` when none answers in time.
public struct EtcdClient: Sendable {
    public let endpoints: [String]
    let http: HTTPClient
    let timeout: TimeAmount

    public init(endpoints: [String], http: HTTPClient = .shared, requestTimeoutMilliseconds: Int64) {
        precondition(!endpoints.isEmpty, "etcd needs an endpoint")
        self.endpoints = endpoints.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.http = http
        self.timeout = .milliseconds(requestTimeoutMilliseconds)
    }

    public struct KeyValue: Sendable, Equatable {
        public var key: String
        public var value: [UInt8]
        public var createRevision: Int64
        public var modRevision: Int64
        public var lease: Int64
    }

    /// A lease of `ttlSeconds`; its id.
    public func grantLease(ttlSeconds: Int) async throws(EtcdError) -> Int64 {
        let answer = try await post("/v3/lease/grant", ["TTL": String(ttlSeconds)])
        guard let id = Self.int(answer["ID"]), id != 0 else { throw EtcdError("lease/grant answered no lease: \(answer)") }
        return id
    }

    /// Renews the lease; its TTL in seconds from now, 0 when it has expired.
    public func keepAlive(_ lease: Int64) async throws(EtcdError) -> Int {
        let answer = try await post("/v3/lease/keepalive", ["ID": String(lease)])
        let result = answer["result"] as? [String: Any] ?? answer
        return Int(Self.int(result["TTL"]) ?? 0)
    }

    /// Ends the lease at once: the keys under it go.
    public func revokeLease(_ lease: Int64) async throws(EtcdError) {
        _ = try await post("/v3/lease/revoke", ["ID": String(lease)])
    }

    /// Puts `key` under `lease` (0: none), whether or not it exists. Returns the revision
    /// it was written at (0 if etcd did not say).
    @discardableResult
    public func put(_ key: String, _ value: [UInt8], lease: Int64) async throws(EtcdError) -> Int64 {
        let answer = try await post("/v3/kv/put", ["key": Self.base64(key), "value": Data(value).base64EncodedString(), "lease": String(lease)])
        return Self.int((answer["header"] as? [String: Any])?["revision"]) ?? 0
    }

    /// Creates `key` under `lease` only if it does not exist (`create_revision == 0`, in
    /// one transaction). Nil when it was created; otherwise the holder's entry.
    public func createIfAbsent(_ key: String, _ value: [UInt8], lease: Int64) async throws(EtcdError) -> (created: Bool, entry: KeyValue?) {
        let k = Self.base64(key)
        let answer = try await post("/v3/kv/txn", [
            "compare": [["key": k, "target": "CREATE", "create_revision": "0"]],
            "success": [["request_put": ["key": k, "value": Data(value).base64EncodedString(), "lease": String(lease)]]],
            "failure": [["request_range": ["key": k]]],
        ])
        if answer["succeeded"] as? Bool == true { return (true, nil) }
        let responses = answer["responses"] as? [[String: Any]] ?? []
        let range = responses.first?["response_range"] as? [String: Any] ?? [:]
        return (false, try Self.keyValues(range).first)
    }

    /// Every key under `prefix`.
    public func range(prefix: String) async throws(EtcdError) -> [KeyValue] {
        var end = Array(prefix.utf8)
        end[end.count - 1] &+= 1
        let answer = try await post("/v3/kv/range", ["key": Self.base64(prefix), "range_end": Data(end).base64EncodedString()])
        return try Self.keyValues(answer)
    }

    /// Deletes `key`.
    public func delete(_ key: String) async throws(EtcdError) {
        _ = try await post("/v3/kv/deleterange", ["key": Self.base64(key)])
    }

    /// Deletes `key` if it is still the one created at `createRevision` (not a later holder's).
    public func deleteIf(_ key: String, createRevision: Int64) async throws(EtcdError) {
        let k = Self.base64(key)
        _ = try await post("/v3/kv/txn", [
            "compare": [["key": k, "target": "CREATE", "create_revision": String(createRevision)]],
            "success": [["request_delete_range": ["key": k]]],
        ])
    }

    // MARK: Wire

    func post(_ path: String, _ body: [String: Any]) async throws(EtcdError) -> [String: Any] {
        let bytes: Data
        do { bytes = try JSONSerialization.data(withJSONObject: body) } catch { throw EtcdError("\(path): \(error)") }
        var reasons: [String] = []
        for endpoint in endpoints {
            var request = HTTPClientRequest(url: endpoint + path)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: bytes))
            do {
                let response = try await http.execute(request, timeout: timeout)
                let answer = try await response.body.collect(upTo: 16 << 20)
                let object = (try? JSONSerialization.jsonObject(with: Data(answer.readableBytesView))) as? [String: Any]
                guard response.status.code == 200, let object else {
                    reasons.append("\(endpoint): HTTP \(response.status.code) \(String(buffer: answer).prefix(200))")
                    continue
                }
                if let error = object["error"] { throw EtcdError("\(endpoint)\(path): \(error)") }
                return object
            } catch let error as EtcdError {
                throw error
            } catch {
                reasons.append("\(endpoint): \(error)")
            }
        }
        throw EtcdError("\(path): no etcd endpoint answered (\(reasons.joined(separator: "; ")))")
    }

    static func base64(_ text: String) -> String { Data(text.utf8).base64EncodedString() }

    /// etcd's 64-bit numbers arrive as strings.
    static func int(_ value: Any?) -> Int64? {
        if let text = value as? String { return Int64(text) }
        return (value as? NSNumber)?.int64Value
    }

    static func keyValues(_ answer: [String: Any]) throws(EtcdError) -> [KeyValue] {
        var out: [KeyValue] = []
        for item in answer["kvs"] as? [[String: Any]] ?? [] {
            guard let key = (item["key"] as? String).flatMap({ Data(base64Encoded: $0) }) else { throw EtcdError("a key that is not base64: \(item)") }
            let value = (item["value"] as? String).flatMap { Data(base64Encoded: $0) } ?? Data()
            out.append(KeyValue(
                key: String(decoding: key, as: UTF8.self), value: Array(value), createRevision: int(item["create_revision"]) ?? 0,
                modRevision: int(item["mod_revision"]) ?? 0, lease: int(item["lease"]) ?? 0))
        }
        return out
    }
}

public struct EtcdError: Error, Sendable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
