import CCurl
import SluiceCore

/// Maps a finished (or aborted) transfer to a ``SendResult``. WhatsApp has no idempotency
/// key, so anything that may have reached it is `.inDoubt`, never `.notSent`.
enum TransferClassifier {
    /// Failures that happen before a single byte of the request is written.
    static let beforeSendCodes: Set<UInt32> = [
        CURLE_UNSUPPORTED_PROTOCOL, CURLE_FAILED_INIT, CURLE_URL_MALFORMAT,
        CURLE_COULDNT_RESOLVE_PROXY, CURLE_COULDNT_RESOLVE_HOST, CURLE_COULDNT_CONNECT,
        CURLE_SSL_CONNECT_ERROR, CURLE_PEER_FAILED_VERIFICATION, CURLE_SSL_CACERT_BADFILE,
        CURLE_SSL_CERTPROBLEM, CURLE_SSL_CIPHER, CURLE_SSL_ENGINE_NOTFOUND, CURLE_SSL_ENGINE_SETFAILED,
        CURLE_SSL_ENGINE_INITFAILED, CURLE_SSL_ISSUER_ERROR, CURLE_SSL_PINNEDPUBKEYNOTMATCH,
        CURLE_SSL_INVALIDCERTSTATUS, CURLE_SSL_CRL_BADFILE, CURLE_SSL_SHUTDOWN_FAILED,
    ].reduce(into: []) { $0.insert($1.rawValue) }

    /// - Parameters:
    ///   - requestBytes: `CURLINFO_REQUEST_SIZE`, reset to 0 when a transfer starts and
    ///     counted once the request head is handed to the connection (HTTP/1.1 socket or
    ///     HTTP/2 stream). Zero means WhatsApp cannot have seen the request.
    static func failure(code: CURLcode, requestBytes: Int, detail: String) -> SendResult {
        let reason = "curl \(code.rawValue): \(detail)"
        if beforeSendCodes.contains(code.rawValue) || requestBytes == 0 {
            return .notSent(reason: reason)
        }
        // OPERATION_TIMEDOUT, SEND_ERROR, RECV_ERROR, GOT_NOTHING, HTTP2(_STREAM),
        // PARTIAL_FILE, WRITE_ERROR, …: the request may have been read by WhatsApp.
        return .inDoubt(reason: reason)
    }

    static func message(for code: CURLcode) -> String {
        String(cString: curl_easy_strerror(code))
    }
}
