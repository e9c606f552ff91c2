/// The OpenAPI 3.1 description of the HTTP API, served at `GET /openapi.yaml`.
///
/// The text lives here so that the binary carries it; `OpenAPIDocumentTests` checks it
/// against the router's routes and scopes, and `scripts/openapi-check` runs schemathesis
/// against a live `sluice serve` with it.
public enum OpenAPIDocument {
    public static let yaml = #"""
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

          /v1/keys:
            post:
              tags: [keys]
              operationId: createKey
              summary: Create an API key (scope admin)
              description: |
                The answer holds the key's secret (`key`); it is shown only here, and the journal
                keeps only its SHA-256. At most 1 000 keys are stored, revoked ones included.
              security:
                - apiKey: [admin]
              requestBody:
                required: true
                description: At most 4 KiB.
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/KeyCreation"}
                    example: {name: billing-service, scopes: [submit, read]}
              responses:
                "201":
                  description: Created.
                  headers:
                    Cache-Control:
                      schema: {const: no-store}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CreatedKey"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "409":
                  description: "`too_many_keys`: 1 000 keys are stored."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}
            get:
              tags: [keys]
              operationId: listKeys
              summary: List API keys, oldest first (scope admin); never their secrets
              security:
                - apiKey: [admin]
              responses:
                "200":
                  description: Every stored key, revoked ones included.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [keys]
                        properties:
                          keys:
                            type: array
                            items: {$ref: "#/components/schemas/Key"}
                        additionalProperties: false
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}

          /v1/keys/{id}:
            delete:
              tags: [keys]
              operationId: revokeKey
              summary: Revoke an API key (scope admin); it is refused with 401 from then on
              security:
                - apiKey: [admin]
              parameters:
                - name: id
                  in: path
                  required: true
                  schema: {type: string}
                  example: key_3f9a0c1b7d2e4a65
              responses:
                "204":
                  description: Revoked (revoking a revoked key again also answers 204).
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}

          /v1/subscriptions:
            post:
              tags: [subscriptions]
              operationId: createSubscription
              summary: Register a URL for status events (scope admin)
              description: |
                Events are POSTed from a durable outbox, in order per message, signed with
                `X-Sluice-Signature-256: sha256=<hex HMAC-SHA256 of the body with the secret>`,
                retried with backoff for up to 24 h. The answer holds the secret (generated as
                `whsec_…` when not given); it is shown only here. At most 100 subscriptions.
              security:
                - apiKey: [admin]
              requestBody:
                required: true
                description: At most 8 KiB.
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/SubscriptionCreation"}
                    example: {url: "https://hooks.example.com/sluice", states: [delivered, failed]}
              responses:
                "201":
                  description: Created.
                  headers:
                    Cache-Control:
                      schema: {const: no-store}
                    Location:
                      schema: {type: string}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CreatedSubscription"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "409":
                  description: "`too_many_subscriptions`: 100 subscriptions exist."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "413": {$ref: "#/components/responses/TooLarge"}
                "422":
                  description: "`unknown_campaign`: the filter names a campaign that does not exist."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}
            get:
              tags: [subscriptions]
              operationId: listSubscriptions
              summary: List subscriptions with their delivery counters (scope read); never their secrets
              security:
                - apiKey: [read]
              responses:
                "200":
                  description: Every subscription.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [subscriptions]
                        properties:
                          subscriptions:
                            type: array
                            items: {$ref: "#/components/schemas/Subscription"}
                        additionalProperties: false
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}

          /v1/subscriptions/{id}:
            parameters:
              - name: id
                in: path
                required: true
                schema: {type: string}
                example: sub_1
            get:
              tags: [subscriptions]
              operationId: getSubscription
              summary: One subscription with its delivery counters (scope read)
              security:
                - apiKey: [read]
              responses:
                "200":
                  description: The subscription.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Subscription"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}
            delete:
              tags: [subscriptions]
              operationId: deleteSubscription
              summary: Delete a subscription and the events still waiting for it (scope admin)
              security:
                - apiKey: [admin]
              responses:
                "204":
                  description: Deleted.
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}

          /v1/senders:
            get:
              tags: [senders]
              operationId: listSenders
              summary: List senders with their live rate (scope read)
              security:
                - apiKey: [read]
              responses:
                "200":
                  description: Every registered sender.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [senders]
                        properties:
                          senders:
                            type: array
                            items: {$ref: "#/components/schemas/LiveSender"}
                        additionalProperties: false
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}

          /v1/senders/{phone_number_id}:
            parameters:
              - $ref: "#/components/parameters/PhoneNumberID"
            put:
              tags: [senders]
              operationId: putSender
              summary: Register or update a sender (scope admin)
              description: |
                A change of tier reaches a running campaign within a second. At most 16 KiB.
                `app_secret`, `messaging_limit` and `group` keep their stored values when absent.
              security:
                - apiKey: [admin]
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/SenderRegistration"}
                    example: {tier_mps: 80, access_token: EAAGexample}
              responses:
                "200":
                  description: The sender as stored.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Sender"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "413": {$ref: "#/components/responses/TooLarge"}
            get:
              tags: [senders]
              operationId: getSender
              summary: One sender (scope read)
              security:
                - apiKey: [read]
              responses:
                "200":
                  description: The sender.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/LiveSender"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
            delete:
              tags: [senders]
              operationId: deleteSender
              summary: Delete a sender that has no live work (scope admin)
              description: |
                Refused with 409 `sender_busy` while any message of the sender is queued, in
                flight, waiting to retry or in doubt, or an upload for it is still arriving;
                checked in the deleting journal transaction. Its finished campaigns stay
                readable; webhooks naming the number are refused as for an unknown sender. The
                same number registered again gets a fresh start.
              security:
                - apiKey: [admin]
              parameters:
                - name: phone_number_id
                  in: path
                  required: true
                  description: The sender's WhatsApp phone_number_id.
                  schema: {type: string, pattern: "^[0-9]{1,64}$"}
                  example: "106540352240000"
              responses:
                "204":
                  description: Deleted.
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
                "409":
                  description: "`sender_busy`: the sender still has live work (the message says which)."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}

          /v1/senders/{phone_number_id}/pause:
            parameters:
              - $ref: "#/components/parameters/PhoneNumberID"
            post:
              tags: [senders]
              operationId: pauseSender
              summary: Pause a sender; its messages wait (scope admin)
              security:
                - apiKey: [admin]
              requestBody:
                required: false
                description: Optional, at most 4 KiB. Other members are ignored.
                content:
                  application/json:
                    schema:
                      type: object
                      properties:
                        reason:
                          type: string
                          minLength: 1
                          maxLength: 512
                          description: Shown in the sender's `pause_reason`; at most 512 UTF-8 bytes.
                    example: {reason: template under review}
              responses:
                "200":
                  description: The sender, paused.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Sender"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}
                "413": {$ref: "#/components/responses/TooLarge"}

          /v1/senders/{phone_number_id}/resume:
            parameters:
              - $ref: "#/components/parameters/PhoneNumberID"
            post:
              tags: [senders]
              operationId: resumeSender
              summary: Resume a paused sender (scope admin)
              security:
                - apiKey: [admin]
              responses:
                "200":
                  description: The sender, not paused.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Sender"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404": {$ref: "#/components/responses/NotFound"}

          /v1/campaigns:
            post:
              tags: [campaigns]
              operationId: submitCampaign
              summary: Submit a campaign as JSON, NDJSON or CSV (scope submit)
              description: |
                The format follows `Content-Type`:

                - `application/json` (and any type not listed here): one `Campaign` object, read
                  whole (64 MiB, 1 000 000 recipients at most). A bad recipient is listed in
                  `rejected` by its `index`.
                - `application/x-ndjson` (or `application/ndjson`): a header line `{"sender": …,
                  "message": {…}}`, then one recipient object per line; streamed.
                - `text/csv`: `sender`, `template` and `language` in the query, a header row with
                  a `to` column (the other columns, in order, fill the template body's `{{1}}`,
                  `{{2}}` …), then one recipient per row; streamed.

                Streamed bodies are journaled in batches as they arrive; lines are at most 256 KiB.
                A bad row is counted in `rejected_count` and listed in `rejected` by its `line`
                (the header is line 1), never fatal. The campaign is `receiving` while the body
                streams and `active` with the 202; an upload that does not complete leaves it
                `cancelled`, and nothing of it is sent.

                Options, in the JSON object, the NDJSON header line or the CSV query: `schedule_at`
                (nothing is sent before it), `expires_at` (what is not sent by then ends `expired`),
                both RFC 3339 with a zone or Unix seconds, at most 366 days ahead; `priority`
                (`transactional` campaigns of a sender go before its `marketing` ones, the
                default); `delivery` (`at_least_once`, the default: a message in doubt after a
                crash or a lost answer is resent when no status proves it sent within the settle
                window; `at_most_once`: it ends `unknown` instead).

                `Idempotency-Key`: the first 202 answer is stored with the SHA-256 of the request
                (format, CSV query and body) for 24 hours, per API key. The same key with the
                same request answers it again (`Idempotent-Replayed: true`) and journals nothing;
                with another request it is a 422 `idempotency_key_conflict`.
              security:
                - apiKey: [submit]
              parameters:
                - name: Idempotency-Key
                  in: header
                  required: false
                  schema:
                    type: string
                    minLength: 1
                    maxLength: 255
                    pattern: "^[\\x20-\\x7E]+$"
                  description: 1–255 printable ASCII characters.
                - name: sender
                  in: query
                  required: false
                  description: "`text/csv` only (required there): the sender's phone_number_id."
                  schema: {type: string, pattern: "^[0-9]{1,64}$"}
                - name: template
                  in: query
                  required: false
                  description: "`text/csv` only (required there): the template name."
                  schema: {type: string, minLength: 1, maxLength: 512}
                - name: language
                  in: query
                  required: false
                  description: "`text/csv` only (required there): the template's language code."
                  schema: {type: string, minLength: 1, maxLength: 32}
                - name: schedule_at
                  in: query
                  required: false
                  description: "`text/csv` only: see `Campaign.schedule_at` (RFC 3339 or Unix seconds)."
                  schema: {type: string}
                - name: expires_at
                  in: query
                  required: false
                  description: "`text/csv` only: see `Campaign.expires_at`."
                  schema: {type: string}
                - name: priority
                  in: query
                  required: false
                  description: "`text/csv` only."
                  schema: {$ref: "#/components/schemas/Priority"}
                - name: delivery
                  in: query
                  required: false
                  description: "`text/csv` only."
                  schema: {$ref: "#/components/schemas/Delivery"}
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/Campaign"}
                    example:
                      sender: "106540352242922"
                      message: {type: text, text: {body: "Hello {{1}}"}}
                      recipients: [{to: "966500000001", params: [Amal]}]
                  application/x-ndjson:
                    schema: {type: string}
                    example: |
                      {"sender": "106540352242922", "message": {"type": "text", "text": {"body": "Hello {{1}}"}}}
                      {"to": "966500000001", "params": ["Amal"]}
                  text/csv:
                    schema: {type: string}
                    example: |
                      to,name
                      966500000001,Amal
              responses:
                "202":
                  description: Accepted; every accepted message is journaled durably.
                  headers:
                    Idempotent-Replayed:
                      description: "`true` when this is the stored answer to an earlier request with the same `Idempotency-Key`."
                      schema: {const: "true"}
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CampaignReceipt"}
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "408":
                  description: "`body_too_slow`: the body arrived below the minimum rate (`--body-min-rate` bytes/s after the first `--client-idle-seconds`); the campaign is discarded, nothing of it sent."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "413":
                  description: "`body_too_large` (a JSON body over 64 MiB) or `line_too_long` (an NDJSON or CSV line over 256 KiB; the campaign is cancelled)."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "422":
                  description: "`unknown_sender` (not registered), `no_valid_recipients`, or `idempotency_key_conflict`."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "503": {$ref: "#/components/responses/JournalUnavailable"}
                "507":
                  description: "`insufficient_storage`: the journal's disk has less free space than the intake reserve (`--intake-reserve-mb`), or is full; nothing of this request was journaled, accepted messages are kept and sent. Retry when space is freed."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
            get:
              tags: [campaigns]
              operationId: listCampaigns
              summary: List campaigns in id order, paged (scope read)
              security:
                - apiKey: [read]
              parameters:
                - name: state
                  in: query
                  required: false
                  schema: {$ref: "#/components/schemas/CampaignState"}
                - name: limit
                  in: query
                  required: false
                  schema: {type: integer, minimum: 1, maximum: 500, default: 50}
                - name: after
                  in: query
                  required: false
                  description: The `next` of the previous page.
                  schema: {type: integer, minimum: 1, maximum: 18446744073709551615}
              responses:
                "200":
                  description: A page of campaigns.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [campaigns, next]
                        properties:
                          campaigns:
                            type: array
                            items: {$ref: "#/components/schemas/CampaignProgress"}
                          next:
                            description: Pass as `after` for the next page; null on the last page.
                            oneOf:
                              - {$ref: "#/components/schemas/CampaignID"}
                              - {type: "null"}
                        additionalProperties: false
                "400": {$ref: "#/components/responses/BadRequest"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}

          /v1/campaigns/{id}:
            get:
              tags: [campaigns]
              operationId: getCampaign
              summary: A campaign's state and counts (scope read)
              security:
                - apiKey: [read]
              parameters:
                - name: id
                  in: path
                  required: true
                  schema: {$ref: "#/components/schemas/CampaignID"}
              responses:
                "200":
                  description: The campaign.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CampaignProgress"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404":
                  description: "`not_found`: no such campaign (also for an id that is not a positive integer)."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}

          /v1/campaigns/{id}/pause:
            post:
              tags: [campaigns]
              operationId: pauseCampaign
              summary: Stop sending a campaign until it is resumed (scope submit)
              description: Messages on the wire finish; staged ones go back to the queue within one loop turn. Pausing a paused campaign changes nothing.
              security:
                - apiKey: [submit]
              parameters:
                - name: id
                  in: path
                  required: true
                  schema: {$ref: "#/components/schemas/CampaignID"}
              responses:
                "200":
                  description: The campaign after the change.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CampaignProgress"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404":
                  description: "`not_found`: no such campaign."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "409":
                  description: "`campaign_state`: the campaign is receiving or cancelled."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}

          /v1/campaigns/{id}/resume:
            post:
              tags: [campaigns]
              operationId: resumeCampaign
              summary: Send a paused campaign again (scope submit)
              description: Resuming an active campaign changes nothing.
              security:
                - apiKey: [submit]
              parameters:
                - name: id
                  in: path
                  required: true
                  schema: {$ref: "#/components/schemas/CampaignID"}
              responses:
                "200":
                  description: The campaign after the change.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CampaignProgress"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404":
                  description: "`not_found`: no such campaign."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "409":
                  description: "`campaign_state`: the campaign is receiving or cancelled."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}

          /v1/campaigns/{id}/cancel:
            post:
              tags: [campaigns]
              operationId: cancelCampaign
              summary: End a campaign (scope submit)
              description: Nothing more is sent; its unsent messages end `cancelled` (kept and counted). A status that proves an in-doubt one was sent still counts.
              security:
                - apiKey: [submit]
              parameters:
                - name: id
                  in: path
                  required: true
                  schema: {$ref: "#/components/schemas/CampaignID"}
              responses:
                "200":
                  description: The campaign after the change.
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/CampaignProgress"}
                "401": {$ref: "#/components/responses/Unauthorized"}
                "403": {$ref: "#/components/responses/Forbidden"}
                "404":
                  description: "`not_found`: no such campaign."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "409":
                  description: "`campaign_state`: the campaign is receiving (its upload has not completed)."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}

          /webhooks/whatsapp:
            get:
              tags: [webhooks]
              operationId: verifyWebhook
              summary: Meta's subscription handshake
              description: Answers `hub.challenge` when `hub.verify_token` matches `--webhook-verify-token`.
              security: []
              parameters:
                - name: hub.mode
                  in: query
                  required: true
                  schema: {const: subscribe}
                - name: hub.verify_token
                  in: query
                  required: true
                  schema: {type: string}
                - name: hub.challenge
                  in: query
                  required: true
                  schema: {type: string}
              responses:
                "200":
                  description: The challenge, as given.
                  content:
                    text/plain:
                      schema: {type: string}
                "400":
                  description: "`invalid_field`: no `hub.mode=subscribe` or no `hub.challenge`."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "403":
                  description: "`forbidden`: the verify token does not match, or none is configured."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
            post:
              tags: [webhooks]
              operationId: receiveWebhook
              summary: Status webhooks from WhatsApp, signed with the senders' app secret
              description: |
                Records `entry[].changes[].value.statuses[]` matched by `biz_opaque_callback_data`
                (Sluice's message id). Statuses only move forward (`sent < delivered < read`,
                `failed` final); duplicates and late ones are ignored. Every number the body names
                (`metadata.phone_number_id`) must be a registered sender with an `app_secret`, and
                `X-Hub-Signature-256` must be the HMAC-SHA256 of the raw body with it; otherwise
                401 and nothing is recorded. At most 1 MiB and 10 000 statuses.
              security: []
              parameters:
                - name: X-Hub-Signature-256
                  in: header
                  required: false
                  description: "`sha256=<hex HMAC-SHA256(app secret, raw body)>`; needed when the body holds statuses."
                  schema: {type: string}
              requestBody:
                required: true
                content:
                  application/json:
                    schema: {$ref: "#/components/schemas/WebhookBody"}
              responses:
                "200":
                  description: Recorded.
                  content:
                    application/json:
                      schema:
                        type: object
                        required: [applied, ignored]
                        properties:
                          applied: {type: integer, minimum: 0, description: Statuses that moved a message forward.}
                          ignored: {type: integer, minimum: 0, description: "Duplicates, late or unknown statuses, and statuses without Sluice's callback data."}
                        additionalProperties: false
                "400":
                  description: "`malformed_webhook`: the body is not a webhook (`field` names the part)."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "401":
                  description: "`unknown_sender`, `no_app_secret` or `bad_signature`; nothing was recorded."
                  content:
                    application/json:
                      schema: {$ref: "#/components/schemas/Error"}
                "413": {$ref: "#/components/responses/TooLarge"}

        components:
          securitySchemes:
            apiKey:
              type: http
              scheme: bearer
              bearerFormat: sk_<id>_<secret>
              description: |
                `Authorization: Bearer <key>`: an API key made with `POST /v1/keys`
                (`sk_key_<16 hex>_<64 hex>`), or the bootstrap admin key (`$SLUICE_ADMIN_KEY` or
                `<data-dir>/admin.key`), which holds every scope. A key holds one or more scopes,
                named on each operation; they are independent (`admin` does not include `read`):

                - `admin`: API keys, and registering, pausing and resuming senders;
                - `submit`: campaign intake (`POST /v1/campaigns`) and pause, resume, cancel;
                - `read`: senders, campaigns and `/metrics`.

          parameters:
            PhoneNumberID:
              name: phone_number_id
              in: path
              required: true
              description: The sender's WhatsApp phone_number_id.
              schema: {type: string, pattern: "^[0-9]{1,64}$"}
              example: "106540352242922"

          responses:
            BadRequest:
              description: "`malformed_json` (not a JSON object) or `invalid_field` (`field` names it)."
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            Unauthorized:
              description: "`unauthorized`: no key, or a wrong or revoked one."
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            Forbidden:
              description: "`insufficient_scope`: the key lacks the operation's scope (the message names it)."
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            NotFound:
              description: "`not_found`: no such key, sender or campaign (`field` names the path parameter)."
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            TooLarge:
              description: "`body_too_large`: the body is over the operation's limit."
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}
            JournalUnavailable:
              description: "`journal_unavailable`: the journal could not be read or written."
              content:
                application/json:
                  schema: {$ref: "#/components/schemas/Error"}

          schemas:
            SubscriptionCreation:
              type: object
              required: [url]
              properties:
                url: {type: string, minLength: 1, maxLength: 2048, description: "An absolute http:// or https:// URL without credentials or #fragment."}
                secret: {type: string, minLength: 16, maxLength: 512, pattern: "^[!-~]+$", description: Printable ASCII without spaces; generated when left out.}
                campaign: {type: string, pattern: "^[1-9][0-9]*$", description: Only this campaign's events.}
                states:
                  type: array
                  minItems: 1
                  items: {$ref: "#/components/schemas/ReportedState"}
                  description: Only events that move a message to one of these states.

            ReportedState:
              type: string
              enum: [sent, delivered, read, failed, unknown]

            Subscription:
              type: object
              required: [id, url, filter, created_at, deliveries]
              properties:
                id: {type: string, pattern: "^sub_[0-9]+$"}
                url: {type: string}
                filter:
                  type: object
                  required: [campaign, states]
                  properties:
                    campaign: {type: [string, "null"]}
                    states:
                      oneOf:
                        - type: "null"
                        - type: array
                          items: {$ref: "#/components/schemas/ReportedState"}
                  additionalProperties: false
                created_at: {type: string, format: date-time}
                deliveries:
                  type: object
                  required: [pending, delivered, failed_attempts, dead]
                  properties:
                    pending: {type: integer, minimum: 0, description: Events waiting to be delivered.}
                    delivered: {type: integer, minimum: 0}
                    failed_attempts: {type: integer, minimum: 0}
                    dead: {type: integer, minimum: 0, description: Events given up after 24 h of failures.}
                  additionalProperties: false
              additionalProperties: false

            CreatedSubscription:
              description: A `Subscription` and its `secret`, shown only in this answer.
              type: object
              required: [id, url, filter, created_at, deliveries, secret]
              properties:
                id: {$ref: "#/components/schemas/Subscription/properties/id"}
                url: {type: string}
                filter: {$ref: "#/components/schemas/Subscription/properties/filter"}
                created_at: {type: string, format: date-time}
                deliveries: {$ref: "#/components/schemas/Subscription/properties/deliveries"}
                secret: {type: string}
              additionalProperties: false

            Error:
              type: object
              required: [error]
              properties:
                error:
                  type: object
                  required: [status, code, message]
                  properties:
                    status: {type: integer, minimum: 400, maximum: 599, description: The HTTP status again.}
                    code:
                      type: string
                      enum: [malformed_json, invalid_field, unauthorized, insufficient_scope, forbidden, not_found,
                        too_many_keys, body_too_large, line_too_long, unknown_sender, no_valid_recipients,
                        idempotency_key_conflict, malformed_webhook, no_app_secret, bad_signature, journal_unavailable,
                        method_not_allowed, too_many_subscriptions, unknown_campaign, campaign_state, insufficient_storage]
                    field: {type: string, description: "The field, header, query or path parameter at fault, e.g. `recipients[3].to`."}
                    message: {type: string, description: For people.}
                  additionalProperties: false
              additionalProperties: false
              example:
                error: {status: 400, code: invalid_field, field: tier_mps, message: tier_mps must be between 1 and 1000 messages per second}

            Scope:
              type: string
              enum: [admin, submit, read]

            KeyCreation:
              type: object
              required: [name, scopes]
              properties:
                name:
                  type: string
                  minLength: 1
                  maxLength: 128
                  description: A label, 1–128 UTF-8 bytes once trimmed of white space, no control characters.
                scopes:
                  type: array
                  minItems: 1
                  items: {$ref: "#/components/schemas/Scope"}

            Key:
              type: object
              required: [id, name, scopes, created_at, revoked_at]
              properties:
                id: {type: string, pattern: "^key_[0-9a-f]{16}$"}
                name: {type: string}
                scopes:
                  type: array
                  items: {$ref: "#/components/schemas/Scope"}
                created_at: {type: string, format: date-time}
                revoked_at:
                  oneOf:
                    - {type: string, format: date-time}
                    - {type: "null"}

            CreatedKey:
              allOf:
                - {$ref: "#/components/schemas/Key"}
                - type: object
                  required: [key]
                  properties:
                    key:
                      type: string
                      pattern: "^sk_key_[0-9a-f]{16}_[0-9a-f]{64}$"
                      description: The bearer token; shown only in this answer.

            SenderRegistration:
              type: object
              required: [tier_mps, access_token]
              properties:
                tier_mps: {type: number, minimum: 1, maximum: 1000, description: Messages per second.}
                burst: {type: integer, minimum: 1, maximum: 1000, default: 1}
                access_token:
                  type: string
                  minLength: 1
                  maxLength: 4096
                  pattern: "^[!-~]+$"
                  description: The Cloud API access token, printable ASCII without spaces.
                app_secret:
                  type: string
                  minLength: 1
                  maxLength: 256
                  description: The Meta app secret that signs this number's status webhooks (at most 256 UTF-8 bytes).
                messaging_limit:
                  description: |
                    WhatsApp's messaging limit: unique recipients per rolling 24 h for the sender's
                    group. `"unlimited"` or null removes it. Messages to new recipients over it
                    wait (no attempt used) until the window has room.
                  oneOf:
                    - {type: integer, enum: [250, 2000, 10000, 100000]}
                    - {type: string, enum: [unlimited]}
                    - {type: "null"}
                group:
                  description: |
                    Senders with the same group share one messaging-limit window (a business
                    portfolio), capped by the smallest limit among them; null: the sender alone.
                  oneOf:
                    - {type: string, pattern: "^[A-Za-z0-9._-]{1,64}$"}
                    - {type: "null"}

            Sender:
              type: object
              required: [phone_number_id, tier_mps, burst, paused, has_app_secret, messaging_limit]
              properties:
                phone_number_id: {type: string}
                tier_mps: {type: number}
                burst: {type: integer}
                paused: {type: boolean}
                pause_reason: {type: string}
                has_app_secret: {type: boolean}
                messaging_limit:
                  type: [integer, "null"]
                  enum: [250, 2000, 10000, 100000, null]
                  description: Unique recipients per rolling 24 h; null when unlimited.
                group: {type: string, description: The sender group sharing its messaging-limit window.}

            LiveSender:
              description: A sender with its live figures (present once the dispatcher has loaded it).
              allOf:
                - {$ref: "#/components/schemas/Sender"}
                - type: object
                  properties:
                    effective_mps: {type: number, description: The rate paced at now, below the tier after throttles.}
                    staged: {type: integer, minimum: 0, description: Messages paged in and waiting for a send slot.}
                    in_flight: {type: integer, minimum: 0, description: Sends on the wire.}
                    in_flight_limit:
                      type: integer
                      minimum: 0
                      description: Most sends it may have on the wire now, sized from its rate and the endpoint's p99 answer time (Little's law).
                    unique_recipients_24h:
                      type: integer
                      minimum: 0
                      description: Unique recipients in the group's messaging-limit window (0 when unlimited).
                    limited_until:
                      type: [string, "null"]
                      format: date-time
                      description: While the messaging limit is reached, when a new recipient may be sent to again.
                    send_rate: {type: number, minimum: 0, description: Messages sent per second now, smoothed over about two seconds.}
                    endpoint_error:
                      type: [string, "null"]
                      description: While the endpoint cannot be reached (connect, DNS, TLS handshake), why; its messages wait and the sender retries with backoff.

            Message:
              description: |
                A Cloud API message object without `messaging_product` and `to`. Text bodies and
                template parameters may hold `{{1}}` … `{{100}}`, filled from each recipient's
                `params`. Other types (image, interactive, …) are passed through when the object
                holds a member named by `type`.
              anyOf:
                - type: object
                  required: [type, text]
                  properties:
                    type: {const: text}
                    text:
                      type: object
                      required: [body]
                      properties:
                        body: {type: string}
                - type: object
                  required: [type, template]
                  properties:
                    type: {const: template}
                    template:
                      type: object
                      required: [name, language]
                      properties:
                        name: {type: string, minLength: 1}
                        language:
                          type: object
                          required: [code]
                          properties:
                            code: {type: string}
                        components:
                          type: array
                          items:
                            type: object
                            required: [type]
                            properties:
                              type: {type: string}
                              parameters: {type: array}

            Recipient:
              type: object
              required: [to]
              properties:
                to:
                  type: string
                  pattern: "^[0-9]{7,15}$"
                  description: The recipient's number, country code first, digits only. Others are listed in `rejected`.
                params:
                  type: array
                  items: {type: string, maxLength: 1024}
                  description: One value per placeholder of the message.

            Campaign:
              type: object
              required: [sender, message, recipients]
              properties:
                sender: {type: string, pattern: "^[0-9]{1,64}$", description: A registered sender's phone_number_id.}
                message: {$ref: "#/components/schemas/Message"}
                recipients:
                  type: array
                  minItems: 1
                  maxItems: 1000000
                  items: {$ref: "#/components/schemas/Recipient"}
                schedule_at: {$ref: "#/components/schemas/Time", description: Nothing is sent before it.}
                expires_at: {$ref: "#/components/schemas/Time", description: "What is not sent by then ends `expired`; after `schedule_at`."}
                priority: {$ref: "#/components/schemas/Priority"}
                delivery: {$ref: "#/components/schemas/Delivery"}

            Time:
              description: RFC 3339 with a zone, or Unix seconds; in the future, at most 366 days ahead.
              oneOf:
                - {type: string, format: date-time}
                - {type: number, minimum: 0}

            Priority:
              type: string
              enum: [transactional, marketing]
              description: "`transactional` campaigns of a sender go before its `marketing` ones (the default)."

            Delivery:
              type: string
              enum: [at_least_once, at_most_once]
              description: "What happens to a message in doubt: resent (`at_least_once`, the default) or ended `unknown`."

            CampaignID:
              type: string
              pattern: "^[1-9][0-9]*$"
              description: A positive integer, as a string.
              example: "1"

            CampaignState:
              type: string
              enum: [receiving, scheduled, active, paused, done, cancelled]

            CampaignReceipt:
              type: object
              required: [id, accepted, rejected_count, rejected]
              properties:
                id: {$ref: "#/components/schemas/CampaignID"}
                accepted: {type: integer, minimum: 0}
                rejected_count: {type: integer, minimum: 0}
                rejected:
                  type: array
                  description: The first rejected recipients, by `index` (JSON) or `line` (NDJSON, CSV).
                  items:
                    type: object
                    required: [reason]
                    properties:
                      index: {type: integer, minimum: 0}
                      line: {type: integer, minimum: 1}
                      reason: {type: string}
                    oneOf:
                      - required: [index]
                      - required: [line]
                    additionalProperties: false
              additionalProperties: false

            CampaignProgress:
              type: object
              required: [id, state, total, counts, created_at, priority, delivery, schedule_at, expires_at, unsent, send_rate, eta_seconds, waiting_for]
              properties:
                id: {$ref: "#/components/schemas/CampaignID"}
                sender: {type: string, description: The sender's phone_number_id.}
                state: {$ref: "#/components/schemas/CampaignState"}
                total: {type: integer, minimum: 0}
                created_at: {type: string, format: date-time}
                priority: {$ref: "#/components/schemas/Priority"}
                delivery: {$ref: "#/components/schemas/Delivery"}
                schedule_at: {oneOf: [{type: string, format: date-time}, {type: "null"}]}
                expires_at: {oneOf: [{type: string, format: date-time}, {type: "null"}]}
                unsent: {type: integer, minimum: 0, description: "Messages that may still be sent: queued, in flight, waiting to retry or in doubt."}
                send_rate: {type: number, minimum: 0, description: "Messages of this campaign sent per second now: an exponential average over about two seconds, so it falls toward 0 within seconds of the campaign's last send (a finished campaign's rate is its sent count over its duration)."}
                eta_seconds:
                  description: Seconds until nothing is left to send, from the sender's current rate and what its other campaigns have queued ahead (and the wait for `schedule_at`); null when done, paused or unknown.
                  oneOf: [{type: number, minimum: 0}, {type: "null"}]
                waiting_for:
                  description: What holds the campaign back, if anything.
                  oneOf: [{type: string, enum: [paused, sender_paused, scheduled, messaging_limit, endpoint_unreachable]}, {type: "null"}]
                counts:
                  type: object
                  required: [queued, in_flight, sent, failed, in_doubt, delivered, read, unknown, expired, cancelled]
                  description: "`queued` includes messages waiting to retry; `sent` includes delivered and read ones; `unknown`: sent, and no status by the deadline (or in doubt in an `at_most_once` campaign); `expired`: not sent by `expires_at`; `cancelled`: not sent when the campaign was cancelled."
                  properties:
                    expired: {type: integer, minimum: 0}
                    cancelled: {type: integer, minimum: 0}
                    unknown: {type: integer, minimum: 0}
                    queued: {type: integer, minimum: 0}
                    in_flight: {type: integer, minimum: 0}
                    sent: {type: integer, minimum: 0}
                    failed: {type: integer, minimum: 0}
                    in_doubt: {type: integer, minimum: 0}
                    delivered: {type: integer, minimum: 0}
                    read: {type: integer, minimum: 0}
                  additionalProperties: false
              additionalProperties: false

            WebhookBody:
              type: object
              required: [entry]
              properties:
                object: {description: "`whatsapp_business_account`; not read."}
                entry:
                  type: array
                  items:
                    type: object
                    required: [changes]
                    properties:
                      changes:
                        type: array
                        items:
                          type: object
                          required: [value]
                          properties:
                            value:
                              type: object
                              description: Changes without `statuses` (incoming messages, …) are ignored.
                              dependentSchemas:
                                statuses:
                                  required: [metadata]
                                  properties:
                                    metadata:
                                      type: object
                                      required: [phone_number_id]
                                      properties:
                                        phone_number_id: {type: string}
                              properties:
                                statuses:
                                  type: array
                                  maxItems: 10000
                                  items:
                                    type: object
                                    required: [status]
                                    properties:
                                      status: {type: string, description: "`sent`, `delivered`, `read` or `failed` are recorded; others are ignored."}
                                      biz_opaque_callback_data: {description: "Sluice's message id, a string; a status without it is ignored."}
                                      id: {description: The wamid, a string.}
                                      errors: {description: "`[{\"code\": …, \"title\": …}]` for a failed status; the first is recorded."}
        """#
}
