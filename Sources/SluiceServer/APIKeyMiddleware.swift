import Hummingbird
import SluiceCore

/// Admits a request whose API key holds `scope` (or one of `alternatives`; any valid key
/// when `scope` is nil): 401 (JSON) without a valid key, 403 (JSON, naming the scope) for
/// a key without it.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let keys: APIKeyStore
    let scope: APIKeyScope?
    var alternatives: Set<APIKeyScope> = []

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let caller = try keys.authenticate(authorizationHeader: request.headers[.authorization])
        guard let scope else { return try await next(request, context) }
        guard caller.scopes.contains(scope) || !caller.scopes.isDisjoint(with: alternatives) else {
            throw APIError(
                .forbidden, code: .insufficientScope,
                message: "\(caller.name) lacks the '\(scope.rawValue)' scope, which \(request.method) \(request.uri.path) requires")
        }
        return try await next(request, context)
    }
}
