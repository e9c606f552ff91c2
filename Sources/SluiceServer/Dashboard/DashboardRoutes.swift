import Hummingbird
import NIOCore

/// The dashboard's page, with no key (it holds no secret; the page asks for one and sends
/// it with every API call): `GET /` redirects to `/ui/`, which serves `ui/index.html`;
/// `GET /ui/{file}` serves its script and style sheet. The files are embedded in the
/// binary, so the page works offline and loads nothing from elsewhere (its
/// Content-Security-Policy says so to the browser).
enum DashboardRoutes {
    struct File: Sendable {
        var contentType: String
        var body: ByteBuffer
    }

    static let index = File(contentType: "text/html; charset=utf-8", body: ByteBuffer(bytes: PackageResources.index_html))
    static let files: [String: File] = [
        "dashboard.js": File(contentType: "text/javascript; charset=utf-8", body: ByteBuffer(bytes: PackageResources.dashboard_js)),
        "dashboard.css": File(contentType: "text/css; charset=utf-8", body: ByteBuffer(bytes: PackageResources.dashboard_css)),
    ]
    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static func add(to router: Router<BasicRequestContext>) {
        router.get("/") { _, _ in redirect() }
        router.get("ui") { request, _ in
            // `/ui` without the slash would resolve the page's relative links elsewhere.
            request.uri.path.hasSuffix("/") ? serve(index) : redirect()
        }
        router.get("ui/:file") { _, context in
            let name = try context.parameters.require("file")
            guard let file = files[name] else {
                throw APIError(.notFound, code: .notFound, field: "file", message: "the dashboard has no file '\(name)'")
            }
            return serve(file)
        }
    }

    static func redirect() -> Response {
        Response(status: .found, headers: [.location: "/ui/"])
    }

    static func serve(_ file: File) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = file.contentType
        headers[.cacheControl] = "no-cache"
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.init("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: ResponseBody(byteBuffer: file.body))
    }
}
