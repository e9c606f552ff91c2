/// What the transport reports for one send request. The transport constructs it; the
/// `OutcomePolicy` turns it into a journal transition and a sender effect.
public enum SendResult: Sendable, Equatable {
    /// WhatsApp accepted the message and returned its id.
    case accepted(wamid: String)
    /// A WhatsApp error body: `error.code` and `error.message`, with the HTTP status.
    case rejected(httpStatus: Int, code: Int, message: String)
    /// An HTTP error without a decodable error body.
    case httpError(httpStatus: Int)
    /// Failed before the request was written (connect, TLS, DNS): certainly not sent.
    case notSent(reason: String)
    /// The endpoint's TLS certificate was not trusted: certainly not sent, and no retry
    /// helps until the trust store (`--ca-file`) or the endpoint is fixed.
    case untrusted(reason: String)
    /// May have reached WhatsApp (timeout after the body was sent, connection lost before
    /// the response). Never resent blindly: there is no idempotency key in the API.
    case inDoubt(reason: String)
}
