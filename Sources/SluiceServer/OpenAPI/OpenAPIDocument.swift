/// The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.yaml`.
///
/// The text lives here so that the binary carries it; `OpenAPIDocumentTests` checks it
/// against the router's routes and scopes, and `scripts/openapi-check` runs schemathesis
/// against a live `sluice serve` with it.
public enum OpenAPIDocument {
    /// The whole document: the parts below, in order, a blank line between them.
    public static let yaml = [overview, accountPaths, campaignPaths, components].joined(separator: "\n\n")

    /// Info, servers, tags, security, and the health, metrics and document routes.
    static let overview = #"""
        openapi: 3.1.0
        info:
          title: Sluice
          version: "1"
          summary: Outbound WhatsApp message dispatcher
          description: |
            The HTTP API of `sluice serve`: API keys, sending numbers (senders), campaigns and
            WhatsApp status webhooks, plus health, readiness and Prometheus metrics.

            Every `/v1` route and `/metrics` need `Authorization: Bearer <key>` holding the
            route's scope (see the `apiKey` security scheme): 401 without a valid key, 403
            without the scope. Bad input gets a 4xx with an `Error` body that names the problem,
            and changes nothing.

            A client address may hold `--max-connections-per-client` connections open (256):
            a request on one more is answered 429 `too_many_connections` and its connection
            closed, whatever the route.
          license:
            name: Apache-2.0
            identifier: Apache-2.0
        servers:
          - url: http://127.0.0.1:8080
            description: the default `--listen` address
        tags:
          - name: keys
          - name: senders
          - name: campaigns
          - name: webhooks
          - name: subscriptions
          - name: operations
        security:
          - apiKey: []

        paths:
          /healthz:
            get:
              tags: [operations]
              operationId: getHealth
              summary: 200 while the process serves
              security: []
              responses:
                "200":
                  description: The process serves.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status]
                        properties:
                          status: {const: ok}
                        additionalProperties: false

          /readyz:
            get:
              tags: [operations]
              operationId: getReadiness
              summary: 200 while the dispatch loop runs and the journal answers, else 503
              security: []
              responses:
                "200":
                  description: Ready.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status]
                        properties:
                          status: {const: ready}
                        additionalProperties: false
                "503":
                  description: The dispatch loop is not running or the journal does not answer.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [status]
                        properties:
                          status: {const: not_ready}
                        additionalProperties: false

          /metrics:
            get:
              tags: [operations]
              operationId: getMetrics
              summary: Prometheus text format (scope read)
              description: HTTP request metrics, then the dispatcher's own (`sluice_*`), read at scrape time.
              security:
                - apiKey: [read]
              responses:
                "200":
                  description: The metrics, `text/plain; version=0.0.4`.
                  content:
                    text/plain:
                      schema: {type: string}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}

          /openapi.yaml:
            get:
              tags: [operations]
              operationId: getOpenAPIDocument
              summary: This document
              security: []
              responses:
                "200":
                  description: The OpenAPI 3.1 document of this API.
                  content:
                    application/yaml:
                      schema: {type: string}
        """#
}
