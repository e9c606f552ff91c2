extension OpenAPIDocument {
    /// Security schemes, shared parameters, responses and schemas.
    static let components = #"""
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
                        method_not_allowed, too_many_subscriptions, unknown_campaign, campaign_state, insufficient_storage,
                        sender_busy, body_too_slow, too_many_connections]
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
