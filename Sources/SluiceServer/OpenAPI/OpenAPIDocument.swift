/// The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.yaml`.
///
/// The text is `openapi.yaml` beside this file, embedded at build time so that the binary
/// carries it as it is; `OpenAPIDocumentTests` checks it against the router's routes, scopes,
/// error codes and states, and `scripts/openapi-check` runs schemathesis against a live
/// `sluice serve` with it.
public enum OpenAPIDocument {
    /// The document's bytes, as in the repository.
    public static let bytes: [UInt8] = PackageResources.openapi_yaml

    /// The whole document.
    public static let yaml = String(decoding: bytes, as: UTF8.self)
}
