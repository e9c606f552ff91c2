import CCurl
import SluiceCore

/// Maps a finished (or aborted) transfer to a ``SendResult``. WhatsApp has no idempotency
/// key, so anything that may have reached it is `.inDoubt`, never `.notSent`.
enum TransferClassifier {
    /// Failures of certificate verification: the endpoint is not the one we trust.
    static let untrustedCodes: Set<UInt32> = [
        CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE, CURLE_SSL_ISSUER_ERROR,
        CURLE_SSL_PINNEDPUBKEYNOTMATCH, CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    /// - Parameters:
    ///   - requestBytes: `CURLINFO_REQUEST_SIZE`, reset to 0 when a transfer starts and
    ///     counted once the request head is handed to the connection (HTTP/1.1 socket or
    ///     HTTP/2 stream). Zero means WhatsApp cannot have seen the request.
    static func failure(code: CURLcode, requestBytes: Int, detail: String) -> SendResult {
        let reason = "curl \(code.rawValue): \(detail)"
        if untrustedCodes.contains(code.rawValue) { return .untrusted(reason: reason) }
        // Nothing written: the endpoint cannot have seen it. Even a connect failure counts
        // as in doubt after bytes were written: libcurl retries a request on a fresh
        // connection when a reused one dies, and the endpoint may have read the first one
        // (seen when the endpoint stops mid-request).
        if requestBytes == 0 { return .notSent(reason: reason) }
        // OPERATION_TIMEDOUT, SEND_ERROR, RECV_ERROR, GOT_NOTHING, HTTP2(_STREAM),
        // PARTIAL_FILE, WRITE_ERROR, …: the request may have been read by WhatsApp.
        return .inDoubt(reason: reason)
    }

    static func message(for code: CURLcode) -> String {
        String(cString: curl_easy_strerror(code))
    }
}
