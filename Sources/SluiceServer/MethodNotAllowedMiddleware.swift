import Hummingbird

/// Turns the router's 404 for a path that is routed, but not for the request's method,
/// into 405 `method_not_allowed` with `Allow` naming the methods it has (RFC 9110 15.5.6).
/// Added to the router after every route, so it wraps only the not-found answer.
struct MethodNotAllowedMiddleware<Context: RequestContext>: RouterMiddleware {
    /// Each routed path as segments (nil: a `{parameter}`) with its methods.
    let routes: [(segments: [Substring?], methods: [String])]

    init(routes: [(path: String, method: HTTPRequest.Method)]) {
        var byPath: [String: [String]] = [:]
        for route in routes { byPath[route.path, default: []].append(route.method.rawValue) }
        self.routes = byPath.map { path, methods in
            (path.split(separator: "/").map { $0.hasPrefix("{") ? nil : $0 }, methods.sorted())
        }
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            let segments = request.uri.path.split(separator: "/")
            // The most specific match: `/v1/keys/current` is its own route, not `{id}`.
            let matching = routes.filter { route in
                route.segments.count == segments.count && zip(route.segments, segments).allSatisfy { $0 == nil || $0 == $1 }
            }
            guard let route = matching.min(by: { $0.segments.count { $0 == nil } < $1.segments.count { $0 == nil } }) else { throw error }
            let allowed = route.methods.joined(separator: ", ")
            var response = try APIError(
                .methodNotAllowed, code: .methodNotAllowed,
                message: "\(request.method) is not allowed on \(request.uri.path); allowed: \(allowed)"
            ).response(from: request, context: context)
            response.headers[.allow] = allowed
            return response
        }
    }
}
