import Hummingbird

/// `GET /{version}/{phone_number_id}`: the number's own node, as the Graph API answers
/// it to the number's token. The dispatcher's warm start reads it to open connections
/// before a campaign needs them. Checked like a send (token, id) but not counted
/// against the tier: reads are not messages. Answered reads are counted per number.
/// The same path names a media node when the id is one the media store holds.
struct PhoneNumberRoute: Sendable {
    static let path: RouterPath = "/:version/:phoneNumberID"

    let book: SenderBook
    let media: MockMediaRoutes

    func register(on router: Router<MockRequestContext>) {
        router.get(Self.path) { request, context in
            handle(request, rawID: context.parameters.get("phoneNumberID") ?? "")
        }
    }

    func handle(_ request: Request, rawID: String) -> Response {
        if let item = media.store.item(rawID) { return media.describe(request, item: item) }
        guard SendRequestValidator.isPhoneNumberID(rawID[...]) else {
            let error = MetaError.invalidParameter("phone_number_id", "Unsupported get request. Object with ID '\(rawID.prefix(64))' does not exist.")
            book.noteError(code: error.code, phoneNumberID: nil)
            return error.response
        }
        guard let authorization = request.headers[.authorization], let token = SendRoute.bearerToken(authorization) else {
            book.noteError(code: MetaError.invalidAccessToken().code, phoneNumberID: rawID)
            return MetaError.invalidAccessToken().response
        }
        guard book.authorizes(phoneNumberID: rawID, token: token) else {
            let error = MetaError.accessTokenRejected(phoneNumberID: rawID)
            book.noteError(code: error.code, phoneNumberID: rawID)
            return error.response
        }
        book.notePhoneNumberRead(rawID)
        var bytes = Array(#"{"verified_name":"Sluice Mock","display_phone_number":"#.utf8)
        JSONText.appendString("+" + MockDisplayNumber.of(rawID), to: &bytes)
        bytes.append(contentsOf: #","quality_rating":"GREEN","throughput":{"level":"STANDARD"},"id":"#.utf8)
        JSONText.appendString(rawID, to: &bytes)
        bytes.append(UInt8(ascii: "}"))
        return JSONResponse.make(status: .ok, bytes: bytes)
    }
}
