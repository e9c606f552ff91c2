extension OpenAPIDocument {
    /// Campaigns and the WhatsApp webhook.
    static let campaignPaths = #"""
          /v1/campaigns:
            post:
              tags: [campaigns]
              operationId: submitCampaign
              summary: Submit a campaign as JSON, NDJSON or CSV (scope submit)
              description: |
                The format follows `Content-Type`:

                - `application/json` (and any type not listed here): one `Campaign` object
                  (64 MiB, 1 000 000 recipients at most), streamed: `recipients` is read one
                  element at a time, members in any order. A recipient with an invalid number
                  is listed in `rejected` by its `index`; a malformed one is a 400 naming it
                  (`recipients[5].to`), and nothing of the request is kept.
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
                  description: "`body_too_large` (a JSON body over 64 MiB, or one of its members over 1 MiB) or `line_too_long` (an NDJSON or CSV line over 256 KiB; the campaign is cancelled)."
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
        """#
}
