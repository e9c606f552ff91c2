extension OpenAPIDocument {
    /// API keys, subscriptions and senders.
    static let accountPaths = #"""
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
        """#
}
