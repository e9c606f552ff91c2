import Hummingbird
import NIOCore

/// `GET /openapi.yaml`: the API's OpenAPI document, with no key (it holds no secret).
enum OpenAPIRoutes {
    static let path = "openapi.yaml"
    static let body = ByteBuffer(bytes: OpenAPIDocument.bytes)

    static func add(to router: Router<BasicRequestContext>) {
        router.get(RouterPath(stringLiteral: path)) { _, _ in
            Response(status: .ok, headers: [.contentType: "application/yaml"], body: ResponseBody(byteBuffer: body))
        }
    }
}
